import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
 * Builds every ag tool from this checkout's sources into `dir`
 * (`dir/ag-X.mjs`, the same esbuild bundle `npm run build` writes to
 * packages/ag-X/dist), so the run tests exactly these sources and never a
 * stale or half-written dist/ another build is writing. Returns the tool
 * names.
 */
export async function buildTools(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const script = pathToFileURL(join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs')).href;
  const bins = (await import(script)) as BundleBins;
  const entries = bins.toolEntries().map((tool) => ({ ...tool, outfile: join(dir, `${tool.name}.mjs`) }));
  await Promise.all(entries.map((tool) => bins.bundleTool(tool)));
  return entries.map((tool) => tool.name);
}
