import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedLayout, LINUX_AMD64, LINUX_ARM64, startContainerd, writeKubeadmLikeSet, type PrivateContainerd } from '@ag/fixtures';
import { run, tempDir, writeTree } from './test-helpers.js';

/**
 * The round trip with real image tools: a bundle carrying a generated OCI
 * layout (multi-arch indexes, shared layers, OCI and Docker media types) is
 * packed, verified, unpacked, and what comes out of images/ is read by
 * skopeo and imported by containerd.
 */
let work: { path: string; cleanup: () => Promise<void> };
let far: string;
let containerd: PrivateContainerd | undefined;

beforeAll(async () => {
  work = await tempDir('ag-bundle-images-');
  const root = join(work.path, 'root');
  await writeTree(root, { 'files/kube-flannel.yml': 'kind: DaemonSet\n' });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { uniqueBytes: 16 * 1024, sharedBytes: 32 * 1024, platforms: [LINUX_AMD64, LINUX_ARM64] });
  const key = join(work.path, 'key.pem');
  expect((await run(['keygen', '--out', key])).code).toBe(0);
  const packed = await run(['pack', '--dir', root, '--out', join(work.path, 'bundle.tar'), '--sign-key', key, '--split', '1M', '--no-tools']);
  expect(packed.code, packed.stderr).toBe(0);
  far = join(work.path, 'far');
  const unpacked = await run(['unpack', join(work.path, 'bundle.tar.parts'), '--dir', far, '--key', join(work.path, 'key.pub.pem')]);
  expect(unpacked.code, unpacked.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await containerd?.stop();
  await work?.cleanup();
});

describe('the unpacked images/ is a standard OCI layout', () => {
  it('skopeo inspects multi-arch OCI images by reference, per platform', async () => {
    const { stdout } = await execa('skopeo', ['inspect', '--raw', `oci:${join(far, 'images')}:registry.k8s.io/pause:3.9`]);
    const index = JSON.parse(stdout) as { manifests: { platform: { architecture: string } }[] };
    expect(index.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    const inspected = await execa('skopeo', ['inspect', '--override-arch', 'arm64', '--override-variant', 'v8', `oci:${join(far, 'images')}:registry.k8s.io/kube-scheduler:v1.27.3`]);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Architecture: 'arm64' });
  });

  it('skopeo copies an image out of it, checking every blob', async () => {
    await execa('skopeo', ['copy', '--all', `oci:${join(far, 'images')}:registry.k8s.io/coredns/coredns:v1.10.1`, `dir:${join(work.path, 'copied')}`]);
    const { stdout } = await execa('ls', [join(work.path, 'copied')]);
    expect(stdout).toContain('manifest.json');
  });

  // skopeo (Debian 12) finds only OCI-typed index.json entries; the Docker-typed images are read by containerd.
  it('ctr images import reads it, both media type families, named by their full references', async () => {
    containerd = await startContainerd();
    const archive = join(work.path, 'images.tar');
    await execa('tar', ['-cf', archive, '-C', join(far, 'images'), '.']);
    await execa('ctr', ['--address', containerd.address, '--namespace', 'ag', 'images', 'import', '--all-platforms', archive]);
    const { stdout } = await containerd.ctr(['images', 'ls', '-q'], { namespace: 'ag' });
    const names = stdout.split('\n');
    expect(names).toContain('registry.k8s.io/pause:3.9');
    expect(names).toContain('registry.k8s.io/kube-apiserver:v1.27.3');
    expect(names).toContain('registry.k8s.io/kube-controller-manager:v1.27.3'); // Docker media types
    expect(names).toContain('docker.io/library/registry:2.8.2');
    const check = await containerd.ctr(['images', 'check'], { namespace: 'ag' });
    expect(check.stdout).not.toMatch(/incomplete|missing/);
  });
});
