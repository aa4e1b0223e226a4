import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VerificationError } from '../errors.js';

/**
 * A pass-through that hashes and counts, and fails the stream at its end when
 * size or digest differ from the expected ones (naming both), so a reader
 * never takes wrong bytes for right ones. Used for every blob read from a
 * layout and for every blob streamed from a registry into another.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private readonly expectedDigest: string;
  private readonly expectedSize: number | undefined;
  private readonly where: string;
  size = 0;

  constructor(expected: { digest: string; size?: number }, where: string) {
    super();
    this.expectedDigest = expected.digest;
    this.expectedSize = expected.size;
    this.where = where;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.size > this.expectedSize) {
      callback(this.mismatch(`more than ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedSize !== undefined && this.size !== this.expectedSize) {
      callback(this.mismatch(`${this.size} bytes instead of ${this.expectedSize}`));
      return;
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.expectedDigest) {
      callback(this.mismatch(`content hashes to ${actual}`, actual));
      return;
    }
    callback();
  }

  private mismatch(what: string, actualDigest?: string): VerificationError {
    return new VerificationError(`${this.where}: blob ${this.expectedDigest}: ${what}`, {
      details: { digest: this.expectedDigest, actualDigest, expectedSize: this.expectedSize, actualSize: this.size },
      hint: 'the stored or served content does not match its digest; fetch it again from a trusted source',
    });
  }
}
