import { withDirectoryLock } from '../directory-lock.js';

const held = new Map<string, Promise<unknown>>();

/**
 * Runs `work` holding the layout's lock directory, queued behind other
 * holders in this process. Guards index.json's read-modify-write, so two
 * pulls into one layout never lose each other's entries.
 */
export async function withLayoutLock<T>(lockPath: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const previous = held.get(lockPath) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(() =>
      withDirectoryLock(lockPath, work, {
        timeoutMs,
        guards: 'the layout',
        hint: 'wait for the other ag-images run to finish, or remove the lock directory if no such process exists',
      }),
    );
  held.set(lockPath, run);
  try {
    return await run;
  } finally {
    if (held.get(lockPath) === run) held.delete(lockPath);
  }
}
