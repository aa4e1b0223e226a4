/**
 * POSIX ustar headers (IEEE 1003.1-2001 "pax" interchange format), written
 * and read by hand rather than through node-tar: ag-bundle needs exact
 * control over what a header may say (regular files only on the way out, no
 * links or devices on the way in) and a predictable byte count, so that the
 * bundle's size is known before the first byte is written.
 *
 * Written: ustar headers, with a pax extended header (`x`) in front when a
 * path does not fit ustar's name/prefix split, is not ASCII, or a size
 * exceeds ustar's 8 GiB octal field (the header then also carries GNU's
 * base-256 size, which GNU tar and busybox read). Read: ustar, pax (`x`,
 * `g`), GNU long names (`L`, `K`), octal and base-256 numbers.
 */

export const BLOCK = 512;

/** ustar type flags ag-bundle meets. */
export const TarType = {
  file: '0',
  oldFile: '\0',
  hardLink: '1',
  symlink: '2',
  charDevice: '3',
  blockDevice: '4',
  directory: '5',
  fifo: '6',
  contiguous: '7',
  paxHeader: 'x',
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
} as const;

const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1
const TEXT = new TextEncoder();

/** Bytes of padding after `size` bytes of entry data. */
export function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

export interface HeaderFields {
  path: string;
  size: number;
  /** Permission bits (0o644, 0o755). */
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  type?: string;
  linkName?: string;
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, length, 'ascii');
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // length-1 digits, then NUL.
  block.write(value.toString(8).padStart(length - 1, '0'), offset, length - 1, 'ascii');
  block[offset + length - 1] = 0;
}

function writeBase256(block: Buffer, offset: number, length: number, value: number): void {
  let rest = BigInt(value);
  for (let i = offset + length - 1; i > offset; i -= 1) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

function isPlainAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes), or undefined when it cannot be. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (!isPlainAscii(path)) return undefined;
  if (path.length <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
    if (prefix.length > 155) break;
  }
  return undefined;
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

function encodeUstar(fields: HeaderFields, name: string, prefix: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, fields.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (fields.size > MAX_OCTAL_SIZE) writeBase256(block, 124, 12, fields.size);
  else writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(fields.mtime)));
  block.write(fields.type ?? TarType.file, 156, 1, 'ascii');
  if (fields.linkName !== undefined) writeString(block, 157, 100, fields.linkName);
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  writeString(block, 265, 32, 'root');
  writeString(block, 297, 32, 'root');
  writeString(block, 345, 155, prefix);
  const sum = checksum(block);
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** One pax record: `<length> <key>=<value>\n`, where length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = TEXT.encode(body).length;
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return `${length}${body}`;
}

/**
 * The header block(s) for one entry: a pax extended header and its data
 * first when needed, then the ustar header. The caller writes the data and
 * `padding(size)` zero bytes after it.
 */
export function encodeHeader(fields: HeaderFields): Buffer {
  const split = splitUstarPath(fields.path);
  const records: string[] = [];
  if (split === undefined) records.push(paxRecord('path', fields.path));
  if (fields.size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(fields.size)));
  if (records.length === 0) return encodeUstar(fields, split!.name, split!.prefix);
  const paxData = Buffer.from(records.join(''), 'utf8');
  const base = fields.path.split('/').pop() ?? 'entry';
  const paxName = `PaxHeaders/${isPlainAscii(base) ? base.slice(0, 80) : 'entry'}`;
  const paxHeader = encodeUstar({ path: paxName, size: paxData.length, mode: 0o644, mtime: fields.mtime, type: TarType.paxHeader }, paxName, '');
  const ustarName = split?.name ?? (isPlainAscii(fields.path) ? fields.path.slice(-100) : 'pax-named-entry');
  return Buffer.concat([paxHeader, paxData, Buffer.alloc(padding(paxData.length)), encodeUstar(fields, ustarName, split?.prefix ?? '')]);
}

/** The bytes `encodeHeader` plus data and padding will take for one file. */
export function entryBytes(fields: Pick<HeaderFields, 'path' | 'size'>): number {
  const header = encodeHeader({ ...fields, mode: 0o644, mtime: 0 }).length;
  return header + fields.size + padding(fields.size);
}

/** What a header block says, before pax or GNU long-name overrides. */
export interface RawHeader {
  name: string;
  size: number;
  mode: number;
  mtime: number;
  type: string;
  linkName: string;
}

function readString(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

function readNumber(block: Buffer, offset: number, length: number): number {
  if ((block[offset]! & 0x80) !== 0) {
    let value = BigInt(block[offset]! & 0x7f);
    for (let i = offset + 1; i < offset + length; i += 1) value = (value << 8n) | BigInt(block[i]!);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError('a base-256 number is too large');
    return Number(value);
  }
  const text = block.toString('ascii', offset, offset + length).replace(/[\0 ]+$/g, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`a numeric field holds ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** The archive itself is malformed (not a bad file inside it). */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i += 1) if (block[i] !== 0) return false;
  return true;
}

/** Parses one 512-byte header block; checks its checksum. */
export function decodeHeader(block: Buffer): RawHeader {
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i += 1) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) throw new TarFormatError('a header checksum does not match (not a tar archive, or damaged)');
  const magic = block.toString('ascii', 257, 263);
  let name = readString(block, 0, 100);
  // POSIX ustar has a prefix field; GNU's old format ("ustar  ") uses those bytes for other things.
  if (magic === 'ustar\0') {
    const prefix = readString(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  return {
    name,
    size: readNumber(block, 124, 12),
    mode: readNumber(block, 100, 8),
    mtime: readNumber(block, 136, 12),
    type: String.fromCharCode(block[156]!),
    linkName: readString(block, 157, 100),
  };
}

/** Parses pax extended header data into its key/value records. */
export function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = parseInt(data.toString('ascii', at, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) throw new TarFormatError('a pax header record is malformed');
    const record = data.toString('utf8', space + 1, at + length - 1);
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}
