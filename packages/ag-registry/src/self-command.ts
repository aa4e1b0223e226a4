import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runningAsExecutable } from '@ag/core';

/**
 * The command that runs this ag-registry again, for what must outlive the
 * command that started it (the supervisor, the embedded server, a systemd
 * unit): the single executable `ag` naming this tool (a link's name may not
 * be there later), node and the bundled file when running from dist/ (as on
 * the far side), or node with tsx and src/bin.ts when running from
 * source (tests).
 */
export function selfCommand(): string[] {
  if (runningAsExecutable()) return [process.execPath, 'ag-registry'];
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return [process.execPath, '--import', pathToFileURL(tsx).href, join(dirname(here), 'bin.ts')];
  }
  // Bundled: import.meta.url is the one dist file itself (dist/ag-registry.mjs, or the CommonJS
  // dist/ag-registry.cjs that bin/ag-registry.cjs runs; tools/build/bundle-bins.mjs).
  return [process.execPath, here];
}
