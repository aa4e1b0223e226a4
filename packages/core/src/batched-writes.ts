import { writevSync } from 'node:fs';

/**
 * Received bytes are gathered to about this size before one write to a file.
 *
 * Not more: on Linux 6.x, ext4 fills the page cache with large folios sized
 * to the write, and a large folio takes fresh high-order memory, which in a
 * virtual machine whose balloon reports free memory to the host must be
 * handed back page by page on first touch (this machine: kernel 6.18,
 * virtio_balloon). Writing 256 MiB with dd after the memory had been freed a
 * few seconds took 0.43-0.93 s of system time at bs=256K to 1M and
 * 0.07-0.13 s at bs=64K and 128K (0.18 s at 16K: more calls); a 256 MiB pull
 * of 16 layers 1.48-1.75 s with 1 MiB writes against 1.04-1.35 s with 64 KiB
 * (skopeo, which writes 32 KiB at a time, 0.87-1.09 s in the same rounds).
 * Not less: every write is a system call.
 */
export const WRITE_BATCH_BYTES = 64 * 1024;

/**
 * Chunks bound for one file, written with one writev each time about
 * WRITE_BATCH_BYTES are in hand. Writes happen on this thread (writevSync):
 * into the page cache one takes microseconds, and a round trip through
 * libuv's thread pool cost more than the write (1 GiB in one layer: 5.6 s of
 * CPU against 4.0 s). `onWritten` hears every range that reached the file, in
 * order, before anything else is written, so a hash fed from it covers
 * exactly the bytes on disk and a broken transfer resumes from them.
 */
export class BatchedWrites {
  private chunks: Uint8Array[] = [];
  private bytes = 0;

  /**
   * `position` is where the next byte goes (null: the file's end, for a file
   * opened to append); `what` names the file in an error.
   */
  constructor(
    private readonly fd: number,
    private position: number | null,
    private readonly what: string,
    private readonly onWritten: (pieces: Uint8Array[], length: number) => void,
  ) {}

  /** Bytes taken and not yet written. */
  get pending(): number {
    return this.bytes;
  }

  /** Takes a chunk; writes the batch once it is full. */
  add(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= WRITE_BATCH_BYTES) this.flush();
  }

  /**
   * Writes everything taken. A short write (the disk filled) is carried on
   * from where it stopped, so the next write fails with the reason (ENOSPC);
   * only bytes that reached the file are ever reported.
   */
  flush(): void {
    const chunks = this.chunks;
    const count = this.bytes;
    this.discard();
    let done = 0;
    while (done < count) {
      const written = writevSync(this.fd, sliceBuffers(chunks, done), this.position ?? undefined);
      if (written === 0) throw new Error(`writing ${this.what}: the file system took no bytes at offset ${this.position ?? 'end'}`);
      if (this.position !== null) this.position += written;
      this.onWritten(sliceBuffers(chunks, done, written), written);
      done += written;
    }
  }

  /** Drops what was taken and not yet written. */
  discard(): void {
    this.chunks = [];
    this.bytes = 0;
  }

  /** From now on the next byte goes to `position` (after the file was truncated, say). */
  moveTo(position: number): void {
    this.position = position;
  }
}

/** `buffers` from byte `from` on, at most `length` bytes, without copying. */
function sliceBuffers(buffers: Uint8Array[], from: number, length = Number.POSITIVE_INFINITY): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = from;
  let left = length;
  for (const buffer of buffers) {
    if (left <= 0) break;
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    const piece = buffer.subarray(skip, skip + Math.min(left, buffer.length - skip));
    skip = 0;
    left -= piece.length;
    out.push(piece);
  }
  return out;
}
