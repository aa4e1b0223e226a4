/**
 * unpack onto a directory that already holds the same bundle: the bundle is
 * checked as fully as on a fresh unpack and the directory against its
 * SHA256SUMS; anything bad is exit 3, named, and the directory is left as
 * it was.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flipByte, flipEntryByte, run, tempDir, treeHash, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let bundle: string;
let far: string;
let pub: string;
let otherKey: string;

const path = (...names: string[]): string => join(work.path, ...names);

beforeAll(async () => {
  work = await tempDir('ag-bundle-again-');
  await writeTree(path('root'), { 'files/kubeadm': randomBytes(200_000), 'files/kube-flannel.yml': 'kind: DaemonSet\n', 'packages/deb/socat.deb': randomBytes(30_000) });
  expect((await run(['keygen', '--out', path('key.pem')])).code).toBe(0);
  expect((await run(['keygen', '--out', path('other.pem')])).code).toBe(0);
  pub = path('key.pub.pem');
  otherKey = path('other.pem');
  bundle = path('bundle.tar');
  expect((await run(['pack', '--dir', path('root'), '--out', bundle, '--sign-key', path('key.pem'), '--no-tools'])).code).toBe(0);
  far = path('far');
  const first = await run(['unpack', bundle, '--dir', far, '--key', pub]);
  expect(first.code, first.stderr).toBe(0);
});

afterAll(async () => {
  await work?.cleanup();
});

/** A damaged copy of the bundle, unpacked onto the directory holding the good one: exit 3, `item` named, the directory unchanged. */
async function expectRefusedOntoExisting(name: string, damage: (copy: string) => Promise<void>, item: string, key = pub): Promise<string> {
  const copy = path(`${name}.tar`);
  await copyFile(bundle, copy);
  await damage(copy);
  const before = await treeHash(far);
  const result = await run(['unpack', copy, '--dir', far, '--key', key]);
  expect(result.code, result.stderr).toBe(3);
  expect(result.stdout).toBe('');
  expect(result.stderr).toContain(item);
  expect(result.stderr).not.toContain('nothing to do');
  expect(await treeHash(far)).toBe(before);
  return result.stderr;
}

describe('unpack onto a directory holding the same bundle', () => {
  it('the intact bundle onto the intact directory: both verified, nothing changed, exit 0', async () => {
    const before = await treeHash(far);
    const result = await run(['unpack', bundle, '--dir', far, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('signature verified');
    expect(result.stderr).toContain('every file in');
    expect(result.json).toMatchObject({ root: far, bundle: { file: 'bundle.tar' } });
    expect(await treeHash(far)).toBe(before);
  });

  it('a flipped byte in a member', async () => {
    const stderr = await expectRefusedOntoExisting('flipped', (copy) => flipEntryByte(copy, 'files/kubeadm'), 'files/kubeadm');
    expect(stderr).toContain('mismatch');
  });

  it('a truncated tar', async () => {
    await expectRefusedOntoExisting('truncated', (copy) => stat(copy).then((info) => truncate(copy, info.size - 3000)), 'truncated');
  });

  it('junk appended to the tar', async () => {
    await expectRefusedOntoExisting('junk', (copy) => appendFile(copy, randomBytes(4096)), 'bytes of data after the end of the archive');
  });

  it('a signature by another key swapped in (SHA256SUMS unchanged): exit 3, signature', async () => {
    const stderr = await expectRefusedOntoExisting(
      'resigned',
      async (copy) => {
        const dir = path('resign');
        await execa('mkdir', ['-p', dir]);
        await execa('tar', ['-xf', copy, '-C', dir]);
        await execa('openssl', ['dgst', '-sha256', '-sign', otherKey, '-out', 'SHA256SUMS.sig', 'SHA256SUMS'], { cwd: dir });
        await execa('tar', ['-cf', copy, 'SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'files', 'packages'], { cwd: dir });
      },
      'signature: SHA256SUMS.sig does not verify',
    );
    expect(stderr).toContain('another key signed it');
  });

  it('the right bundle checked with another key: exit 3, signature (not 2)', async () => {
    await expectRefusedOntoExisting('wrongkey', async () => undefined, 'signature: SHA256SUMS.sig does not verify', path('other.pub.pem'));
  });

  it('a rotted file in the directory: exit 3 naming it; --replace restores it from the bundle', async () => {
    await flipByte(join(far, 'packages/deb/socat.deb'), 100);
    await appendFile(join(far, 'files/kube-flannel.yml'), 'x');
    const before = await treeHash(far);
    const result = await run(['unpack', bundle, '--dir', far, '--key', pub]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('packages/deb/socat.deb');
    expect(result.stderr).toContain('files/kube-flannel.yml');
    expect(result.stderr).toContain('pass --replace to restore');
    expect(await treeHash(far)).toBe(before);
    await expect(execa('sha256sum', ['--quiet', '--strict', '-c', 'SHA256SUMS'], { cwd: far })).rejects.toThrow();

    const restored = await run(['unpack', bundle, '--dir', far, '--key', pub, '--replace']);
    expect(restored.code, restored.stderr).toBe(0);
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: far });
  });
});
