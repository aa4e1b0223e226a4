import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemError } from './errors.js';
import { processAlive } from './oci/process-alive.js';

export interface DirectoryLockOptions {
  /** How long to wait for a live holder before giving up. */
  timeoutMs: number;
  /** How often to look again while another process holds it. */
  pollMs?: number;
  /** What the lock guards, for the error ("the layout", "the debootstrap cache"). */
  guards?: string;
  hint?: string;
}

/**
 * Runs `work` while holding the lock directory `lockPath`: `mkdir` is atomic
 * across processes, and the holder's pid is written inside it. A lock whose
 * holder died is taken over; a lock without a pid file may be one being
 * taken right now, so only a dead pid counts as stale. Gives up after
 * `timeoutMs` with a SystemError naming the holder.
 */
export async function withDirectoryLock<T>(lockPath: string, work: () => Promise<T>, options: DirectoryLockOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const owner = join(lockPath, 'pid');
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockPath);
      await writeFile(owner, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(owner, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
        await rm(lockPath, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        const who = Number.isNaN(holder) ? '(unknown)' : String(holder);
        throw new SystemError(`${options.guards ?? 'it'} is locked by process ${who} (${lockPath})`, {
          hint: options.hint ?? 'wait for the other run to finish, or remove the lock directory if no such process exists',
        });
      }
      await sleep(options.pollMs ?? 50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockPath, { recursive: true, force: true });
  }
}
