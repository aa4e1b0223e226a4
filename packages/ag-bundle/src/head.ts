import { Readable } from 'node:stream';
import type { AgDocument } from '@ag/core';
import { seekableChunks, type BundleInput } from './input.js';
import { MAX_SIGNATURE_BYTES } from './signing.js';
import { DOCUMENT_FILE, MAX_SUMS_BYTES, SIGNATURE_FILE, SUMS_FILE } from './sums.js';
import { TarReader } from './tar/reader.js';

/**
 * The first entries of a bundle, read before the real pass to decide how to
 * go about it (is this a delta? is it already unpacked? how much room?).
 * Nothing here is trusted: the pass that follows checks every byte again.
 */
export interface BundleHead {
  sumsText: Buffer | undefined;
  signature: Buffer | undefined;
  /** bundle.json, parsed but not validated or verified; undefined when unreadable. */
  document: AgDocument | undefined;
}

async function readHeadFrom(reader: TarReader): Promise<BundleHead> {
  const head: BundleHead = { sumsText: undefined, signature: undefined, document: undefined };
  const take = async (max: number): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    await reader.body((chunk) => {
      chunks.push(Buffer.from(chunk));
    });
    return Buffer.concat(chunks).subarray(0, max);
  };
  try {
    let entry = await reader.next();
    if (entry?.path !== SUMS_FILE || entry.size > MAX_SUMS_BYTES) return head;
    head.sumsText = await take(MAX_SUMS_BYTES);
    entry = await reader.next();
    if (entry?.path === SIGNATURE_FILE && entry.size <= MAX_SIGNATURE_BYTES) {
      head.signature = await take(MAX_SIGNATURE_BYTES);
      entry = await reader.next();
    }
    if (entry?.path !== DOCUMENT_FILE || entry.size > MAX_SUMS_BYTES) return head;
    head.document = JSON.parse((await take(MAX_SUMS_BYTES)).toString('utf8')) as AgDocument;
  } catch {
    // A damaged head is for the real pass to name.
  }
  return head;
}

/**
 * Reads a bundle's head. For a file or parts the real pass reads them
 * again from the start; stdin cannot be read twice, so what the head
 * consumed is replayed in front of the rest (the returned input).
 */
export async function readBundleHead(input: BundleInput): Promise<{ head: BundleHead; input: BundleInput }> {
  if (input.kind !== 'stdin') {
    const reader = new TarReader(seekableChunks(input));
    const head = await readHeadFrom(reader);
    await reader.bytes.close();
    return { head, input };
  }
  const iterator = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const seen: Buffer[] = [];
  const pull = async (): Promise<Buffer | undefined> => {
    const next = await iterator.next();
    if (next.done) return undefined;
    return typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
  };
  const recording: AsyncIterable<Buffer> = {
    async *[Symbol.asyncIterator]() {
      for (let chunk = await pull(); chunk !== undefined; chunk = await pull()) {
        seen.push(chunk);
        yield chunk;
      }
    },
  };
  const head = await readHeadFrom(new TarReader(recording));
  const replay = async function* (): AsyncGenerator<Buffer> {
    yield* seen;
    for (let chunk = await pull(); chunk !== undefined; chunk = await pull()) yield chunk;
  };
  return { head, input: { ...input, stream: Readable.from(replay(), { objectMode: false }) } };
}
