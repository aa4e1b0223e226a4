import { PassThrough, Readable } from 'node:stream';
import type { Io } from '../io.js';

export interface TestIo extends Io {
  /** Everything written to stdout so far. */
  stdoutText(): string;
  /** Everything written to stderr so far. */
  stderrText(): string;
}

export interface TestIoOptions {
  /** What stdin holds; `undefined` means a terminal (isTTY, never read). */
  stdin?: string | undefined;
  env?: Record<string, string | undefined>;
  cwd?: string;
  stderrIsTTY?: boolean;
  /** stdin is a shell pipe (Io.stdinIsPipe). */
  stdinIsPipe?: boolean;
  /** Makes stdout look like a terminal (a stage then writes its summary, not the document). */
  stdoutIsTTY?: boolean;
}

/** In-memory stdio for running a command's `main(argv, io)` in-process. */
export function createTestIo(options: TestIoOptions = {}): TestIo {
  const stdout = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (options.stdoutIsTTY) stdout.isTTY = true;
  const stderr = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (options.stderrIsTTY) stderr.isTTY = true;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  let stdin: Readable & { isTTY?: boolean };
  if (options.stdin === undefined) {
    stdin = new Readable({ read() {} });
    stdin.isTTY = true;
  } else {
    stdin = Readable.from([Buffer.from(options.stdin)]);
  }
  return {
    stdin,
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    ...(options.stdinIsPipe !== undefined ? { stdinIsPipe: options.stdinIsPipe } : {}),
    stdoutText: () => Buffer.concat(out).toString('utf8'),
    stderrText: () => Buffer.concat(err).toString('utf8'),
  };
}
