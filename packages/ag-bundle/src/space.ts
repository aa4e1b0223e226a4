import { statfs } from 'node:fs/promises';
import { SystemError, withContext } from '@ag/core';

/** Room kept free beyond what is written: file system overhead, and air for the rest of the system. */
const MARGIN = 64 * 1024 * 1024;

/** The bytes an unprivileged writer may still use on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  try {
    const info = await statfs(dir);
    return Number(info.bavail) * Number(info.bsize);
  } catch (error) {
    throw withContext(`checking the free space in ${dir}`, error);
  }
}

/**
 * Refuses up front, before a byte is written, when the file system holding
 * `dir` lacks room for `bytes` (plus a margin for block rounding): running
 * out half-way through a multi-GB write wastes the time and leaves a mess.
 */
export async function ensureRoom(dir: string, bytes: number, doing: string): Promise<void> {
  const free = await freeBytes(dir);
  const needed = bytes + Math.min(MARGIN, Math.ceil(bytes * 0.02) + 1024 * 1024);
  if (free < needed) {
    throw new SystemError(`${doing}: ${dir} has ${free} bytes free, ${needed} are needed`, {
      hint: 'free disk space or choose a directory on another file system; nothing was written',
      details: { free, needed },
    });
  }
}
