import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Files with this marker in their name are temporaries: never complete, safe to delete. */
export const TEMP_MARKER = '.ag-tmp-';

/**
 * A temporary name next to `path` (same directory, so rename is atomic). It
 * starts with a dot and carries a marker so that no reader mistakes it for a
 * finished file and a later run can sweep it.
 */
export function tempPathFor(path: string): string {
  // The global Web Crypto, not an import of node:crypto: every tool's start reaches this module, and node:crypto
  // loads 18 of Node's modules (~5 ms) that a start which writes nothing does not need; this loads them on use.
  const random = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4))).toString('hex');
  return join(dirname(path), `.${basename(path)}${TEMP_MARKER}${process.pid}-${random}`);
}

export interface AtomicWriteOptions {
  mode?: number;
}

/**
 * Writes a small file (a config, a document, a key) atomically: to a temporary
 * name, fsynced, then renamed over `path`. A crash leaves the old file or the
 * new one, never half of either. Not for blobs: stream those (see the downloader).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (options.mode !== undefined) await handle.chmod(options.mode);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
