import { copyFile, chmod, mkdir, readlink, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { inRoot, lstatNode } from './root-fs.js';

/** Where apply keeps what it replaced, inside the root: never next to the file, where a daemon reading a directory (sysctl.d, certs.d) would pick it up. */
export const BACKUP_BASE = '/var/lib/ag/nodeprep/backups';

/** `20240501T101502Z`: one directory per apply run. */
export function runStamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Copies a node file (or link) to `<backupDir><path>` before apply changes
 * it; returns the backup's node path, or undefined when there was nothing.
 * A file backed up twice in one run keeps its first (original) version.
 */
export function backupKeeper(root: string, backupDir: string): (nodePath: string) => Promise<string | undefined> {
  const done = new Set<string>();
  return async (nodePath) => {
    const info = await lstatNode(root, nodePath);
    if (info === undefined) return undefined;
    const backup = posix.join(backupDir, nodePath);
    if (done.has(nodePath)) return backup;
    const target = inRoot(root, backup);
    await mkdir(posix.dirname(target), { recursive: true });
    if (info.isSymbolicLink()) await symlink(await readlink(inRoot(root, nodePath)), target);
    else {
      await copyFile(inRoot(root, nodePath), target);
      await chmod(target, Number(info.mode) & 0o7777);
    }
    done.add(nodePath);
    return backup;
  };
}
