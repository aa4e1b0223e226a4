import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tools/bench/src/../../..). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface BuiltTool {
  name: string;
  /** packages/ag-X/bin/ag-X.mjs: what `npx ag-X` runs. */
  bin: string;
}

/** Every tool whose bundle exists (`npm run build` makes them). */
export function builtTools(root = REPO_ROOT): BuiltTool[] {
  const packages = join(root, 'packages');
  return readdirSync(packages)
    .filter((name) => name.startsWith('ag-') && existsSync(join(packages, name, 'dist', `${name}.mjs`)))
    .sort()
    .map((name) => ({ name, bin: join(packages, name, 'bin', `${name}.mjs`) }));
}
