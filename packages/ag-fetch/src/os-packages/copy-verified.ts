import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingStream, sha256File, tempPathFor, VerificationError } from '@ag/core';

export interface Expected {
  sha256: string;
  size: number;
}

/** Whether `path` exists with exactly this content. */
export async function hasContent(path: string, expected: Expected): Promise<boolean> {
  const actual = await sha256File(path).catch(() => undefined);
  return actual !== undefined && actual.sha256 === expected.sha256 && actual.size === expected.size;
}

/**
 * Copies `from` to `to` as a stream, hashing on the way; the copy gets its
 * name only when it matches `expected` (a mismatch deletes it and is a
 * VerificationError naming both digests). Returns false when `to` already
 * had that content and nothing was written.
 */
export async function copyVerified(from: string, to: string, expected: Expected, what: string): Promise<boolean> {
  if (await hasContent(to, expected)) return false;
  await mkdir(dirname(to), { recursive: true });
  const temp = tempPathFor(to);
  const hasher = new HashingStream();
  try {
    await pipeline(createReadStream(from, { highWaterMark: 1 << 20 }), hasher, createWriteStream(temp, { flags: 'wx' }));
    const sha256 = hasher.digest();
    if (sha256 !== expected.sha256 || hasher.size !== expected.size) {
      throw new VerificationError(
        `${what}: ${from} has sha256 ${sha256} (${hasher.size} bytes), the signed index says ${expected.sha256} (${expected.size} bytes)`,
        { hint: 'delete the cached file and run again; if it persists, the mirror serves altered packages', details: { expected: expected.sha256, actual: sha256 } },
      );
    }
    await rename(temp, to);
    return true;
  } finally {
    await rm(temp, { force: true });
  }
}
