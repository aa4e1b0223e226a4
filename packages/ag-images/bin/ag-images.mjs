#!/usr/bin/env node
// The bundled tool, split at each import() so that a start loads only the command line's code
// (npm ci builds it: tools/build/bundle-bins.mjs; dist/ag-images.mjs is the same in one file).
import '../dist/split/ag-images.mjs';
