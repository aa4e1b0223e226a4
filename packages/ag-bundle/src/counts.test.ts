/**
 * Counts agree: for one bundle, pack, verify, inspect and the document
 * (bundle.contents.files) report the same number of files, by the one
 * definition (sums.ts, payloadCount): the paths SHA256SUMS lists other than
 * bundle.json. Checked for a whole bundle and for a delta, whose files the
 * far side supplies are listed (and counted) but not carried.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  work = await tempDir('ag-bundle-counts-');
});
afterAll(() => work.cleanup());

/** Every number of files the tools and the document say for the bundle at `tar`. */
async function countsOf(tar: string, packed: { stderr: string; json: Record<string, unknown> | undefined }) {
  const listed = (await execa('tar', ['-xOf', tar, 'SHA256SUMS'])).stdout.split('\n').filter((line) => line !== '');
  const verify = await run(['verify', tar]);
  expect(verify.code, verify.stderr).toBe(0);
  const inspect = await run(['inspect', tar]);
  expect(inspect.code, inspect.stderr).toBe(0);
  const number = (text: string, pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
  return {
    sha256sums: listed.filter((line) => !line.endsWith('  bundle.json')).length,
    document: (packed.json as unknown as AgDocument).bundle!.contents!.files,
    pack: number(packed.stderr, /packed (\d+) file\(s\) and bundle\.json/),
    verify: number(verify.stderr, /: (\d+) file\(s\) and bundle\.json, \d+ bytes, all match SHA256SUMS/),
    inspect: number(inspect.stderr, /: (\d+) files and bundle\.json, /),
    verifiedDocument: (verify.json as unknown as AgDocument).bundle!.contents!.files,
  };
}

describe('pack, verify, inspect and the document count the same files', () => {
  it('for a whole bundle, and for a delta whose reused files are listed but not carried', async () => {
    const root = join(work.path, 'root');
    await writeTree(root, {
      'files/kubeadm': randomBytes(5000),
      'files/kubelet': randomBytes(7000),
      'files/kube-flannel.yml': 'kind: DaemonSet\n',
      'packages/deb/socat_1.7.4.4-2_amd64.deb': randomBytes(3000),
    });
    const full = join(work.path, 'full.tar');
    const packed = await run(['pack', '--dir', root, '--out', full, '--unsigned', '--no-tools']);
    expect(packed.code, packed.stderr).toBe(0);
    const counts = await countsOf(full, packed);
    // The four files and the bundle's SBOM (sbom.cdx.json): what SHA256SUMS lists besides bundle.json.
    expect(counts.sha256sums).toBe(5);
    expect(counts).toEqual({ sha256sums: 5, document: 5, pack: 5, verify: 5, inspect: 5, verifiedDocument: 5 });

    // The far side unpacks it and says what it has; the next trip changes one file and carries only that.
    const far = join(work.path, 'far');
    expect((await run(['unpack', full, '--dir', far])).code).toBe(0);
    const inventory = join(work.path, 'inventory.json');
    expect((await run(['inventory', '--dir', far, '--out', inventory])).code).toBe(0);
    await writeTree(root, { 'files/kube-flannel.yml': 'kind: DaemonSet # v0.22.1\n' });
    const delta = join(work.path, 'delta.tar');
    const packedDelta = await run(['pack', '--dir', root, '--out', delta, '--unsigned', '--no-tools', '--have', inventory]);
    expect(packedDelta.code, packedDelta.stderr).toBe(0);
    const deltaCounts = await countsOf(delta, packedDelta);
    expect(deltaCounts).toEqual({ sha256sums: 5, document: 5, pack: 5, verify: 5, inspect: 5, verifiedDocument: 5 });
    // Of them, the reused ones are named the same way everywhere.
    expect(packedDelta.stderr).toMatch(/; (\d+) of them left for the far side to supply/);
    const reused = (packedDelta.json as unknown as AgDocument).bundle!.delta!.reused.length;
    expect(reused).toBeGreaterThan(0);
    expect((await run(['verify', delta])).stderr).toContain(`; ${reused} of them for the far side to supply (delta)`);
    expect((await run(['inspect', delta])).stderr).toContain(`: ${reused} of them, `);
  });
});
