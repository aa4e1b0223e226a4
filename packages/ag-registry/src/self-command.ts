import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runningAsExecutable } from '@ag/core';

/**
 * The command that runs this ag-registry again, for what must outlive the
 * command that started it (the supervisor, the embedded server, a systemd
 * unit): the single executable `ag` naming this tool (a link's name may not
 * be there later), node and the bundled file when running from dist/ag-registry.mjs
 * (as on the far side), or node with tsx and src/bin.ts when running from
 * source (tests).
 */
export function selfCommand(): string[] {
  if (runningAsExecutable()) return [process.execPath, 'ag-registry'];
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return [process.execPath, '--import', pathToFileURL(tsx).href, join(dirname(here), 'bin.ts')];
  }
  // Bundled: import.meta.url is the single dist file itself, or a chunk of the split build
  // (dist/split/chunks/*.mjs, tools/build/bundle-bins.mjs), whose entry is dist/split/ag-registry.mjs.
  return [process.execPath, basename(dirname(here)) === 'chunks' ? join(dirname(here), '..', 'ag-registry.mjs') : here];
}
