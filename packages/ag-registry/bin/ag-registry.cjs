#!/usr/bin/env node
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, so that node starts it without its ES module loader. */
// The bundled tool, one CommonJS file, run with the V8 code cache that npm ci's build took of it under
// this machine's node (tools/build/bundle-bins.mjs): a start compiles only what --help did not run.
require('../../../tools/build/sea-main.cjs').runBuiltTool(require('node:path').join(__dirname, '..', 'dist', 'ag-registry.cjs'));
