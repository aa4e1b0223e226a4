import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { decodeHeader, encodeHeader, entryBytes, padding } from './header.js';
import { TarReader } from './reader.js';

async function* chunks(...buffers: Buffer[]): AsyncGenerator<Buffer> {
  yield* buffers;
}

function archive(entries: { path: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { path, data } of entries) {
    parts.push(encodeHeader({ path, size: data.length, mode: 0o644, mtime: 1_700_000_000 }), data, Buffer.alloc(padding(data.length)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const names = [
  'short.txt',
  `${'dir/'.repeat(30)}fits-the-ustar-prefix.txt`,
  `images/blobs/sha256/${'a'.repeat(64)}-and-then-a-name-longer-than-one-hundred-bytes-${'b'.repeat(60)}`,
  `${'x'.repeat(200)}/needs-pax.txt`,
  'files/ünïcödé name.txt',
];

describe('tar headers', () => {
  it('writes names of any length that GNU tar lists and extracts exactly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-tar-'));
    try {
      const entries = names.map((path, i) => ({ path, data: Buffer.from(`content ${i}\n`) }));
      const bytes = archive(entries);
      expect(bytes.length).toBe(entries.reduce((sum, entry) => sum + entryBytes({ path: entry.path, size: entry.data.length }), 0) + 1024);
      await writeFile(join(dir, 'a.tar'), bytes);
      const { stdout } = await execa('tar', ['-tf', 'a.tar'], { cwd: dir });
      expect(stdout.split('\n')).toEqual(names);
      await execa('mkdir', ['x'], { cwd: dir });
      await execa('tar', ['-xf', 'a.tar', '-C', 'x'], { cwd: dir });
      for (const [i, path] of names.entries()) expect(await readFile(join(dir, 'x', path), 'utf8')).toBe(`content ${i}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads back what it writes', async () => {
    const reader = new TarReader(chunks(archive(names.map((path) => ({ path, data: Buffer.from(path) })))));
    const read: string[] = [];
    for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
      const chunks: Buffer[] = [];
      await reader.body((chunk) => {
        chunks.push(chunk);
      });
      expect(Buffer.concat(chunks).toString()).toBe(entry.path);
      read.push(entry.path);
    }
    expect(read).toEqual(names);
  });

  it('carries sizes beyond the 8 GiB octal field (pax size and GNU base-256)', async () => {
    const size = 10 * 1024 ** 3 + 7;
    const header = encodeHeader({ path: 'files/disk.img', size, mode: 0o644, mtime: 0 });
    expect(decodeHeader(header.subarray(header.length - 512)).size).toBe(size);
    const entry = await new TarReader(chunks(header)).next();
    expect(entry?.size).toBe(size);
  });

  it('refuses a block whose checksum does not match', () => {
    const header = encodeHeader({ path: 'a', size: 1, mode: 0o644, mtime: 0 });
    header[10] = 0x41;
    expect(() => decodeHeader(header)).toThrow(/checksum/);
  });
});
