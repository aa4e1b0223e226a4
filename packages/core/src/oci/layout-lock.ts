import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemError } from '../errors.js';
import { processAlive } from './process-alive.js';


const held = new Map<string, Promise<unknown>>();

/**
 * Runs `work` holding the lock directory `lockPath` (mkdir is atomic across
 * processes), queued behind other holders in this process. A lock whose
 * holder died is taken over. Guards index.json's read-modify-write, so two
 * pulls into one layout never lose each other's entries.
 */
export async function withLayoutLock<T>(lockPath: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const previous = held.get(lockPath) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => lockedWork(lockPath, work, timeoutMs));
  held.set(lockPath, run);
  try {
    return await run;
  } finally {
    if (held.get(lockPath) === run) held.delete(lockPath);
  }
}

async function lockedWork<T>(lockPath: string, work: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const owner = join(lockPath, 'pid');
  // A layout written by another tool has no ingest directory yet.
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
        throw new SystemError(`the layout is locked by process ${Number.isNaN(holder) ? '(unknown)' : holder} (${lockPath})`, {
          hint: 'wait for the other ag-images run to finish, or remove the lock directory if no such process exists',
        });
      }
      await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockPath, { recursive: true, force: true });
  }
}
