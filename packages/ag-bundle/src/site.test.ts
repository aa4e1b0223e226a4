import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleSection } from '@ag/core';
import { generatedLayout, LINUX_AMD64, seededBuffer as bytesOf, writeKubeadmLikeSet } from '@ag/fixtures';
import type { LedgerEntry } from './ledger.js';
import { listTree, run, tempDir, treeHash, writeTree } from './test-helpers.js';

/**
 * A site behind a data diode: three trips to plant-a and one to plant-b,
 * nothing carried back. The connected side's ledger alone decides what each
 * delta leaves out; the far side refuses a delta whose bases it lacks.
 */
let work: { path: string; cleanup: () => Promise<void> };
let key: string;
let pub: string;
let state: string;
const path = (...parts: string[]): string => join(work.path, ...parts);

/** A bundle root for one Kubernetes version; the crictl archive and the shared layers are the same in every version. */
async function versionRoot(version: string): Promise<string> {
  const root = path(version);
  await writeTree(root, {
    'files/kubeadm': await bytesOf(`kubeadm-${version}`, 60_000),
    'files/crictl-v1.27.0-linux-amd64.tar.gz': await bytesOf('crictl-v1.27.0', 90_000),
    'files/kube-flannel.yml': 'kind: DaemonSet # flannel v0.22.0\n',
  });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { kubernetesVersion: version, uniqueBytes: 8 * 1024, sharedBytes: 32 * 1024, platforms: [LINUX_AMD64] });
  return root;
}

async function carriedDocument(archive: string): Promise<{ bundle: BundleSection }> {
  return JSON.parse((await execa('tar', ['-xOf', archive, 'bundle.json'])).stdout) as { bundle: BundleSection };
}

async function tarNames(archive: string): Promise<string[]> {
  return (await execa('tar', ['-tf', archive])).stdout.split('\n');
}

async function packFor(site: string, version: string, out: string, ...extra: string[]) {
  return run(['pack', '--dir', path(version), '--out', path(out), '--site', site, '--state-dir', state, '--sign-key', key, '--no-tools', ...extra]);
}

/** Every file of a tree with its content's sha256 (mtimes aside: they differ between unpack runs). */
async function contentOf(dir: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', 'find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum'], { cwd: dir });
  return stdout;
}

const ledgerOf = (site: string): string => join(state, 'sites', site, 'ledger.jsonl');

beforeAll(async () => {
  work = await tempDir('ag-bundle-site-');
  key = path('key.pem');
  pub = path('key.pub.pem');
  state = path('state');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
  for (const version of ['v1.27.2', 'v1.27.3', 'v1.27.4']) await versionRoot(version);
  for (const [version, out] of [
    ['v1.27.2', 'a1.tar'],
    ['v1.27.3', 'a2.tar'],
    ['v1.27.4', 'a3.tar'],
  ] as const) {
    const packed = await packFor('plant-a', version, out);
    expect(packed.code, packed.stderr).toBe(0);
  }
  const b = await packFor('plant-b', 'v1.27.4', 'b1.tar');
  expect(b.code, b.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await work?.cleanup();
});

describe('pack --site', () => {
  it('names each bundle and the bundles it builds on; each delta carries only what the last trip lacked', async () => {
    const [a1, a2, a3, b1] = (await Promise.all(['a1.tar', 'a2.tar', 'a3.tar', 'b1.tar'].map((name) => carriedDocument(path(name))))).map((doc) => doc.bundle);
    expect(a1!.site).toMatchObject({ name: 'plant-a', id: 'plant-a#1', sequence: 1, builtOn: [] });
    expect(a1!.delta).toBeUndefined();
    expect(a2!.site!.builtOn.map((ref) => ref.id)).toEqual(['plant-a#1']);
    expect(a3!.site!.builtOn.map((ref) => ref.id)).toEqual(['plant-a#1', 'plant-a#2']);
    expect(a3!.delta!.base).toBe('plant-a#2');
    // The base's identity is the sha256 of its SHA256SUMS.
    const a2Sums = (await execa('sh', ['-c', `tar -xOf ${path('a2.tar')} SHA256SUMS | sha256sum`])).stdout.slice(0, 64);
    expect(a3!.site!.builtOn[1]!.sumsSha256).toBe(a2Sums);
    // Unchanged between versions: the crictl archive and the shared layers; they cross once.
    const reused = a3!.delta!.reused.map((entry) => entry.path);
    expect(reused).toContain('files/crictl-v1.27.0-linux-amd64.tar.gz');
    expect(await tarNames(path('a3.tar'))).not.toContain('files/crictl-v1.27.0-linux-amd64.tar.gz');
    expect(await tarNames(path('a3.tar'))).toContain('files/kubeadm');
    expect((await stat(path('a3.tar'))).size).toBeLessThan((await stat(path('b1.tar'))).size / 2);
    // A second site has its own ledger: its first bundle is complete.
    expect(b1!.site).toMatchObject({ id: 'plant-b#1', builtOn: [] });
    expect(await tarNames(path('b1.tar'))).toContain('files/crictl-v1.27.0-linux-amd64.tar.gz');
  });

  it('keeps an append-only ledger per site, one chained line per bundle written', async () => {
    const lines = (await readFile(ledgerOf('plant-a'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as LedgerEntry);
    expect(lines.map((line) => line.id)).toEqual(['plant-a#1', 'plant-a#2', 'plant-a#3']);
    expect(lines[0]!.prev).toBe('0'.repeat(64));
    expect(lines[2]!.members.map((member) => member.path)).toContain('bundle.json');
    expect((await readFile(ledgerOf('plant-b'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('records nothing for a dry run, and --full packs everything again', async () => {
    const before = await readFile(ledgerOf('plant-b'), 'utf8');
    const dry = await packFor('plant-b', 'v1.27.4', 'b-dry.tar', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(await readFile(ledgerOf('plant-b'), 'utf8')).toBe(before);
    const full = await packFor('plant-b', 'v1.27.4', 'b2.tar', '--full');
    expect(full.code, full.stderr).toBe(0);
    const b2 = await carriedDocument(path('b2.tar'));
    expect(b2.bundle.site).toMatchObject({ id: 'plant-b#2', builtOn: [] });
    expect(b2.bundle.delta).toBeUndefined();
  });

  it('appends to the ledger only once the bundle is written: a pack that fails leaves it as it was', async () => {
    const before = await readFile(ledgerOf('plant-b'), 'utf8');
    await writeFile(path('not-a-dir'), 'a file\n');
    const failed = await packFor('plant-b', 'v1.27.4', join('not-a-dir', 'b3.tar'));
    expect(failed.code).not.toBe(0);
    expect(await readFile(ledgerOf('plant-b'), 'utf8')).toBe(before);
  });
});

describe('unpack of a site bundle', () => {
  it('unpacks three trips in order into the newest complete tree', async () => {
    const far = path('far-in-order', 'ag');
    for (const name of ['a1.tar', 'a2.tar', 'a3.tar']) {
      const result = await run(['unpack', path(name), '--dir', far, '--key', pub]);
      expect(result.code, result.stderr).toBe(0);
    }
    const check = await execa('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: far, reject: false });
    expect(check.exitCode, check.stdout).toBe(0);
    expect(await listTree(far)).toEqual(expect.arrayContaining(['files/crictl-v1.27.0-linux-amd64.tar.gz', 'files/kubeadm']));
  });

  it('refuses a delta whose base is missing (exit 5, naming it), writing nothing; any order ends in the same tree', async () => {
    const reference = await contentOf(path('far-in-order', 'ag'));
    const far = path('far-any-order', 'ag');
    const onEmpty = await run(['unpack', path('a3.tar'), '--dir', far, '--key', pub]);
    expect(onEmpty.code).toBe(5);
    expect(onEmpty.stderr).toContain('plant-a#1, plant-a#2');
    expect(await listTree(far)).toBeUndefined();

    expect((await run(['unpack', path('a1.tar'), '--dir', far, '--key', pub])).code).toBe(0);
    const held = await treeHash(far);
    const middleMissing = await run(['unpack', path('a3.tar'), '--dir', far, '--key', pub]);
    expect(middleMissing.code).toBe(5);
    expect(middleMissing.stderr).toContain('builds on plant-a#2');
    expect(middleMissing.stderr).not.toContain('plant-a#1,');
    expect(await treeHash(far)).toBe(held);

    for (const name of ['a2.tar', 'a3.tar', 'a1.tar', 'a2.tar']) {
      const result = await run(['unpack', path(name), '--dir', far, '--key', pub]);
      expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    }
    const late = await run(['unpack', path('a1.tar'), '--dir', far, '--key', pub]);
    expect(late.stderr).toContain('holds bundle plant-a#3, which builds on plant-a#1');
    expect(await contentOf(far)).toBe(reference);
  });

  it('lets a later complete bundle of the same site replace the tree without --replace', async () => {
    const far = path('far-b', 'ag');
    expect((await run(['unpack', path('b1.tar'), '--dir', far, '--key', pub])).code).toBe(0);
    const result = await run(['unpack', path('b2.tar'), '--dir', far, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(far, 'bundle.json'), 'utf8')).bundle.site.id).toBe('plant-b#2');
  });
});

describe('a tampered ledger', () => {
  it('refuses (exit 3) naming the edited line, and the line after a removed one; writes no bundle', async () => {
    const ledger = ledgerOf('plant-a');
    const good = await readFile(ledger, 'utf8');
    const lines = good.trim().split('\n');
    try {
      const edited = JSON.parse(lines[1]!) as { members: { sha256: string }[] };
      edited.members[0]!.sha256 = 'f'.repeat(64);
      await writeFile(ledger, [lines[0], JSON.stringify(edited), lines[2]].join('\n') + '\n');
      const afterEdit = await packFor('plant-a', 'v1.27.4', 'a4.tar');
      expect(afterEdit.code).toBe(3);
      expect(afterEdit.stderr).toContain('line 2');
      expect(afterEdit.stderr).toContain('edited');

      await writeFile(ledger, [lines[0], lines[2]].join('\n') + '\n');
      const afterRemoval = await packFor('plant-a', 'v1.27.4', 'a4.tar');
      expect(afterRemoval.code).toBe(3);
      expect(afterRemoval.stderr).toContain('line 2');
      expect(afterRemoval.stderr).toContain('does not chain to line 1');
      await expect(stat(path('a4.tar'))).rejects.toThrow();
    } finally {
      await writeFile(ledger, good);
    }
  });
});
