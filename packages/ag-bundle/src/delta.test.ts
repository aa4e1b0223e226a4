import { createHash } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout, LINUX_AMD64, seededBuffer as bytesOf, writeKubeadmLikeSet } from '@ag/fixtures';
import { listTree, run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let pub: string;
let key: string;
const path = (...parts: string[]): string => join(work.path, ...parts);

/** A bundle root as ag-fetch and ag-images would leave it for one Kubernetes version. */
async function versionRoot(version: string): Promise<string> {
  const root = path(version);
  await writeTree(root, {
    [`files/kubeadm`]: await bytesOf(`kubeadm-${version}`, 200_000),
    [`files/kubelet`]: await bytesOf(`kubelet-${version}`, 150_000),
    'files/crictl-v1.27.0-linux-amd64.tar.gz': await bytesOf('crictl-v1.27.0', 90_000),
    'files/kube-flannel.yml': 'kind: DaemonSet # flannel v0.22.0\n',
    'packages/deb/socat_1.7.4.4-2_amd64.deb': await bytesOf('socat', 30_000),
  });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { kubernetesVersion: version, uniqueBytes: 24 * 1024, sharedBytes: 48 * 1024, platforms: [LINUX_AMD64] });
  return root;
}

/** path -> sha256 of every file of an unpacked root or a bundle (a .tar), from its SHA256SUMS. */
async function sums(rootOrBundle: string): Promise<Map<string, string>> {
  const text = rootOrBundle.endsWith('.tar') ? (await execa('tar', ['-xOf', rootOrBundle, 'SHA256SUMS'])).stdout : await readFile(join(rootOrBundle, 'SHA256SUMS'), 'utf8');
  return new Map(
    text
      .trim()
      .split('\n')
      .map((line) => [line.slice(66), line.slice(0, 64)] as [string, string]),
  );
}

async function isManifestOrIndex(file: string): Promise<boolean> {
  if ((await stat(file)).size > 1 << 20) return false;
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as { mediaType?: string; manifests?: unknown; layers?: unknown };
    return Array.isArray(value.manifests) || Array.isArray(value.layers);
  } catch {
    return false;
  }
}

async function tarNames(archive: string): Promise<string[]> {
  return (await execa('tar', ['-tf', archive])).stdout.split('\n').sort();
}

let v3: string;
let v4: string;
let far: string;

beforeAll(async () => {
  work = await tempDir('ag-bundle-delta-');
  key = path('key.pem');
  pub = path('key.pub.pem');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
  v3 = await versionRoot('v1.27.3');
  v4 = await versionRoot('v1.27.4');
  // The first trip: a full v1.27.3 bundle, unpacked on the far side.
  expect((await run(['pack', '--dir', v3, '--out', path('v1.27.3.tar'), '--sign-key', key, '--no-tools'])).code).toBe(0);
  far = path('far', 'ag');
  const unpacked = await run(['unpack', path('v1.27.3.tar'), '--dir', far, '--key', pub]);
  expect(unpacked.code, unpacked.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await work?.cleanup();
});

describe('delta: carry only what is missing', () => {
  it('inventories the far side: blobs by digest, files with their sha256', async () => {
    const result = await run(['inventory', '--dir', far, '--out', path('inventory.json')]);
    expect(result.code, result.stderr).toBe(0);
    const inventory = JSON.parse(await readFile(path('inventory.json'), 'utf8')) as {
      kind: string;
      layouts: { path: string; blobs: { digest: string }[] }[];
      files: { path: string; sha256: string }[];
    };
    expect(inventory.kind).toBe('BundleInventory');
    const farSums = await sums(far);
    const blobs = [...farSums.keys()].filter((p) => p.startsWith('images/blobs/'));
    expect(inventory.layouts).toEqual([{ path: 'images', blobs: expect.any(Array) }]);
    expect(inventory.layouts[0]!.blobs.map((b) => `images/blobs/sha256/${b.digest.slice(7)}`).sort()).toEqual(blobs.sort());
    expect(inventory.files.find((f) => f.path === 'files/kubeadm')?.sha256).toBe(farSums.get('files/kubeadm'));
    // Small: no content, one entry per blob or file.
    expect((await stat(path('inventory.json'))).size).toBeLessThan(64 * 1024);
  });

  it('packs v1.27.4 against it: only the changed layers and files, plus every manifest and index', async () => {
    const result = await run(['pack', '--dir', v4, '--out', path('v1.27.4-delta.tar'), '--have', path('inventory.json'), '--sign-key', key, '--no-tools']);
    expect(result.code, result.stderr).toBe(0);
    const carried = await tarNames(path('v1.27.4-delta.tar'));

    // What should travel, worked out independently: every v1.27.4 file whose bytes
    // the v1.27.3 side lacks, and manifests, indexes and the layout's own files always.
    const old = new Set((await sums(path('v1.27.3.tar'))).values());
    const expected: string[] = ['SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json'];
    for (const [file, sha] of await sums(path('v1.27.4-delta.tar'))) {
      if (file === 'bundle.json') continue;
      const always = file === 'images/index.json' || file === 'images/oci-layout' || (file.startsWith('images/blobs/') && (await isManifestOrIndex(join(v4, file))));
      if (always || !old.has(sha)) expected.push(file);
    }
    expect(carried).toEqual(expected.sort());
    expect(carried).toContain('files/kubeadm');
    expect(carried).toContain('files/kubelet');
    expect(carried).not.toContain('files/kube-flannel.yml');
    expect(carried).not.toContain('files/crictl-v1.27.0-linux-amd64.tar.gz');
    expect(carried).not.toContain('packages/deb/socat_1.7.4.4-2_amd64.deb');

    // The unchanged images' layers stay behind; the control plane's new layers travel.
    const isLayer = async (file: string): Promise<boolean> => (await readFile(join(v4, file)))[0] === 0x1f; // gzip
    const layers: string[] = [];
    for (const file of carried) if (file.startsWith('images/blobs/') && (await isLayer(file))) layers.push(file);
    const allLayers: string[] = [];
    for (const file of (await sums(path('v1.27.4-delta.tar'))).keys()) if (file.startsWith('images/blobs/') && (await isLayer(file))) allLayers.push(file);
    // kube-apiserver, -controller-manager, -scheduler and -proxy changed (each a marker layer naming the
    // version and a unique layer); pause, etcd, coredns, flannel, the shared base and busybox did not.
    expect(layers).toHaveLength(8);
    expect(allLayers.length).toBeGreaterThan(15);
    expect((await stat(path('v1.27.4-delta.tar'))).size).toBeLessThan((await stat(path('v1.27.3.tar'))).size / 2);

    expect(result.json).toMatchObject({
      bundle: { delta: { inventory: 'inventory.json', inventorySha256: createHash('sha256').update(await readFile(path('inventory.json'))).digest('hex') } },
    });
  });

  it('verifies the delta, saying what the far side must supply', async () => {
    const result = await run(['verify', path('v1.27.4-delta.tar'), '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/\d+ more for the far side to supply \(delta\)/);
  });

  it('refuses, naming the blob and changing nothing, when the far side lacks what the delta needs', async () => {
    const damaged = path('far', 'damaged');
    await execa('cp', ['-a', far, damaged]);
    const delta = JSON.parse((await execa('tar', ['-xOf', path('v1.27.4-delta.tar'), 'bundle.json'])).stdout) as { bundle: { delta: { reused: { path: string }[] } } };
    const blob = delta.bundle.delta.reused.map((entry) => entry.path).find((p) => p.startsWith('images/blobs/'))!;
    await rm(join(damaged, blob));
    const before = await listTree(damaged);
    const result = await run(['unpack', path('v1.27.4-delta.tar'), '--dir', damaged, '--key', pub]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(blob);
    expect(result.stderr).toContain('delta of inventory.json');
    expect(await listTree(damaged)).toEqual(before);

    const empty = await run(['unpack', path('v1.27.4-delta.tar'), '--dir', path('far', 'empty'), '--key', pub]);
    expect(empty.code).toBe(5);
    expect(await listTree(path('far', 'empty'))).toBeUndefined();
  });

  it('unpacks the delta onto the v1.27.3 bundle: the result is the whole v1.27.4 bundle', async () => {
    const result = await run(['unpack', path('v1.27.4-delta.tar'), '--dir', far, '--key', pub]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ root: far, bundle: { delta: { inventory: 'inventory.json' } } });
    expect(await listTree(far)).toEqual([...(await listTree(v4))!, 'SHA256SUMS', 'SHA256SUMS.sig', 'bundle.json', 'sbom.cdx.json'].sort());
    await execa('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: far });
    expect(await readFile(join(far, 'files/kubeadm'))).toEqual(await readFile(join(v4, 'files/kubeadm')));
    const index = JSON.parse(await readFile(join(far, 'images/index.json'), 'utf8')) as { manifests: { annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toContain('registry.k8s.io/kube-apiserver:v1.27.4');
    const again = await run(['unpack', path('v1.27.4-delta.tar'), '--dir', far, '--key', pub]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already holds this bundle');
  });
});
