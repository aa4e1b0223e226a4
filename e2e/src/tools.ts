import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hostArchitecture } from '@ag/core';
import { ensureExecutables, EXECUTABLES_DIR } from '@ag/build/executables';
import type { Arch } from '@ag/build/node-runtime';

/** The repository root (e2e/src/../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shell steps the Vagrant run and this run share. */
export const STEP_SCRIPTS = join(REPO_ROOT, 'e2e', 'vagrant', 'steps');

interface ToolEntry {
  name: string;
  entry: string;
  outfile: string;
}

interface BundleBins {
  toolEntries(): ToolEntry[];
  bundleTool(entry: ToolEntry): Promise<void>;
}

/**
 * Builds every ag tool from this checkout's sources into `dir` in the
 * bundle's tools/ layout: `dir/ag-X.mjs` (the same esbuild bundle `npm run
 * build` writes to packages/ag-X/dist), and `dir/<arch>/ag`, the single
 * executable for this machine's architecture (built by ensureExecutables,
 * cached by content, and copied: the run tests exactly these sources and
 * never a stale or half-written dist/ another build is writing). The
 * other architecture's executable is left out to keep the run's bundle
 * small: the qemu test of tools/build runs it. Returns the tool names.
 */
export async function buildTools(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const arch = hostArchitecture() as Arch;
  await ensureExecutables({ arches: [arch] });
  await mkdir(join(dir, arch), { recursive: true });
  for (const file of ['ag', 'build.json']) await copyFile(join(EXECUTABLES_DIR, arch, file), join(dir, arch, file));
  const script = pathToFileURL(join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs')).href;
  const bins = (await import(script)) as BundleBins;
  const entries = bins.toolEntries().map((tool) => ({ ...tool, outfile: join(dir, `${tool.name}.mjs`) }));
  await Promise.all(entries.map((tool) => bins.bundleTool(tool)));
  return entries.map((tool) => tool.name);
}
