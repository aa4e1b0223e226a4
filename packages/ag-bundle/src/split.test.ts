import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBundleInput } from './input.js';
import { unpackBundle } from './unpack.js';
import { verifyBundle } from './verify.js';
import { flipByte, listTree, run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let pub: string;
let parts: string[];
let document: Record<string, unknown>;

const original = (): string => join(work.path, 'out');
const name = (index: number): string => `bundle.tar.${String(index).padStart(3, '0')}`;

/** A fresh copy of the parts and their list, to damage. */
async function copySet(label: string): Promise<string> {
  const dir = join(work.path, label);
  await mkdir(dir, { recursive: true });
  for (const file of await readdir(original())) await copyFile(join(original(), file), join(dir, file));
  return dir;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

beforeAll(async () => {
  work = await tempDir();
  const root = join(work.path, 'root');
  await writeTree(root, {
    'files/kubelet': randomBytes(150_000),
    'files/kubectl': randomBytes(120_000),
    'files/small.txt': 'small\n',
  });
  const key = join(work.path, 'key.pem');
  pub = join(work.path, 'key.pub.pem');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
  await mkdir(original());
  const result = await run(['pack', '--dir', root, '--out', join(original(), 'bundle.tar'), '--split', '64K', '--sign-key', key, '--no-tools']);
  expect(result.code, result.stderr).toBe(0);
  document = result.json!;
  parts = (await readdir(original())).filter((file) => /\.\d{3}$/.test(file)).sort();
});

afterAll(async () => {
  await work?.cleanup();
});

describe('pack --split', () => {
  it('writes numbered parts of the given size, a parts list and its signature, and no whole file', async () => {
    expect(parts.length).toBeGreaterThanOrEqual(4);
    expect(parts[0]).toBe('bundle.tar.000');
    for (const part of parts.slice(0, -1)) expect((await stat(join(original(), part))).size).toBe(64 * 1024);
    const files = await readdir(original());
    expect(files).toContain('bundle.tar.parts');
    expect(files).toContain('bundle.tar.parts.sig');
    expect(files).not.toContain('bundle.tar');
  });

  it('lists every part with its size and sha256, signed so that openssl verifies it', async () => {
    const list = JSON.parse(await readFile(join(original(), 'bundle.tar.parts'), 'utf8')) as { parts: { file: string; size: number; sha256: string }[]; sha256: string };
    expect(list.parts.map((part) => part.file)).toEqual(parts);
    for (const part of list.parts) {
      expect(part.sha256).toBe(await sha256(join(original(), part.file)));
      expect(part.size).toBe((await stat(join(original(), part.file))).size);
    }
    await execa('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', 'bundle.tar.parts.sig', 'bundle.tar.parts'], { cwd: original() });
    // The parts are plain byte ranges: joined, they are the archive the document names.
    const { stdout } = await execa('sh', ['-c', `cat ${parts.join(' ')} | sha256sum`], { cwd: original() });
    expect(stdout.split(' ')[0]).toBe(list.sha256);
    expect(document['bundle']).toMatchObject({ sha256: list.sha256, partSize: 65536, partsList: 'bundle.tar.parts', parts: list.parts });
  });
});

describe('verify and unpack of parts', () => {
  it('accepts the parts in any order, the list, or the bundle name', async () => {
    const shuffled = [...parts].reverse().map((part) => join(original(), part));
    for (const args of [shuffled, [join(original(), 'bundle.tar.parts')], [join(original(), 'bundle.tar')]]) {
      const result = await run(['verify', ...args, '--key', pub]);
      expect(result.code, result.stderr).toBe(0);
    }
  });

  it('verifies the joined parts from stdin', async () => {
    const joined = Readable.from(
      (async function* () {
        for (const part of parts) yield* createReadStream(join(original(), part));
      })(),
    );
    const input = await openBundleInput(['-'], { cwd: work.path, stdin: joined });
    const report = await verifyBundle(input);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('unpacks from the parts, naming them in the document', async () => {
    const dir = join(work.path, 'far', 'ok');
    const result = await run(['unpack', ...parts.map((part) => join(original(), part)), '--dir', dir, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ root: dir, bundle: { sha256: (document['bundle'] as { sha256: string }).sha256, parts: expect.any(Array) } });
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
  });

  it('unpacks the joined parts from stdin (cat bundle.tar.* | ag-bundle unpack -)', async () => {
    const joined = Readable.from(
      (async function* () {
        for (const part of parts) yield* createReadStream(join(original(), part));
      })(),
    );
    const dir = join(work.path, 'far', 'stdin');
    const result = await unpackBundle(await openBundleInput(['-'], { cwd: work.path, stdin: joined }), { dir });
    expect(result.status).toBe('unpacked');
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
  });
});

async function expectBadSet(label: string, damage: (dir: string) => Promise<void>, expected: RegExp): Promise<string> {
  const dir = await copySet(label);
  await damage(dir);
  const verified = await run(['verify', join(dir, 'bundle.tar.parts'), '--key', pub]);
  expect(verified.code, verified.stderr).toBe(3);
  expect(verified.stderr).toMatch(expected);
  const target = join(work.path, 'far', label);
  const unpacked = await run(['unpack', join(dir, 'bundle.tar.parts'), '--dir', target, '--key', pub]);
  expect(unpacked.code).toBe(3);
  expect(await listTree(target)).toBeUndefined();
  return verified.stderr;
}

describe('a bad disc is named', () => {
  it('a missing part', async () => {
    await expectBadSet('missing', (dir) => rm(join(dir, name(2))), /part bundle\.tar\.002 is missing/);
  });

  it('a truncated part', async () => {
    await expectBadSet('truncated', (dir) => truncate(join(dir, name(1)), 1000), /part bundle\.tar\.001 is truncated: 1000 of 65536 bytes/);
  });

  it('swapped parts', async () => {
    const stderr = await expectBadSet(
      'swapped',
      async (dir) => {
        await rename(join(dir, name(1)), join(dir, 'x'));
        await rename(join(dir, name(2)), join(dir, name(1)));
        await rename(join(dir, 'x'), join(dir, name(2)));
      },
      /part bundle\.tar\.001 holds what bundle\.tar\.002 should hold/,
    );
    expect(stderr).toMatch(/part bundle\.tar\.002 holds what bundle\.tar\.001 should hold/);
  });

  it('one damaged byte: the part and the file in it', async () => {
    const stderr = await expectBadSet('flipped', (dir) => flipByte(join(dir, name(2)), 30_000), /part bundle\.tar\.002 does not match the parts list/);
    expect(stderr).toMatch(/files\/kube\w+ does not match SHA256SUMS .*\[on [^\]]*bundle\.tar\.002/);
    expect(stderr).toContain('copy bundle.tar.002');
  });

  it('a parts list signed by another key', async () => {
    const other = join(work.path, 'other.pem');
    expect((await run(['keygen', '--out', other])).code).toBe(0);
    await expectBadSet(
      'resigned',
      (dir) => execa('openssl', ['dgst', '-sha256', '-sign', other, '-out', 'bundle.tar.parts.sig', 'bundle.tar.parts'], { cwd: dir }).then(() => undefined),
      /bundle\.tar\.parts\.sig does not verify bundle\.tar\.parts/,
    );
  });

  it('a missing parts list, with what to do', async () => {
    const dir = await copySet('nolist');
    await rm(join(dir, 'bundle.tar.parts'));
    const result = await run(['verify', join(dir, name(0)), join(dir, name(1))]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('the parts list');
    expect(result.stderr).toContain('ag-bundle verify -');
  });
});
