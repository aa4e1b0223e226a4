#!/usr/bin/env node
// Bundles every tool's src/bin.ts into one self-contained ESM file,
// packages/<tool>/dist/<tool>.mjs, so that `ag-<tool> --help` starts in well
// under 200 ms and the far side can run a tool from a single file.
import { build } from 'esbuild';
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

export async function bundleTool({ entry, outfile }) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Full minification: less text for V8 to compile at every start.
    minify: true,
    keepNames: true,
    alias: { 'string-width': fastStringWidth },
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __agCreateRequire } from 'node:module'; const require = __agCreateRequire(import.meta.url);",
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv.slice(2);
  const tools = toolEntries().filter((t) => only.length === 0 || only.includes(t.name));
  const started = Date.now();
  await Promise.all(tools.map(bundleTool));
  process.stderr.write(`bundled ${tools.length} tool(s) in ${Date.now() - started} ms: ${tools.map((t) => t.name).join(', ') || 'none'}\n`);
}
