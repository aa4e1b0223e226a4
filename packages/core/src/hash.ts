import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const SHA256_HEX = /^[a-f0-9]{64}$/;

/** Streams a file through SHA-256; never holds it in memory. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hasher = new HashingStream();
  await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hasher, async (source) => {
    for await (const _ of source) void _;
  });
  return { sha256: hasher.digest(), size: hasher.size };
}

/**
 * The SHA-256 of a file's first `length` bytes, as a Hash that takes more: the
 * bytes of a partial file that a resumed transfer appends to.
 */
export async function hashFileStart(path: string, length: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (length === 0) return hash;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash;
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  /** The hex digest; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
