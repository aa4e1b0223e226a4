'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: the only format a Node.js 24 single executable's main script runs in. */
// Makes the V8 code cache of one tool for the single executable, run by the
// Node.js binary the executable is built from (the arm64 one under
// qemu-user: V8 rejects a cache another architecture made):
//
//   node sea-code-cache.cjs NAME SOURCE.js OUT.cache -- ARGS…
//
// It runs the tool once with ARGS (--help: the parser and everything a
// command's options need), its stdout thrown away, then writes the cache of
// every function compiled so far. A cache taken right after compiling would
// hold the top level only; this one also spares the functions a start runs.
const { readFileSync, writeFileSync } = require('node:fs');
const { compileTool } = require('./sea-main.cjs');

const [name, sourceFile, out, separator, ...args] = process.argv.slice(2);
if (name === undefined || sourceFile === undefined || out === undefined || separator !== '--') {
  process.stderr.write('usage: node sea-code-cache.cjs NAME SOURCE.js OUT.cache -- ARGS…\n');
  process.exit(2);
}
const script = compileTool(name, readFileSync(sourceFile, 'utf8'), undefined);
process.argv = [process.execPath, name, ...args];
process.stdout.write = () => true;
process.on('beforeExit', () => {
  writeFileSync(out, script.createCachedData());
  process.exitCode = 0;
});
const toolModule = { exports: {} };
script.runInThisContext()(toolModule.exports, require, toolModule, process.execPath, __dirname);
