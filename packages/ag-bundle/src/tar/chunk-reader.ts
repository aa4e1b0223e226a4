/**
 * Reads exact byte counts out of a stream of chunks without copying file
 * data: headers (512 bytes) are assembled when they straddle chunks; entry
 * data is handed on as slices of the chunks as they arrive, so memory stays
 * at a chunk or two whatever the entry's size.
 */
/** A chunk source that can also jump forward without reading (a file: see seekableChunks). */
export interface SkippableSource extends AsyncIterable<Buffer> {
  /** Moves past `n` bytes not yet delivered; returns how many there were. */
  skip?(n: number): number;
}

export class ChunkReader {
  private readonly source: AsyncIterator<Buffer>;
  private readonly skipper: SkippableSource['skip'];
  private current: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes consumed so far: the offset of the next byte in the archive. */
  offset = 0;

  constructor(source: SkippableSource) {
    this.source = source[Symbol.asyncIterator]();
    this.skipper = source.skip?.bind(source);
  }

  /** Stops reading (closes the file behind the source). */
  async close(): Promise<void> {
    await this.source.return?.();
  }

  private async fill(): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.current = next.value;
    }
    return true;
  }

  /**
   * Exactly `n` bytes, or fewer when the stream ends first (the caller
   * decides whether that is a truncation).
   */
  async read(n: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.current.length >= n) {
      const out = this.current.subarray(0, n);
      this.current = this.current.subarray(n);
      this.offset += n;
      return out;
    }
    const parts: Buffer[] = [];
    let want = n;
    while (want > 0 && (await this.fill())) {
      const take = Math.min(want, this.current.length);
      parts.push(this.current.subarray(0, take));
      this.current = this.current.subarray(take);
      want -= take;
    }
    const out = Buffer.concat(parts);
    this.offset += out.length;
    return out;
  }

  /**
   * Hands the next `n` bytes to `onChunk` as they arrive (awaiting it, so a
   * slow writer holds the reader back). Returns how many bytes there were:
   * fewer than `n` means the stream ended early.
   */
  async stream(n: number, onChunk?: (chunk: Buffer) => void | Promise<void>): Promise<number> {
    let done = 0;
    if (onChunk === undefined && this.skipper !== undefined && n > this.current.length) {
      // Nobody wants these bytes: jump over them instead of reading them.
      done = this.current.length;
      this.current = Buffer.alloc(0);
      done += this.skipper(n - done);
      this.offset += done;
      return done;
    }
    while (done < n && (await this.fill())) {
      const take = Math.min(n - done, this.current.length);
      const chunk = this.current.subarray(0, take);
      this.current = this.current.subarray(take);
      this.offset += take;
      done += take;
      if (onChunk !== undefined) await onChunk(chunk);
    }
    return done;
  }

  /** Reads everything that is left; returns whether any of it was not zero. */
  async drain(): Promise<{ bytes: number; nonZero: boolean }> {
    let bytes = 0;
    let nonZero = false;
    while (await this.fill()) {
      const chunk = this.current;
      this.current = Buffer.alloc(0);
      this.offset += chunk.length;
      bytes += chunk.length;
      if (!nonZero && chunk.some((byte) => byte !== 0)) nonZero = true;
    }
    return { bytes, nonZero };
  }
}
