import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSize } from './size.js';
import { run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  work = await tempDir();
  await writeTree(join(work.path, 'root'), { 'files/a': 'a\n' });
});

afterAll(async () => {
  await work?.cleanup();
});

describe('ag-bundle command line', () => {
  it('prints help with examples on stdout', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    for (const verb of ['pack', 'scan', 'verify', 'unpack', 'inspect', 'report', 'keygen', 'inventory']) expect(result.stdout).toContain(verb);
    expect(result.stdout).toContain('ag-bundle keygen --out key.pem');
    expect(result.stdout).toContain('Examples:');
  });

  it('exits 2 for usage errors, with nothing on stdout', async () => {
    const root = join(work.path, 'root');
    for (const args of [
      ['verify'],
      ['pack', '--out', 'x.tar', '--unsigned'],
      ['pack', '--dir', root, '--out', join(root, 'in.tar'), '--unsigned'],
      ['pack', '--dir', root, '--out', 'x.tar', '--split', '4 lorries', '--unsigned'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--sign-key', 'k.pem'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--full'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--site', '../etc'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--site', 'a', '--full', '--have', 'inv.json'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--require-scan', '--accept', 'CVE-1'],
      ['pack', '--dir', root, '--out', 'x.tar', '--unsigned', '--accept', 'CVE-1', '--reason', 'r'],
      ['scan', '--dir', root],
    ]) {
      const result = await run(args, { cwd: work.path });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe('');
    }
  });

  it('exits 5 for a bundle that is not there', async () => {
    const result = await run(['verify', join(work.path, 'nope.tar')]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('does not exist');
  });

  it('keygen writes a 0600 private key and refuses to replace it without --force', async () => {
    const key = join(work.path, 'k.pem');
    const made = await run(['keygen', '--out', key]);
    expect(made.code).toBe(0);
    expect(made.json).toMatchObject({ privateKey: key, publicKey: join(work.path, 'k.pub.pem'), algorithm: 'ecdsa-p256-sha256', fingerprint: expect.stringMatching(/^[a-f0-9]{64}$/) });
    const { stat } = await import('node:fs/promises');
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    const again = await run(['keygen', '--out', key]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');
    expect((await run(['keygen', '--out', key, '--force'])).code).toBe(0);
  });

  it('packs the root a piped document names', async () => {
    const document = { apiVersion: 'ag/v1alpha1', kind: 'Cluster', root: join(work.path, 'root'), extra: { kept: true } };
    const result = await run(['pack', '--out', join(work.path, 'piped.tar'), '--no-tools', '--unsigned'], { stdin: JSON.stringify(document) });
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ root: join(work.path, 'root'), extra: { kept: true }, bundle: { file: 'piped.tar', signed: false } });
  });
});

describe('sizes', () => {
  it('reads sizes the way split -b does', () => {
    expect(parseSize('700M')).toBe(700 * 1024 ** 2);
    expect(parseSize('4G')).toBe(4 * 1024 ** 3);
    expect(parseSize('25G')).toBe(25 * 1024 ** 3);
    expect(parseSize('4700MB')).toBe(4_700_000_000);
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('512')).toBe(512);
    expect(() => parseSize('4 lorries')).toThrow(/not a size/);
  });
});
