import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { generatedLayout, LINUX_AMD64, LINUX_ARM64, seededBuffer, writeKubeadmLikeSet } from '@ag/fixtures';
import { fetchedDocument, flipEntryByte, run, tempDir, writeTree, type Descriptor } from './test-helpers.js';

/**
 * Every bundle carries a CycloneDX SBOM, written by the CycloneDX library,
 * listed in SHA256SUMS (so the signature covers it), validated here against
 * the CycloneDX 1.6 JSON schema the library ships.
 */
let work: { path: string; cleanup: () => Promise<void> };
let root: string;
let archive: string;
let sbomText: string;
const path = (...parts: string[]): string => join(work.path, ...parts);
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  work = await tempDir('ag-bundle-sbom-');
  root = path('root');
  const kubeadm = await seededBuffer('kubeadm', 40_000);
  const deb = await seededBuffer('socat-deb', 20_000);
  await writeTree(root, { 'files/kubeadm': kubeadm, 'packages/deb/socat_1.7.4.4-2_amd64.deb': deb, 'files/notes.txt': 'no licence known\n', 'files/runc.amd64': 'runc stand-in\n' });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { uniqueBytes: 4 * 1024, sharedBytes: 8 * 1024, platforms: [LINUX_AMD64, LINUX_ARM64] });
  const document: AgDocument = {
    ...(await fetchedDocument(root, kubeadm, [
      { name: 'notes', kind: 'file', source: { url: 'https://example.invalid/notes.txt' }, path: 'files/notes.txt' },
      { name: 'runc', kind: 'binary', arch: 'amd64', version: 'v1.4.3', source: { url: 'https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64' }, path: 'files/runc.amd64' },
    ])),
    packages: {
      os: 'debian-12',
      format: 'deb',
      manager: 'apt',
      architectures: ['amd64'],
      requested: ['socat'],
      sources: [{ name: 'bookworm', uri: 'http://deb.debian.org/debian', suite: 'bookworm', components: ['main'] }],
      repository: 'packages/deb',
      closure: [{ name: 'socat', version: '1.7.4.4-2', arch: 'amd64', path: 'packages/deb/socat_1.7.4.4-2_amd64.deb', sha256: sha256(deb), size: deb.length }],
    },
  };
  expect((await run(['keygen', '--out', path('key.pem')])).code).toBe(0);
  archive = path('bundle.tar');
  const packed = await run(['pack', '--out', archive, '--sign-key', path('key.pem'), '--no-tools'], { stdin: JSON.stringify(document) });
  expect(packed.code, packed.stderr).toBe(0);
  const inspected = await run(['inspect', archive, '--sbom']);
  expect(inspected.code, inspected.stderr).toBe(0);
  sbomText = inspected.stdout;
}, 300_000);

afterAll(async () => {
  await work?.cleanup();
});

interface Component {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  licenses?: { license: { id?: string } }[];
  externalReferences?: { type: string; url: string }[];
  properties?: { name: string; value: string }[];
  components?: Component[];
}

describe('the SBOM in every bundle', () => {
  it('is valid CycloneDX 1.6 JSON (the library\'s strict schema validator)', async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    expect(await validator.validate(sbomText)).toBeNull();
    expect(JSON.parse(sbomText)).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
  });

  it('is a member listed in SHA256SUMS, which the signature covers', async () => {
    const sums = (await execa('tar', ['-xOf', archive, 'SHA256SUMS'])).stdout;
    expect(sums).toContain(`${sha256(sbomText)}  sbom.cdx.json`);
    await execa('tar', ['-xf', archive, '-C', work.path, 'SHA256SUMS', 'SHA256SUMS.sig']);
    const verified = await execa('openssl', ['dgst', '-sha256', '-verify', path('key.pub.pem'), '-signature', path('SHA256SUMS.sig'), path('SHA256SUMS')], { reject: false });
    expect(verified.stdout).toContain('Verified OK');
  });

  it('lists each file with version, download URL, sha256 and the licence upstream states (none when unknown)', () => {
    const components = (JSON.parse(sbomText) as { components: Component[] }).components;
    const kubeadm = components.find((c) => c.name === 'kubeadm')!;
    expect(kubeadm).toMatchObject({ type: 'file', version: 'v1.27.3' });
    expect(kubeadm.hashes).toEqual([{ alg: 'SHA-256', content: expect.stringMatching(/^[a-f0-9]{64}$/) }]);
    expect(kubeadm.externalReferences).toContainEqual(expect.objectContaining({ type: 'distribution', url: 'https://dl.k8s.io/release/v1.27.3/bin/linux/amd64/kubeadm' }));
    expect(kubeadm.licenses).toEqual([{ license: { id: 'Apache-2.0' } }]);
    expect(components.find((c) => c.name === 'notes')!.licenses).toBeUndefined();
    // runc from its release (ag-fetch plan --containerd upstream): opencontainers/runc's LICENSE.
    expect(components.find((c) => c.name === 'runc')!.licenses).toEqual([{ license: { id: 'Apache-2.0' } }]);
  });

  it('lists each image with its digest, platforms and every layer of each platform', async () => {
    const components = (JSON.parse(sbomText) as { components: Component[] }).components;
    const images = components.filter((c) => c.type === 'container');
    expect(images).toHaveLength(11);
    const pause = images.find((c) => c.properties?.some((p) => p.name === 'ag:reference' && p.value === 'registry.k8s.io/pause:3.9'))!;
    expect(pause.version).toMatch(/^sha256:/);
    expect(pause.purl).toBe(`pkg:oci/pause@${pause.version}?repository_url=registry.k8s.io%2Fpause&tag=3.9`);
    expect(pause.components!.map((c) => c.properties!.find((p) => p.name === 'ag:platform')!.value).sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    for (const platform of pause.components!) {
      const manifest = JSON.parse(await readFile(join(root, 'images', 'blobs', 'sha256', platform.version!.slice(7)), 'utf8')) as { layers: Descriptor[] };
      expect(platform.components!.map((layer) => layer.name).sort()).toEqual(manifest.layers.map((layer) => layer.digest).sort());
    }
  });

  it('lists each OS package with name, version, architecture and the repository it was resolved from', () => {
    const components = (JSON.parse(sbomText) as { components: Component[] }).components;
    const socat = components.find((c) => c.name === 'socat')!;
    expect(socat).toMatchObject({ type: 'library', version: '1.7.4.4-2', purl: 'pkg:deb/debian/socat@1.7.4.4-2?arch=amd64&distro=debian-12' });
    expect(socat.externalReferences).toContainEqual(expect.objectContaining({ type: 'distribution', url: 'http://deb.debian.org/debian' }));
  });

  it('a changed SBOM fails verification (exit 3, naming it)', async () => {
    await execa('cp', [archive, path('tampered.tar')]);
    await flipEntryByte(path('tampered.tar'), 'sbom.cdx.json');
    const result = await run(['verify', path('tampered.tar'), '--key', path('key.pub.pem')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('sbom.cdx.json');
  });
});
