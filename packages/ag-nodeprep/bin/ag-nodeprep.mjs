#!/usr/bin/env node
// The bundled tool (npm ci builds it: tools/build/bundle-bins.mjs).
import '../dist/ag-nodeprep.mjs';
