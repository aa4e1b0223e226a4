import { fstatSync } from 'node:fs';
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
  /**
   * stdin is a pipe (a FIFO: what a shell puts between two stages). An empty
   * one means the stage before wrote nothing, which readDocument reports even
   * when a document is optional; /dev/null or an empty file are not that.
   */
  stdinIsPipe?: boolean;
}

function isFifo(fd: number): boolean {
  try {
    return fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}

export function processIo(): Io {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdinIsPipe: isFifo(0),
  };
}
