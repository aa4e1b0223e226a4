import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchedWrites, WRITE_BATCH_BYTES } from './batched-writes.js';
import { readEachChunk } from './download/each-chunk.js';

let dir: string;
let mounted: string | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-batched-writes-'));
});

afterEach(async () => {
  if (mounted !== undefined) await execa('umount', [mounted]);
  mounted = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Writes into `path` through a BatchedWrites, recording each range onWritten reports. */
function writerFor(path: string, position: number | null = 0): { writes: BatchedWrites; reported: number[]; fd: number } {
  const fd = openSync(path, position === null ? 'a' : 'w');
  const reported: number[] = [];
  const writes = new BatchedWrites(fd, position, path, (pieces, length) => {
    expect(pieces.reduce((t, p) => t + p.length, 0)).toBe(length);
    reported.push(length);
  });
  return { writes, reported, fd };
}

describe('BatchedWrites', () => {
  it('writes once a batch holds 64 KiB, and flush writes the rest: the file holds every byte in order', () => {
    const path = join(dir, 'file');
    const { writes, reported, fd } = writerFor(path);
    const chunks = [randomBytes(30_000), randomBytes(30_000), randomBytes(10_000), randomBytes(5)];
    writes.add(chunks[0]!);
    writes.add(chunks[1]!);
    // 60,000 bytes: under a batch, nothing written yet.
    expect(statSync(path).size).toBe(0);
    expect(writes.pending).toBe(60_000);
    writes.add(chunks[2]!);
    expect(reported).toEqual([70_000]);
    expect(statSync(path).size).toBe(70_000);
    writes.add(chunks[3]!);
    expect(writes.pending).toBe(5);
    writes.flush();
    closeSync(fd);
    expect(reported).toEqual([70_000, 5]);
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
    expect(WRITE_BATCH_BYTES).toBe(64 * 1024);
  });

  it('discard drops what was not written, and moveTo writes over the file from a position', () => {
    const path = join(dir, 'file');
    const { writes, fd } = writerFor(path);
    writes.add(Buffer.from('0123456789'));
    writes.flush();
    writes.add(Buffer.from('never'));
    writes.discard();
    writes.moveTo(2);
    writes.add(Buffer.from('ab'));
    writes.flush();
    closeSync(fd);
    expect(readFileSync(path, 'utf8')).toBe('01ab456789');
  });

  it('appends at the end of a file opened to append (position null)', () => {
    const path = join(dir, 'file');
    const first = writerFor(path, null);
    first.writes.add(Buffer.from('abc'));
    first.writes.flush();
    closeSync(first.fd);
    const second = writerFor(path, null);
    second.writes.add(Buffer.from('def'));
    second.writes.flush();
    closeSync(second.fd);
    expect(readFileSync(path, 'utf8')).toBe('abcdef');
  });

  it('on a full disk throws ENOSPC having reported exactly the bytes that reached the file', async () => {
    const disk = join(dir, 'disk');
    await mkdir(disk);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
    mounted = disk;
    const path = join(disk, 'file');
    const { writes, reported, fd } = writerFor(path);
    let thrown: unknown;
    try {
      for (let i = 0; i < 40; i += 1) writes.add(randomBytes(50_000));
      writes.flush();
    } catch (error) {
      thrown = error;
    }
    closeSync(fd);
    expect((thrown as { code?: string } | undefined)?.code).toBe('ENOSPC');
    const onDisk = statSync(path).size;
    expect(onDisk).toBeGreaterThan(0);
    expect(reported.reduce((t, n) => t + n, 0)).toBe(onDisk);
  });
});

describe('readEachChunk', () => {
  it('hands over every chunk that arrived before the body broke', async () => {
    const body = new PassThrough();
    const taken: string[] = [];
    const reading = readEachChunk(body, (chunk) => void taken.push(chunk.toString()));
    body.write('one');
    body.write('two');
    await new Promise((resolve) => setImmediate(resolve));
    body.destroy(new Error('connection reset'));
    await expect(reading).rejects.toThrow('connection reset');
    expect(taken.join('')).toBe('onetwo');
  });

  it('rejects with what take threw, and destroys the body', async () => {
    const body = new PassThrough();
    const reading = readEachChunk(body, () => {
      throw new Error('disk full');
    });
    body.write('x');
    await expect(reading).rejects.toThrow('disk full');
    expect(body.destroyed).toBe(true);
  });

  it('resolves when the body ends, even one that ended before it was read', async () => {
    const body = new PassThrough();
    body.end('all');
    const taken: Buffer[] = [];
    await readEachChunk(body, (chunk) => void taken.push(chunk));
    expect(Buffer.concat(taken).toString()).toBe('all');
  });
});
