/**
 * `-` as the bundle, through real shell pipes into a real ag-bundle process:
 * one tar, and the parts of a split one joined by cat.
 */
import { randomBytes } from 'node:crypto';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AG_BUNDLE, flipEntryByte, listTree, run, sh, shellWord as q, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let pub: string;
let whole: string;
let split: string;

const path = (...names: string[]): string => join(work.path, ...names);

beforeAll(async () => {
  work = await tempDir('ag-bundle-stdin-');
  await writeTree(path('root'), { 'files/kubeadm': randomBytes(300_000), 'files/notes.txt': 'carried on stdin\n' });
  expect((await run(['keygen', '--out', path('key.pem')])).code).toBe(0);
  pub = path('key.pub.pem');
  whole = path('one', 'bundle.tar');
  split = path('split', 'bundle.tar');
  for (const [out, extra] of [[whole, []], [split, ['--split', '64K']]] as const) {
    const packed = await run(['pack', '--dir', path('root'), '--out', out, '--sign-key', path('key.pem'), '--no-tools', ...extra]);
    expect(packed.code, packed.stderr).toBe(0);
  }
});

afterAll(async () => {
  await work?.cleanup();
});

describe('- reads the bundle from stdin', () => {
  it('cat bundle.tar | ag-bundle verify - --key k.pub', async () => {
    const result = await sh(`cat ${q(whole)} | ${AG_BUNDLE} verify - --key ${q(pub)}`);
    expect(result.code, result.stderr).toBe(0);
    // Its files and its SBOM (sbom.cdx.json), as SHA256SUMS lists them.
    expect(result.stderr).toContain('stdin: 3 file(s) and bundle.json');
    expect(JSON.parse(result.stdout)).toMatchObject({ bundle: { file: 'bundle.tar', signed: true } });
  });

  it('cat bundle.tar | ag-bundle unpack - --dir D, checkable with sha256sum -c', async () => {
    const dir = path('far-one');
    const result = await sh(`cat ${q(whole)} | ${AG_BUNDLE} unpack - --dir ${q(dir)} --key ${q(pub)}`);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ root: dir });
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
  });

  it('the parts of a split bundle joined by cat, for verify and unpack', async () => {
    const parts = (await listTree(path('split')))!.filter((name) => /^bundle\.tar\.\d{3}$/.test(name));
    expect(parts.length).toBeGreaterThan(3);
    const joined = `cat ${q(path('split'))}/bundle.tar.[0-9][0-9][0-9]`;
    const verified = await sh(`${joined} | ${AG_BUNDLE} verify - --key ${q(pub)}`);
    expect(verified.code, verified.stderr).toBe(0);
    const dir = path('far-split');
    const unpacked = await sh(`${joined} | ${AG_BUNDLE} unpack - --dir ${q(dir)} --key ${q(pub)}`);
    expect(unpacked.code, unpacked.stderr).toBe(0);
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir });
  });

  it('a damaged bundle on stdin is refused (exit 3), naming the file, onto a new or an existing directory', async () => {
    const bad = path('bad.tar');
    await copyFile(whole, bad);
    await flipEntryByte(bad, 'files/kubeadm');
    for (const dir of [path('far-bad'), path('far-one')]) {
      const result = await sh(`cat ${q(bad)} | ${AG_BUNDLE} unpack - --dir ${q(dir)} --key ${q(pub)}`);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain('files/kubeadm');
    }
    expect(await listTree(path('far-bad'))).toBeUndefined();
    const verified = await sh(`${AG_BUNDLE} verify - --key ${q(pub)} < ${q(bad)}`);
    expect(verified.code).toBe(3);
  });
});
