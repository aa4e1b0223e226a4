import { createHash } from 'node:crypto';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { generatedLayout, LINUX_AMD64, seededBuffer, writeKubeadmLikeSet } from '@ag/fixtures';
import { run, tempDir, writeTree } from './test-helpers.js';

/**
 * The scan gate with a real scanner: ClamAV's clamscan from Debian, with a
 * signature database the test writes (a SHA-256 hash signature, .hsb, of a
 * planted file: https://docs.clamav.net/manual/Signatures/HashSignatures.html),
 * offline, no freshclam. And a stand-in scanner that reports JSON.
 */
let work: { path: string; cleanup: () => Promise<void> };
let root: string;
let clamscan: string;
let scanned: AgDocument;
const path = (...parts: string[]): string => join(work.path, ...parts);
const PLANTED = 'Ag.Test.Planted.UNOFFICIAL';

async function pack(document: AgDocument | undefined, out: string, ...extra: string[]) {
  return run(['pack', '--dir', root, '--out', path(out), '--unsigned', '--no-tools', '--require-scan', ...extra], document === undefined ? {} : { stdin: JSON.stringify(document) });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  work = await tempDir('ag-bundle-scan-gate-');
  root = path('root');
  const planted = await seededBuffer('planted', 5000);
  await writeTree(root, { 'files/kubeadm': await seededBuffer('kubeadm', 30_000), 'files/planted.bin': planted });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { uniqueBytes: 2048, sharedBytes: 4096, platforms: [LINUX_AMD64] });
  // clamscan's hash signature: sha256:size:name:minimum engine level (73 is the first that reads SHA-256).
  await writeFile(path('planted.hsb'), `${createHash('sha256').update(planted).digest('hex')}:${planted.length}:Ag.Test.Planted:73\n`);
  clamscan = `clamscan --no-summary -r -d ${path('planted.hsb')}`;
  const result = await run(['scan', '--dir', root, '--with', clamscan, '--database-version', 'planted.hsb (written by the test)']);
  expect(result.code, result.stderr).toBe(0);
  scanned = result.json as unknown as AgDocument;
}, 300_000);

afterAll(async () => {
  await work?.cleanup();
});

describe('ag-bundle scan --with clamscan', () => {
  it('records per file and per image the scanner, its database and the result; the planted file is found', () => {
    const items = scanned.scan!.items;
    const planted = items.find((item) => item.name === 'files/planted.bin')!;
    expect(planted).toMatchObject({ kind: 'file', result: 'found', findings: [{ id: PLANTED }], database: 'planted.hsb (written by the test)' });
    expect(planted.scanner).toMatch(/^clamscan .*\(ClamAV \d+\.\d+/);
    expect(items.find((item) => item.name === 'files/kubeadm')).toMatchObject({ result: 'clean', digest: expect.stringMatching(/^sha256:/) });
    const images = items.filter((item) => item.kind === 'image');
    expect(images).toHaveLength(11);
    expect(images.every((item) => item.result === 'clean')).toBe(true);
    expect(images.map((item) => item.name)).toContain('registry.k8s.io/pause:3.9');
  });

  it('scans each image as an OCI layout of its own: a planted layer is found in the image', async () => {
    // Plant the file as a layer blob of one image's directory handed to the scanner: clamscan reads the layer's tar.gz.
    const tarball = path('layer.tar.gz');
    await execa('tar', ['-czf', tarball, '-C', join(root, 'files'), 'planted.bin']);
    const result = await run(['scan', '--dir', root, '--with', `sh -c 'cp ${tarball} "$1"/extra.tar.gz; ${clamscan} "$1"' sh`]);
    expect(result.code, result.stderr).toBe(0);
    const items = (result.json as unknown as AgDocument).scan!.items.filter((item) => item.kind === 'image');
    expect(items.every((item) => item.result === 'found' && item.findings![0]!.id === PLANTED)).toBe(true);
  });
});

describe('pack --require-scan', () => {
  it('refuses (exit 5) a root nobody scanned, naming each file and image, writing nothing', async () => {
    const result = await pack(undefined, 'unscanned.tar');
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('files/kubeadm: not scanned');
    expect(result.stderr).toContain('registry.k8s.io/pause:3.9: not scanned');
    expect(await exists(path('unscanned.tar'))).toBe(false);
  });

  it('stops the planted file (exit 5, naming it and the finding)', async () => {
    const result = await pack(scanned, 'stopped.tar');
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`files/planted.bin: ${PLANTED} found by clamscan`);
    expect(result.stderr).not.toContain('files/kubeadm');
    expect(await exists(path('stopped.tar'))).toBe(false);
  });

  it('lets an accepted finding cross, recording it with its reason in the bundle', async () => {
    const refused = await pack(scanned, 'accepted.tar', '--accept', PLANTED);
    expect(refused.code).toBe(2);
    const result = await pack(scanned, 'accepted.tar', '--accept', PLANTED, '--reason', 'the test planted it');
    expect(result.code, result.stderr).toBe(0);
    const carried = JSON.parse((await execa('tar', ['-xOf', path('accepted.tar'), 'bundle.json'])).stdout) as AgDocument;
    expect(carried.bundle!.scanGate).toMatchObject({ required: true, items: 13, accepted: [{ id: PLANTED, items: ['files/planted.bin'], reason: 'the test planted it' }] });
    expect(carried.scan!.items.find((item) => item.name === 'files/kubeadm')!.result).toBe('clean');
  });

  it('counts a file changed since its scan as not scanned', async () => {
    const changed = path('changed');
    await execa('cp', ['-r', root, changed]);
    await writeFile(join(changed, 'files/kubeadm'), 'other bytes\n');
    const result = await run(
      ['pack', '--dir', changed, '--out', path('changed.tar'), '--unsigned', '--no-tools', '--require-scan', '--accept', PLANTED, '--reason', 'planted'],
      { stdin: JSON.stringify({ ...scanned, root: changed }) },
    );
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('files/kubeadm: changed since it was scanned');
  });
});

describe('a stand-in scanner reporting JSON', () => {
  it('records its findings per item next to clamscan\'s, and the gate wants each accepted', async () => {
    // Reports a CVE for every image (an OCI layout: it has index.json), nothing for files.
    const scanner = path('json-scanner.sh');
    await writeFile(
      scanner,
      '#!/bin/sh\nif [ -f "$1/index.json" ]; then echo \'{"findings":[{"id":"CVE-2099-0001","detail":"a test CVE"}]}\'; exit 1; fi\necho \'{"findings":[]}\'\n',
    );
    await chmod(scanner, 0o755);
    const result = await run(['scan', '--dir', root, '--with', scanner, '--json', '--database-version', 'stand-in 1'], { stdin: JSON.stringify(scanned) });
    expect(result.code, result.stderr).toBe(0);
    const document = result.json as unknown as AgDocument;
    const pause = document.scan!.items.filter((item) => item.name === 'registry.k8s.io/pause:3.9');
    expect(pause.map((item) => item.result).sort()).toEqual(['clean', 'found']);
    expect(pause.find((item) => item.result === 'found')).toMatchObject({ findings: [{ id: 'CVE-2099-0001', detail: 'a test CVE' }], database: 'stand-in 1' });
    const refused = await pack(document, 'json.tar', '--accept', PLANTED, '--reason', 'planted');
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('registry.k8s.io/pause:3.9: CVE-2099-0001 found by');
    const accepted = await pack(document, 'json.tar', '--accept', PLANTED, '--reason', 'planted', '--accept', 'CVE-2099-0001', '--reason', 'not reachable');
    expect(accepted.code, accepted.stderr).toBe(0);
  });
});
