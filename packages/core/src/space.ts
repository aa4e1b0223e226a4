import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SystemError, withContext } from './errors.js';

/** At most this much room is kept free beyond what is written: file system overhead, and air for the rest of the system. */
const MARGIN = 64 * 1024 * 1024;

/** The room writing `bytes` takes: the bytes plus a margin for block rounding and metadata (2 % + 1 MiB, at most 64 MiB). */
export function roomFor(bytes: number): number {
  return bytes + Math.min(MARGIN, Math.ceil(bytes * 0.02) + 1024 * 1024);
}

/**
 * The bytes an unprivileged writer may still use on the file system that
 * holds `dir` (`df`'s "Available"). A directory not created yet is measured
 * at its nearest existing parent, which is where it will be created.
 */
export async function freeBytes(dir: string): Promise<number> {
  let at = dir;
  for (;;) {
    try {
      const info = await statfs(at);
      return Number(info.bavail) * Number(info.bsize);
    } catch (error) {
      const parent = dirname(at);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw withContext(`checking the free space in ${dir}`, error);
      at = parent;
    }
  }
}

/**
 * Refuses up front, before a byte is written, when the file system holding
 * `dir` lacks room for `bytes` (see roomFor): running out half-way through a
 * multi-GB write wastes the time and leaves a mess. Exit 6 (system).
 */
export async function ensureRoom(dir: string, bytes: number, doing: string, hint = 'free disk space or choose a directory on another file system; nothing was written'): Promise<void> {
  const free = await freeBytes(dir);
  const needed = roomFor(bytes);
  if (free < needed) {
    throw new SystemError(`${doing}: ${dir} has ${free} bytes free, ${needed} are needed`, { hint, details: { free, needed } });
  }
}
