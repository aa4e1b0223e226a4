import { ChunkReader, type SkippableSource } from './chunk-reader.js';
import { BLOCK, decodeHeader, isZeroBlock, padding, parsePax, TarFormatError, TarType } from './header.js';

export type EntryKind = 'file' | 'directory' | 'hardlink' | 'symlink' | 'device' | 'fifo' | 'other';

/** One archive member as its headers describe it (pax and GNU long names applied). */
export interface TarEntry {
  /** The path exactly as the archive names it: not yet checked or normalised. */
  path: string;
  kind: EntryKind;
  /** The raw type flag. */
  type: string;
  size: number;
  mode: number;
  mtime: number;
  linkName: string;
  /** Where the entry's first header starts in the archive. */
  headerOffset: number;
  /** Where its data starts. */
  dataOffset: number;
}

/** The archive ends in the middle of an entry or before its end-of-archive marker. */
export class TarTruncatedError extends Error {
  readonly offset: number;
  readonly entryPath: string | undefined;
  readonly expected: number | undefined;
  readonly actual: number | undefined;

  constructor(message: string, offset: number, entry?: { path: string; expected: number; actual: number }) {
    super(message);
    this.name = 'TarTruncatedError';
    this.offset = offset;
    this.entryPath = entry?.path;
    this.expected = entry?.expected;
    this.actual = entry?.actual;
  }
}

function kindOf(type: string): EntryKind {
  switch (type) {
    case TarType.file:
    case TarType.oldFile:
    case TarType.contiguous:
      return 'file';
    case TarType.directory:
      return 'directory';
    case TarType.hardLink:
      return 'hardlink';
    case TarType.symlink:
      return 'symlink';
    case TarType.charDevice:
    case TarType.blockDevice:
      return 'device';
    case TarType.fifo:
      return 'fifo';
    default:
      return 'other';
  }
}

/** Most metadata a pax or GNU long-name header may carry before it is refused. */
const MAX_META_BYTES = 1 << 20;

/**
 * Walks a tar stream entry by entry. `next()` returns the next member (or
 * undefined at the end-of-archive marker); `body()` streams the current
 * member's data, and anything left unread is skipped by the next `next()`.
 */
export class TarReader {
  readonly bytes: ChunkReader;
  private pending = 0;
  private current: TarEntry | undefined;
  private ended = false;

  constructor(source: SkippableSource) {
    this.bytes = new ChunkReader(source);
  }

  /** The offset of the next unread byte. */
  get offset(): number {
    return this.bytes.offset;
  }

  private async readBlock(what: string): Promise<Buffer | undefined> {
    const at = this.bytes.offset;
    const block = await this.bytes.read(BLOCK);
    if (block.length === 0) return undefined;
    if (block.length < BLOCK) throw new TarTruncatedError(`the archive ends inside ${what} at byte ${at + block.length}`, at + block.length);
    return block;
  }

  private async readMeta(size: number, what: string): Promise<Buffer> {
    if (size > MAX_META_BYTES) throw new TarFormatError(`${what} is ${size} bytes, more than ag accepts`);
    const data = await this.bytes.read(size);
    if (data.length < size) throw new TarTruncatedError(`the archive ends inside ${what}`, this.bytes.offset);
    const pad = padding(size);
    if ((await this.bytes.stream(pad)) < pad) throw new TarTruncatedError(`the archive ends inside ${what}`, this.bytes.offset);
    return Buffer.from(data);
  }

  private async skipRest(): Promise<void> {
    if (this.current === undefined) return;
    const entry = this.current;
    const want = this.pending + padding(entry.size);
    const got = await this.bytes.stream(want);
    this.pending = 0;
    this.current = undefined;
    if (got < want) {
      const dataRead = Math.min(entry.size, this.bytes.offset - entry.dataOffset);
      throw new TarTruncatedError(`the archive ends inside ${entry.path} (${dataRead} of ${entry.size} bytes)`, this.bytes.offset, {
        path: entry.path,
        expected: entry.size,
        actual: dataRead,
      });
    }
  }

  /** The next member, or undefined at the end of the archive. */
  async next(): Promise<TarEntry | undefined> {
    await this.skipRest();
    if (this.ended) return undefined;
    let paxPath: string | undefined;
    let paxSize: number | undefined;
    let paxLink: string | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const headerOffset = this.bytes.offset;
      const block = await this.readBlock('a header');
      if (block === undefined) {
        throw new TarTruncatedError(`the archive ends at byte ${headerOffset} without its end-of-archive marker`, headerOffset);
      }
      if (isZeroBlock(block)) {
        // The end-of-archive marker is two zero blocks; GNU tar accepts one, so do we.
        await this.bytes.read(BLOCK);
        this.ended = true;
        return undefined;
      }
      const raw = decodeHeader(block);
      if (raw.type === TarType.paxHeader || raw.type === TarType.paxGlobal) {
        const records = parsePax(await this.readMeta(raw.size, 'a pax header'));
        // Global headers apply to every later member; ag never writes one, and a
        // global path or size would be an attempt to confuse: only local ones count.
        if (raw.type === TarType.paxHeader) {
          paxPath = records.get('path') ?? paxPath;
          paxLink = records.get('linkpath') ?? paxLink;
          const size = records.get('size');
          if (size !== undefined) {
            if (!/^\d+$/.test(size) || !Number.isSafeInteger(Number(size))) throw new TarFormatError(`a pax size ${JSON.stringify(size)} is malformed`);
            paxSize = Number(size);
          }
        }
        continue;
      }
      if (raw.type === TarType.gnuLongName || raw.type === TarType.gnuLongLink) {
        const data = await this.readMeta(raw.size, 'a GNU long name');
        const end = data.indexOf(0);
        const text = data.toString('utf8', 0, end === -1 ? data.length : end);
        if (raw.type === TarType.gnuLongName) longName = text;
        else longLink = text;
        continue;
      }
      const size = paxSize ?? raw.size;
      const kind = kindOf(raw.type);
      const entry: TarEntry = {
        path: paxPath ?? longName ?? raw.name,
        kind,
        type: raw.type,
        // Links, devices and directories carry no data, whatever their size field says.
        size: kind === 'file' || kind === 'other' ? size : 0,
        mode: raw.mode,
        mtime: raw.mtime,
        linkName: paxLink ?? longLink ?? raw.linkName,
        headerOffset,
        dataOffset: this.bytes.offset,
      };
      this.current = entry;
      this.pending = entry.size;
      return entry;
    }
  }

  /**
   * Streams the current member's data to `onChunk`. Throws a
   * TarTruncatedError when the archive ends first.
   */
  async body(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    const entry = this.current;
    if (entry === undefined) return;
    const want = this.pending;
    const got = await this.bytes.stream(want, onChunk);
    this.pending -= got;
    if (got < want) {
      this.current = undefined;
      throw new TarTruncatedError(`the archive ends inside ${entry.path} (${entry.size - this.pending} of ${entry.size} bytes)`, this.bytes.offset, {
        path: entry.path,
        expected: entry.size,
        actual: entry.size - this.pending,
      });
    }
    await this.skipRest();
  }
}
