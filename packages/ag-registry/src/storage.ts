import { readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes, type RegistryStatus } from '@ag/core';

/** Below this much free space `status` warns (a push of a Kubernetes release needs a few hundred MiB to a few GiB). */
export const DEFAULT_MIN_FREE_BYTES = 1024 ** 3;

export type StorageFacts = NonNullable<RegistryStatus['storage']>;

/** Free and total bytes of the file system holding `path` (df's Avail and Size), and a warning below `minFreeBytes`. */
export async function storageFacts(path: string, minFreeBytes = DEFAULT_MIN_FREE_BYTES): Promise<StorageFacts> {
  const info = await statfs(path);
  const freeBytes = Number(info.bavail) * Number(info.bsize);
  const totalBytes = Number(info.blocks) * Number(info.bsize);
  const facts: StorageFacts = { path, freeBytes, totalBytes };
  if (freeBytes < minFreeBytes) {
    facts.warning =
      `only ${formatBytes(freeBytes)} of ${formatBytes(totalBytes)} free on the file system of ${path} (below ${formatBytes(minFreeBytes)}): ` +
      'pushes fail with HTTP 500 when it fills; free space, or run ag-registry status --gc to remove stale partial uploads';
  }
  return facts;
}

/** Where distribution keeps repositories: each one's partial uploads are in <repository>/_uploads/<uuid>/. */
function repositoriesRoot(storage: string): string {
  return join(storage, 'docker', 'registry', 'v2', 'repositories');
}

/** The newest modification time under an upload directory (its data file grows while the upload runs). */
async function lastTouched(dir: string): Promise<number> {
  let newest = (await stat(dir)).mtimeMs;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await lastTouched(path) : (await stat(path).catch(() => ({ mtimeMs: 0 }))).mtimeMs);
  }
  return newest;
}

/**
 * Removes distribution's partial uploads not written to for `olderThanMs`
 * (0: all, for when no registry runs). A push that failed (a full disk, a
 * killed client) leaves them, and distribution purges them only once a day
 * after a week (its `uploadpurging` defaults). Returns how many were removed.
 */
export async function purgeStaleUploads(storage: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let purged = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 32) return;
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name === '_uploads') {
        for (const upload of await readdir(path, { withFileTypes: true }).catch(() => [])) {
          if (!upload.isDirectory()) continue;
          const uploadDir = join(path, upload.name);
          if (olderThanMs > 0 && now - (await lastTouched(uploadDir)) < olderThanMs) continue;
          await rm(uploadDir, { recursive: true, force: true });
          purged += 1;
        }
      } else if (entry.name !== '_layers' && entry.name !== '_manifests') {
        await walk(path, depth + 1);
      }
    }
  };
  await walk(repositoriesRoot(storage), 0);
  return purged;
}
