'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: the only format a Node.js 24 single executable's main script runs in. */
// Makes the V8 code cache of one tool, run by the Node.js that will run it
// with the cache: for the single executable the Node.js binary it is built
// from (the arm64 one under qemu-user: V8 rejects a cache another
// architecture made), for bin/ag-<tool>.cjs this machine's node
// (tools/build/bundle-bins.mjs):
//
//   node sea-code-cache.cjs NAME SOURCE.js OUT.cache [-- ARGS…]
//
// It runs the tool once, its output thrown away, then writes the cache of
// every function compiled so far. A cache taken right after compiling would
// hold the top level only; this one also spares the functions a start runs.
// Which run, unless ARGS name one: the tool's training run (below).
const { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { setFlagsFromString } = require('node:v8');
const { runTool } = require('./sea-main.cjs');

/**
 * What each tool's cache is taken after, and the exit code that run ends with (anything else fails the build:
 * the run no longer reaches what it was chosen for). Most tools: `--help`, which builds the parser and every
 * command's options. ag-images: a pull, whose start is what its benchmark against skopeo counts (a pull with
 * nothing to do as the executable took 170 ms with the --help cache, 153 ms with this one; by node 198 and
 * 181 ms; median of 30 interleaved runs each; the repository's README, Start-up, step 8). It reaches a
 * registry address where a server in this process accepts and drops every connection: the pull's options, the
 * trust store, undici and its pools, a TLS connection started are compiled; the pull then fails as
 * unreachable, with no retry and nothing fetched. It reads its document from a file (a pipeline's pull reads
 * one; and a build's stdin may be a pipe no one closes).
 */
function trainingRun(name, scratch, address) {
  if (name !== 'ag-images') return { args: ['--help'], exitCode: 0 };
  const document = join(scratch, 'document.json');
  // The smallest document ag takes (packages/core/src/document: API_VERSION, the kind Cluster).
  writeFileSync(document, JSON.stringify({ apiVersion: 'ag/v1alpha1', kind: 'Cluster' }));
  const args = ['pull', `${address}/cache/training:1`, '--in', document, '--layout', join(scratch, 'images'), '--retries', '0', '--retry-window', '0s', '--quiet'];
  return { args, exitCode: 4 };
}

/**
 * The V8 flags a run may have set that a start does not have, back at their defaults before the cache is taken:
 * a cache carries a hash of the flags it was made under, and V8 rejects it under others. core's loadUndici sets
 * `--no-wasm-tier-up --no-wasm-dynamic-tiering` (packages/core/src/lazy-modules.ts, LLHTTP_V8_FLAGS) when a pull
 * loads undici; both are on by default in Node.js 20's and 24's V8.
 */
const START_FLAGS = '--wasm-tier-up --wasm-dynamic-tiering';

const [name, sourceFile, out, separator, ...explicitArgs] = process.argv.slice(2);
if (name === undefined || sourceFile === undefined || out === undefined || (separator !== undefined && separator !== '--')) {
  process.stderr.write('usage: node sea-code-cache.cjs NAME SOURCE.js OUT.cache [-- ARGS…]\n');
  process.exit(2);
}
const file = resolve(sourceFile);
const scratch = mkdtempSync(join(tmpdir(), 'ag-code-cache-'));
// The address the training pull reaches: connections accepted and dropped at once, by a server that keeps no run alive.
const dropper = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1', () => {
  dropper.unref();
  const training = explicitArgs.length > 0 ? { args: explicitArgs, exitCode: undefined } : trainingRun(name, scratch, `127.0.0.1:${dropper.address().port}`);
  process.argv = [process.execPath, name, ...training.args];
  // The tool's output is thrown away; what it said on stderr is shown if its run ends otherwise than expected.
  let said = '';
  const writeStderr = process.stderr.write.bind(process.stderr);
  process.stdout.write = () => true;
  process.stderr.write = (chunk) => ((said += String(chunk)), true);
  // ASCII (the build checks), read as latin1 as the executable and bin/ag-<tool>.cjs read it: the same string, or V8 rejects the cache.
  const script = runTool({ name, source: readFileSync(file, 'latin1'), cachedData: undefined, require: createRequire(file), filename: file });
  process.on('beforeExit', () => {
    rmSync(scratch, { recursive: true, force: true });
    const exitCode = process.exitCode ?? 0;
    if (training.exitCode !== undefined && exitCode !== training.exitCode) {
      writeStderr(`${name} ${training.args.join(' ')} exited ${exitCode}, not ${training.exitCode}, making its code cache:\n${said}`);
      process.exitCode = 1;
      return;
    }
    setFlagsFromString(START_FLAGS);
    // Under a temporary name, then renamed: a tool starting meanwhile reads the old cache or the new one, never half of one.
    writeFileSync(`${out}.tmp`, script.createCachedData());
    renameSync(`${out}.tmp`, out);
    process.exitCode = 0;
  });
});
