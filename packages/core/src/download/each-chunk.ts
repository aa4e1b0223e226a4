import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * Reads a response body in flowing mode, handing each chunk to `take` the
 * moment it arrives. `for await` would leave chunks in the stream's buffer
 * until asked for, and a connection that breaks destroys the stream with that
 * buffer: bytes that had arrived would be lost and the next attempt would
 * resume from earlier than it could (ag-fetch's resume test failed 7 of 12
 * runs under load that way). `take` writes synchronously (BatchedWrites), so
 * nothing piles up in memory meanwhile.
 *
 * Resolves when the body has ended; rejects with what broke it, or with what
 * `take` threw (the body is then destroyed: nothing more is wanted from it).
 */
export function readEachChunk(body: Readable, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failed: unknown;
    body.on('data', (chunk: Buffer) => {
      if (failed !== undefined) return;
      try {
        take(chunk);
      } catch (error) {
        failed = error;
        body.destroy(error as Error);
      }
    });
    // finished() also settles for a body that ended or broke before this listener was attached.
    finished(body).then(
      () => (failed === undefined ? resolve() : reject(failed as Error)),
      (error: unknown) => reject((failed ?? error) as Error),
    );
  });
}
