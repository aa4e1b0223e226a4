'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS: the only format a Node.js 24 single executable's main script runs in. */
// The main script of `ag`, the one single executable (a Node.js SEA) that
// holds every ag tool. It picks the tool by the name it was run as
// (`ag-bundle`, a link to `ag`) or by its first argument (`ag bundle …`,
// `ag ag-bundle …`), then runs that tool's code, an asset of the executable,
// with the V8 code cache the build made for it by running the tool once
// under this same Node.js. Only the chosen tool's code is compiled: the
// others stay bytes in the file.
//
// Outside an executable this file is the one loader of a tool's CommonJS
// bundle with its code cache: sea-code-cache.cjs uses it at build time (so
// that the source V8 hashes is the same byte for byte), and each tool's
// bin/ag-<tool>.cjs uses it to run dist/ag-<tool>.cjs with the cache npm ci's
// build made beside it under this machine's Node.js (runBuiltTool).
const { basename, dirname, join, resolve } = require('node:path');
const vm = require('node:vm');

/** Compiles a tool's bundle as CommonJS does (the same wrapper at build time and at run time, or V8 rejects the cache). */
function compileTool(name, source, cachedData) {
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: `${name}.js`,
    cachedData,
    // ag-fetch imports a few modules on demand: let import() reach Node's own loader.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
}

/**
 * Node.js (20 and 24) flags vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER (compileTool's import() route) as experimental
 * on its first use, with a warning on stderr an operator can do nothing about: that one warning is dropped,
 * every other goes through.
 */
function quietLoaderWarning() {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && text.includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    return emitWarning.call(process, warning, ...rest);
  };
}

/** AG_NO_CODE_CACHE=1: compile from source, to measure what the cache buys (npm run bench:startup). */
const codeCacheWanted = () => process.env.AG_NO_CODE_CACHE !== '1';

/**
 * Runs a tool's bundle as a CommonJS module whose file is `filename`, with `cachedData` when given.
 * A cache V8 rejects (another Node.js or V8 flags made it) costs only the compiling it would have
 * spared: V8 then compiles from source. Returns the script, whose cache sea-code-cache.cjs takes.
 */
function runTool({ name, source, cachedData, require: toolRequire, filename }) {
  const script = compileTool(name, source, cachedData);
  if (process.env.AG_DEBUG_CODE_CACHE === '1') {
    process.stderr.write(`ag: ${name} code cache ${cachedData === undefined ? 'not used' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
  }
  const toolModule = { exports: {} };
  script.runInThisContext()(toolModule.exports, toolRequire, toolModule, filename, dirname(filename));
  return script;
}

/**
 * What bin/ag-<tool>.cjs runs: `file` (dist/ag-<tool>.cjs, tools/build/bundle-bins.mjs) with the
 * code cache beside it (`file`.cache), if there is one. The source is ASCII (the build checks), read
 * as latin1 at build time and here alike.
 */
function runBuiltTool(file) {
  const { readFileSync } = require('node:fs');
  let cachedData;
  if (codeCacheWanted()) {
    try {
      cachedData = readFileSync(`${file}.cache`);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
  }
  const source = readFileSync(file, 'latin1');
  quietLoaderWarning();
  runTool({ name: basename(file, '.cjs'), source, cachedData, require: require('node:module').createRequire(file), filename: file });
}

function usage(manifest) {
  return [
    `ag: the ag tools in one executable (Node.js ${manifest.node}, linux/${manifest.arch})`,
    '',
    'Run a tool by its name, a link to this file, or by naming it first:',
    '  ag-bundle verify bundle.tar --key PUB.pem',
    '  ag bundle verify bundle.tar --key PUB.pem',
    '',
    `Tools: ${manifest.tools.join(', ')}`,
    '',
    '  ag --link DIR    make DIR/ag-<tool> links to this file (then put DIR on PATH)',
    '  ag --version     the Node.js inside',
    '',
  ].join('\n');
}

/** `ag --link DIR`: one symbolic link per tool, to this executable by its absolute path. */
function link(manifest, dir) {
  const fs = require('node:fs');
  fs.mkdirSync(dir, { recursive: true });
  for (const tool of manifest.tools) {
    const path = join(dir, tool);
    fs.rmSync(path, { force: true });
    fs.symlinkSync(process.execPath, path);
    process.stderr.write(`${path} -> ${process.execPath}\n`);
  }
}

/** Which tool to run, and the position of its first argument in process.argv. */
function chooseTool(manifest) {
  const invoked = basename(process.argv0);
  if (manifest.tools.includes(invoked)) return { tool: invoked, skip: 0 };
  const first = process.argv[2] ?? '';
  const named = first.startsWith('ag-') ? first : `ag-${first}`;
  if (manifest.tools.includes(named)) return { tool: named, skip: 1 };
  return undefined;
}

function main() {
  const { getAsset, getRawAsset } = require('node:sea');
  const manifest = JSON.parse(getAsset('ag.json', 'utf8'));
  const chosen = chooseTool(manifest);
  if (chosen === undefined) {
    const first = process.argv[2];
    if (first === '--version') process.stdout.write(`ag (Node.js ${manifest.node}, linux/${manifest.arch})\n`);
    else if (first === '--link' && process.argv[3] !== undefined) link(manifest, resolve(process.argv[3]));
    else {
      const help = first === undefined || first === '--help' || first === '-h';
      (help ? process.stdout : process.stderr).write(usage(manifest));
      if (!help) {
        process.stderr.write(`ag: no tool named ${JSON.stringify(first)}\n`);
        process.exitCode = 2;
      }
    }
    return;
  }
  // The tool reads its arguments from process.argv.slice(2), as when node runs it.
  if (chosen.skip > 0) process.argv.splice(2, chosen.skip);
  // The assets where they lie in the executable, not copied (getAsset copies: 20 ms and a garbage collection
  // for ag-kubeadm). The source is ASCII (esbuild escapes the rest; the build checks), so latin1 reads it as is.
  const source = Buffer.from(getRawAsset(`${chosen.tool}.js`)).toString('latin1');
  const cachedData = codeCacheWanted() ? new Uint8Array(getRawAsset(`${chosen.tool}.cache`)) : undefined;
  runTool({ name: chosen.tool, source, cachedData, require, filename: process.execPath });
}

if (require('node:sea').isSea()) {
  quietLoaderWarning();
  main();
}
else module.exports = { runTool, runBuiltTool };
