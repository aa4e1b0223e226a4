import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { basename } from 'node:path';
import { tempPathFor } from '@ag/core';
import { createArchiveHasher, type ArchiveHasher } from './parallel-hash.js';
import { partCount, partName, type PartInfo } from './parts.js';

interface OpenPart {
  final: string;
  temp: string;
  stream: WriteStream;
  size: number;
}

export interface WrittenBundle {
  size: number;
  sha256: string;
  /** Set when the bundle was split. */
  parts?: (PartInfo & { path: string })[];
}

/**
 * Writes the archive's bytes to `FILE.tar`, or to `FILE.tar.000`,
 * `.001`… of `partSize` bytes each, hashing the whole and each part as the
 * bytes pass (on another core: see ParallelHash). Everything is written under temporary names (see
 * tempPathFor: a leading dot and the `.ag-tmp-` marker) and renamed by
 * `commit` only once the caller has checked every entry, so a killed or
 * failed pack leaves nothing that looks complete.
 *
 * No fsync of the archive: it is not needed against a killed process (the
 * rename is the commit point), and `tar -cf`, its peer, does not either;
 * run `sync` before removing the medium.
 */
export class BundleWriter {
  private readonly out: string;
  private readonly partSize: number | undefined;
  private readonly count: number;
  /** The whole's and each part's sha256, on another core. */
  private readonly hasher: ArchiveHasher;
  private readonly done: OpenPart[] = [];
  private current: OpenPart | undefined;
  private written = 0;
  private failure: Error | undefined;

  /** `expectedSize` fixes how many parts there will be, and so how wide their numbers are. */
  constructor(out: string, expectedSize: number, partSize?: number) {
    this.out = out;
    this.partSize = partSize;
    this.count = partSize === undefined ? 1 : partCount(expectedSize, partSize);
    this.hasher = createArchiveHasher(partSize);
  }

  private openPart(): OpenPart {
    const index = this.done.length;
    const final = this.partSize === undefined ? this.out : partName(this.out, index, this.count);
    const temp = tempPathFor(final);
    const stream = createWriteStream(temp, { flags: 'wx', highWaterMark: 8 << 20 });
    stream.on('error', (error) => {
      this.failure ??= error;
    });
    const part: OpenPart = { final, temp, stream, size: 0 };
    this.current = part;
    return part;
  }

  private async closePart(part: OpenPart): Promise<void> {
    part.stream.end();
    await once(part.stream, 'close');
    if (this.failure !== undefined) throw this.failure;
    this.done.push(part);
    this.current = undefined;
  }

  /** Appends bytes, waiting when the disk is behind. */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    await this.hasher.update(chunk);
    let rest = chunk;
    while (rest.length > 0) {
      const part = this.current ?? this.openPart();
      const room = this.partSize === undefined ? rest.length : this.partSize - part.size;
      const piece = room >= rest.length ? rest : rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      part.size += piece.length;
      this.written += piece.length;
      if (!part.stream.write(piece)) await once(part.stream, 'drain');
      if (this.failure !== undefined) throw this.failure;
      if (this.partSize !== undefined && part.size === this.partSize) await this.closePart(part);
    }
  }

  /** Closes the last part; nothing is renamed yet. */
  async finish(): Promise<WrittenBundle> {
    if (this.current === undefined && this.done.length === 0) this.openPart();
    if (this.current !== undefined) await this.closePart(this.current);
    const { sha256, parts } = await this.hasher.digest();
    if (this.partSize === undefined) return { size: this.written, sha256 };
    return {
      size: this.written,
      sha256,
      parts: this.done.map((part, index) => ({ file: basename(part.final), path: part.final, size: part.size, sha256: parts[index]! })),
    };
  }

  /** Renames every part to its final name, in order. */
  async commit(): Promise<void> {
    for (const part of this.done) await rename(part.temp, part.final);
  }

  /** Removes whatever was written (on failure). */
  async abort(): Promise<void> {
    await this.hasher.abort();
    const open = this.current === undefined ? [] : [this.current];
    for (const part of open) {
      if (part.stream.closed) continue;
      const closed = once(part.stream, 'close').catch(() => undefined);
      part.stream.destroy();
      await closed;
    }
    await Promise.all([...this.done, ...open].map((part) => rm(part.temp, { force: true })));
  }
}
