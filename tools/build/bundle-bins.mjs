#!/usr/bin/env node
// Bundles every tool's src/bin.ts twice:
//   packages/<tool>/dist/<tool>.mjs          one self-contained ESM file, which the
//                                           bundle's tools/ carries for a host with Node.js alone;
//   packages/<tool>/dist/split/<tool>.mjs    the same code split at each import(), which
//                                           bin/<tool>.mjs runs: a start reads and compiles the
//                                           command line's code only (~290 KB of ag-kubeadm's
//                                           1.2 MB), a subcommand's code when it runs.
// The same esbuild settings, as CommonJS, make the code inside the single
// executables (tools/build/src/executables.ts).
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coreImportsPlugin } from './core-imports.mjs';
import { inlineSourcesPlugin } from './inline-sources.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const packagesDir = join(root, 'packages');
const fastStringWidth = join(root, 'tools', 'build', 'fast-string-width.mjs');

export function toolEntries() {
  return readdirSync(packagesDir)
    .filter((name) => name.startsWith('ag-') && existsSync(join(packagesDir, name, 'src', 'bin.ts')))
    .map((name) => ({
      name,
      entry: join(packagesDir, name, 'src', 'bin.ts'),
      outfile: join(packagesDir, name, 'dist', `${name}.mjs`),
    }));
}

/** Where the split build of a tool goes: `dist/split/<tool>.mjs` and its `chunks/`. */
export function splitEntry(tool) {
  return { ...tool, outfile: join(dirname(tool.outfile), 'split', `${tool.name}.mjs`), splitting: true };
}

/**
 * Bundles one tool. `format: 'cjs'` is for a single executable, whose Node
 * runs CommonJS: `import.meta.url` there is the executable itself (the
 * wrapper that runs the code passes it as `__filename`). `profiling`:
 * one statement a line and a source map, for `npm run bench:startup -- --profile`
 * to say which package each sample of a start was in.
 */
export async function bundleTool({ entry, outfile, format = 'esm', target = 'node20', profiling = false, splitting = false }) {
  const esm = format === 'esm';
  const out = splitting
    ? {
        // Code splitting (ESM only): each import() target and what only it needs becomes a chunk loaded on demand.
        entryPoints: { [basename(outfile, '.mjs')]: entry },
        outdir: dirname(outfile),
        splitting: true,
        chunkNames: 'chunks/[name]-[hash]',
        outExtension: { '.js': '.mjs' },
      }
    : { entryPoints: [entry], outfile };
  // The split build goes to a new directory that then takes the old one's place: its chunks' names
  // change with their content, and a tool running meanwhile should find a whole build, old or new.
  const finalDir = dirname(outfile);
  if (splitting) {
    out.outdir = `${finalDir}.new`;
    await rm(out.outdir, { recursive: true, force: true });
  }
  await build({
    ...out,
    // @ag/core's names imported from the modules that define them: a start then reaches (and, in one file,
    // evaluates) only those, not every module core's index re-exports (core-imports.mjs).
    // Sources a worker thread evaluates, as strings (inline-sources.mjs).
    plugins: [inlineSourcesPlugin(root), coreImportsPlugin(root)],
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
        }),
  });
  if (splitting) {
    await rm(`${finalDir}.old`, { recursive: true, force: true });
    await rename(finalDir, `${finalDir}.old`).catch(() => undefined);
    await rename(out.outdir, finalDir);
    await rm(`${finalDir}.old`, { recursive: true, force: true });
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
  await Promise.all(tools.flatMap((tool) => [bundleTool(tool), bundleTool(splitEntry(tool))]));
  // Man pages and bash/zsh completion from each tool's own command definitions, beside it in dist/share/
  // (ag-bundle pack carries them in tools/share/, ag-nodeprep installs them).
  await Promise.all(tools.map((tool) => writeShellFiles(tool)));
  process.stderr.write(`bundled ${tools.length} tool(s) with their man pages and completion in ${Date.now() - started} ms: ${tools.map((t) => t.name).join(', ') || 'none'}\n`);
}
