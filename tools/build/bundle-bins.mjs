#!/usr/bin/env node
// Bundles every tool's src/bin.ts twice:
//   packages/<tool>/dist/<tool>.mjs          one self-contained ESM file, which the
//                                           bundle's tools/ carries for a host with Node.js alone;
//   packages/<tool>/dist/<tool>.cjs          the same as one CommonJS file, which bin/<tool>.cjs
//                                           runs (sea-main.cjs's runBuiltTool) with
//   packages/<tool>/dist/<tool>.cjs.cache    its V8 code cache, taken by this machine's node after
//                                           the tool's training run (sea-code-cache.cjs: --help, a
//                                           pull for ag-images), as the single executables have
//                                           theirs: a start compiles only what that run did not.
//                                           Node.js 20 gives an ES module no code cache, a
//                                           vm.Script's CommonJS wrapper one.
// The same esbuild settings, as CommonJS for Node.js 24, make the code inside
// the single executables (tools/build/src/executables.ts).
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coreImportsPlugin } from './core-imports.mjs';
import { inlineSourcesPlugin } from './inline-sources.mjs';
import { undiciDispatchersPlugin } from './undici-dispatchers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const packagesDir = join(root, 'packages');
const fastStringWidth = join(root, 'tools', 'build', 'fast-string-width.mjs');
const seaCodeCache = join(root, 'tools', 'build', 'sea-code-cache.cjs');
const yargsAssert = join(root, 'tools', 'build', 'yargs-assert.mjs');
const plainWrapAnsi = join(root, 'tools', 'build', 'plain-wrap-ansi.mjs');

/**
 * cliui's import of wrap-ansi goes to a module that wraps text without escape sequences itself
 * (plain-wrap-ansi.mjs says why) and hands the rest to the wrap-ansi cliui would have had.
 */
function plainWrapAnsiPlugin() {
  return {
    name: 'plain-wrap-ansi',
    setup(build) {
      build.onResolve({ filter: /^wrap-ansi$/ }, async (args) => {
        if (!/[\\/]node_modules[\\/]cliui[\\/]/.test(args.importer) || args.pluginData?.real) return undefined;
        const real = await build.resolve('wrap-ansi', { kind: args.kind, resolveDir: args.resolveDir, pluginData: { real: true } });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'plain-wrap-ansi' };
      });
      build.onLoad({ filter: /.*/, namespace: 'plain-wrap-ansi' }, (args) => ({
        resolveDir: dirname(plainWrapAnsi),
        contents: [
          `import wrapAnsi from ${JSON.stringify(args.path)};`,
          `import { isPlain, wrapPlain } from ${JSON.stringify(plainWrapAnsi)};`,
          'export default function wrap(text, columns, options) {',
          '  return isPlain(String(text)) ? wrapPlain(text, columns, options) : wrapAnsi(text, columns, options);',
          '}',
        ].join('\n'),
      }));
    },
  };
}

/** yargs's import of node:assert goes to a stand-in (yargs-assert.mjs says why); every other module's stays. */
function yargsAssertPlugin() {
  return {
    name: 'yargs-assert',
    setup(build) {
      build.onResolve({ filter: /^(node:)?assert$/ }, (args) => (/[\\/]node_modules[\\/]yargs[\\/]/.test(args.importer) ? { path: yargsAssert } : undefined));
    },
  };
}

/**
 * yargs guesses a default version at every start (build/lib/yargs-factory.js: the factory calls `version()`,
 * which reads the nearest package.json above the working directory, listing each directory on the way). ag
 * gives every parser its version (packages/core/src/cli.ts), so the guess is thrown away; in a directory of
 * 30,000 files `ag-images --version` took 84 ms with it and 67 ms without (median of 20), and it parsed whatever
 * package.json lay above. In the bundles the guess is 'unknown', read from nowhere.
 */
const YARGS_VERSION_GUESS = "[kGuessVersion]() {\n        const obj = this[kPkgUp]();\n        return obj.version || 'unknown';\n    }";

function yargsNoVersionGuessPlugin() {
  return {
    name: 'yargs-no-version-guess',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]build[\\/]lib[\\/]yargs-factory\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes(YARGS_VERSION_GUESS)) {
          return { errors: [{ text: `${args.path}: yargs's version guess is not where the build expects it (a new yargs?): see yargsNoVersionGuessPlugin` }] };
        }
        return { contents: source.replace(YARGS_VERSION_GUESS, "[kGuessVersion]() {\n        return 'unknown';\n    }"), loader: 'js' };
      });
    },
  };
}

export function toolEntries() {
  return readdirSync(packagesDir)
    .filter((name) => name.startsWith('ag-') && existsSync(join(packagesDir, name, 'src', 'bin.ts')))
    .map((name) => ({
      name,
      entry: join(packagesDir, name, 'src', 'bin.ts'),
      outfile: join(packagesDir, name, 'dist', `${name}.mjs`),
    }));
}

/** Where the CommonJS build of a tool goes, which bin/<tool>.cjs runs: `dist/<tool>.cjs`, its code cache `dist/<tool>.cjs.cache`. */
export function commonJsEntry(tool) {
  return { ...tool, outfile: join(dirname(tool.outfile), `${tool.name}.cjs`), format: 'cjs', target: 'node20' };
}

/**
 * A CommonJS bundle is run from its bytes read as latin1 (sea-main.cjs): with a byte above 0x7f the
 * string would not be the text, and the code cache another decoding made would not fit it.
 */
export async function checkAscii(name, file) {
  const offset = (await readFile(file)).findIndex((byte) => byte > 0x7f);
  if (offset >= 0) throw new Error(`${name}'s bundle has a non-ASCII byte at offset ${offset}: keep esbuild's charset ascii`);
}

/** Runs the CommonJS build's training run (sea-code-cache.cjs) once under this node and writes the V8 code cache of what ran beside it. */
export async function writeCodeCache({ name, outfile }) {
  try {
    await checkAscii(name, outfile);
    await promisify(execFile)(process.execPath, [seaCodeCache, name, outfile, `${outfile}.cache`]);
  } catch (error) {
    throw new Error(`making the code cache of ${name}: ${error.stderr || error.message}`);
  }
}

/**
 * Bundles one tool. `format: 'cjs'` is for a single executable and for
 * bin/<tool>.cjs, which run CommonJS with a code cache: `import.meta.url`
 * there is the file the wrapper that runs the code passes as `__filename`
 * (the executable itself, or dist/<tool>.cjs). `profiling`: one statement a
 * line and a source map, for `npm run bench:startup -- --profile` to say
 * which package each sample of a start was in.
 */
export async function bundleTool({ entry, outfile, format = 'esm', target = 'node20', profiling = false }) {
  const esm = format === 'esm';
  // V8 accepts a code cache for any source of the length it was made for: the old cache goes before the
  // new source comes, so that a start in between compiles from source rather than running stale code.
  if (!esm) await rm(`${outfile}.cache`, { force: true });
  const result = await build({
    entryPoints: [entry],
    outfile,
    // @ag/core's names imported from the modules that define them: a start then reaches (and, in one file,
    // evaluates) only those, not every module core's index re-exports (core-imports.mjs).
    // Sources a worker thread evaluates, as strings (inline-sources.mjs). yargs without node:assert, cliui's
    // wrapping of plain text without wrap-ansi's escape walk. undici's connection pools without the rest of undici,
    // its HTTP/2 code loaded when used (undici-dispatchers.mjs).
    plugins: [inlineSourcesPlugin(root), coreImportsPlugin(root), yargsAssertPlugin(), yargsNoVersionGuessPlugin(), plainWrapAnsiPlugin(), undiciDispatchersPlugin()],
    bundle: true,
    platform: 'node',
    format,
    target,
    // Full minification: less text for V8 to compile at every start (profiling keeps the line breaks: the profile counts by line).
    minifyIdentifiers: true,
    minifySyntax: true,
    minifyWhitespace: !profiling,
    sourcemap: profiling ? 'external' : false,
    keepNames: true,
    alias: { 'string-width': fastStringWidth },
    // The CycloneDX library's optional XML plug-ins: it requires them inside try/catch only when asked for XML, which ag never is.
    external: ['xmlbuilder2', 'libxmljs2'],
    legalComments: 'none',
    logLevel: 'warning',
    ...(esm
      ? {
          // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
          banner: {
            js: "import { createRequire as __agCreateRequire } from 'node:module'; const require = __agCreateRequire(import.meta.url);",
          },
        }
      : {
          define: { 'import.meta.url': '__agImportMetaUrl' },
          banner: { js: "var __agImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
          metafile: true,
        }),
  });
  if (!esm) refuseExternalDynamicImports(result.metafile, outfile);
}

/**
 * A CommonJS build runs with a V8 code cache, and on Node.js 20 a function compiled from a cache another
 * process made has lost import()'s loader: `await import('node:v8')` there fails with "A dynamic import
 * callback was not specified" (an import() esbuild bundles becomes a require and is not affected). So an
 * import() that stays in the bundle (a Node.js built-in, an external package) is refused at build time,
 * naming where it is: import it statically instead.
 */
function refuseExternalDynamicImports(metafile, outfile) {
  const found = [];
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    for (const imported of imports) if (imported.kind === 'dynamic-import' && imported.external) found.push(`${input}: import('${imported.path}')`);
  }
  if (found.length > 0) {
    throw new Error(`${outfile}: import() of a module outside the bundle fails in the CommonJS build under a code cache on Node.js 20; import it statically: ${found.join('; ')}`);
  }
}

/** Runs the bundled tool's hidden --write-shell-files (core/src/cli/shell-files.ts) into its dist/. */
export async function writeShellFiles({ name, outfile }) {
  try {
    await promisify(execFile)(process.execPath, [outfile, '--write-shell-files', dirname(outfile)]);
  } catch (error) {
    throw new Error(`writing the man page and completion of ${name}: ${error.stderr || error.message}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv.slice(2);
  const tools = toolEntries().filter((t) => only.length === 0 || only.includes(t.name));
  const started = Date.now();
  await Promise.all(tools.flatMap((tool) => [bundleTool(tool), bundleTool(commonJsEntry(tool))]));
  const bundled = Date.now();
  // Man pages and bash/zsh completion from each tool's own command definitions, beside it in dist/share/
  // (ag-bundle pack carries them in tools/share/, ag-nodeprep installs them); the code caches.
  await Promise.all(tools.flatMap((tool) => [writeShellFiles(tool), writeCodeCache(commonJsEntry(tool))]));
  // The split ESM build an earlier bin ran: nothing runs it now.
  await Promise.all(tools.map((tool) => rm(join(dirname(tool.outfile), 'split'), { recursive: true, force: true })));
  process.stderr.write(
    `bundled ${tools.length} tool(s) in ${bundled - started} ms, their man pages, completion and code caches in ${Date.now() - bundled} ms: ${tools.map((t) => t.name).join(', ') || 'none'}\n`,
  );
}
