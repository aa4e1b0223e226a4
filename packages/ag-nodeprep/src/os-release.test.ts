import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectOs, parseOsRelease } from './os-release.js';
import { writeTree } from './testing/node-roots.js';

describe('detectOs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-os-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('parses quoted and escaped os-release values', () => {
    expect(parseOsRelease('ID="rocky"\nPRETTY_NAME="Rocky \\"Blue\\" Onyx"\n# comment\nVERSION_ID=9.3\n')).toEqual({ ID: 'rocky', PRETTY_NAME: 'Rocky "Blue" Onyx', VERSION_ID: '9.3' });
  });

  it.each([
    ['ID=fedora\nVERSION_ID=39\n', 'fedora'],
    ['ID="rhel"\nVERSION_ID="9.3"\n', 'rhel'],
    ['ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n', 'rhel'],
    ['ID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\n', 'rhel'],
    ['ID=debian\nVERSION_ID="11"\n', 'debian'],
    ['ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', 'ubuntu'],
  ])('tells the family of %j', async (text, family) => {
    const root = join(dir, family + Math.random().toString(36).slice(2));
    await writeTree(root, { 'usr/lib/os-release': text });
    expect((await detectOs(root)).family).toBe(family);
  });

  it('refuses families and versions it does not prepare', async () => {
    const root = join(dir, 'suse');
    await writeTree(root, { 'etc/os-release': 'ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n' });
    await expect(detectOs(root)).rejects.toMatchObject({ kind: 'system', message: expect.stringContaining('which ag-nodeprep does not prepare') });
    const old = join(dir, 'buster');
    await writeTree(old, { 'etc/os-release': 'ID=debian\nVERSION_ID="10"\n' });
    await expect(detectOs(old)).rejects.toMatchObject({ kind: 'system', message: expect.stringContaining('too old or unknown') });
  });
});
