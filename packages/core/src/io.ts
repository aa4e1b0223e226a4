import type { Readable, Writable } from 'node:stream';

/**
 * The streams and environment a command runs with. `bin.ts` passes the
 * process's own; tests pass in-memory ones (see `@ag/core/testing`), so every
 * command runs in-process with swapped stdio.
 */
export interface Io {
  stdin: Readable & { isTTY?: boolean };
  /** Carries the document and nothing else. */
  stdout: Writable & { isTTY?: boolean };
  /** Logs and progress. */
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  cwd: string;
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  };
}
