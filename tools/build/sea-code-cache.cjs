'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: the only format a Node.js 24 single executable's main script runs in. */
// Makes the V8 code cache of one tool, run by the Node.js that will run it
// with the cache: for the single executable the Node.js binary it is built
// from (the arm64 one under qemu-user: V8 rejects a cache another
// architecture made), for bin/ag-<tool>.cjs this machine's node
// (tools/build/bundle-bins.mjs):
//
//   node sea-code-cache.cjs NAME SOURCE.js OUT.cache -- ARGS…
//
// It runs the tool once with ARGS (--help: the parser and everything a
// command's options need), its stdout thrown away, then writes the cache of
// every function compiled so far. A cache taken right after compiling would
// hold the top level only; this one also spares the functions a start runs.
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { resolve } = require('node:path');
const { runTool } = require('./sea-main.cjs');

const [name, sourceFile, out, separator, ...args] = process.argv.slice(2);
if (name === undefined || sourceFile === undefined || out === undefined || separator !== '--') {
  process.stderr.write('usage: node sea-code-cache.cjs NAME SOURCE.js OUT.cache -- ARGS…\n');
  process.exit(2);
}
const file = resolve(sourceFile);
process.argv = [process.execPath, name, ...args];
process.stdout.write = () => true;
// ASCII (the build checks), read as latin1 as the executable and bin/ag-<tool>.cjs read it: the same string, or V8 rejects the cache.
let script;
process.on('beforeExit', () => {
  // Under a temporary name, then renamed: a tool starting meanwhile reads the old cache or the new one, never half of one.
  writeFileSync(`${out}.tmp`, script.createCachedData());
  renameSync(`${out}.tmp`, out);
  process.exitCode = 0;
});
script = runTool({ name, source: readFileSync(file, 'latin1'), cachedData: undefined, require: createRequire(file), filename: file });
