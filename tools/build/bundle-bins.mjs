#!/usr/bin/env node
// Bundles every tool's src/bin.ts into one self-contained ESM file,
// packages/<tool>/dist/<tool>.mjs, so that `ag-<tool> --help` starts fast
// and a host with Node.js alone can run a tool from a single file. The same
// esbuild settings, as CommonJS, make the code inside the single executables
// (tools/build/src/executables.ts).
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * Bundles one tool. `format: 'cjs'` is for a single executable, whose Node
 * runs CommonJS: `import.meta.url` there is the executable itself (the
 * wrapper that runs the code passes it as `__filename`). `profiling`:
 * one statement a line and a source map, for `npm run bench:startup -- --profile`
 * to say which package each sample of a start was in.
 */
export async function bundleTool({ entry, outfile, format = 'esm', target = 'node20', profiling = false }) {
  const esm = format === 'esm';
  await build({
    entryPoints: [entry],
    outfile,
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
  await Promise.all(tools.map((tool) => bundleTool(tool)));
  // Man pages and bash/zsh completion from each tool's own command definitions, beside it in dist/share/
  // (ag-bundle pack carries them in tools/share/, ag-nodeprep installs them).
  await Promise.all(tools.map((tool) => writeShellFiles(tool)));
  process.stderr.write(`bundled ${tools.length} tool(s) with their man pages and completion in ${Date.now() - started} ms: ${tools.map((t) => t.name).join(', ') || 'none'}\n`);
}
