import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tools/bench/src/../../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface BuiltTool {
  name: string;
  /** packages/ag-X/bin/ag-X.cjs: what `npx ag-X` runs. */
  bin: string;
}

/** Every tool whose bundle exists (`npm run build` makes them). */
export function builtTools(root = REPO_ROOT): BuiltTool[] {
  const packages = join(root, 'packages');
  return readdirSync(packages)
    .filter((name) => name.startsWith('ag-') && existsSync(join(packages, name, 'dist', `${name}.mjs`)))
    .sort()
    .map((name) => ({ name, bin: join(packages, name, 'bin', `${name}.cjs`) }));
}

/**
 * Runs a benchmark's `main` when its file is the script node was started
 * with (not when a test imports it), and turns a throw into exit code 1.
 */
export function runWhenScript(moduleUrl: string, main: () => Promise<number>): void {
  if (moduleUrl !== `file://${process.argv[1]}`) return;
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
