import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { createStandIns, generatedLayout, LINUX_AMD64, startRegistry, writeKubeadmLikeSet, type RegistryFixture } from '@ag/fixtures';
import { main } from './cli.js';
import { clusterDocument } from './testdata/documents.js';
import { addKubeadmStandIns } from './testdata/stand-ins.js';

// A real distribution registry (Debian's docker-registry) with TLS and htpasswd,
// holding the v1.27.3 images under their upstream host prefix, as ag-images push leaves it.
let registry: RegistryFixture;
let layoutDir: string;
const seeded: string[] = [];

beforeAll(async () => {
  registry = await startRegistry({ auth: 'htpasswd' });
  const layout = await generatedLayout(await mkdtemp(join(tmpdir(), 'ag-kubeadm-layout-')));
  layoutDir = layout.dir;
  const images = await writeKubeadmLikeSet(layout, { uniqueBytes: 1024, sharedBytes: 1024, platforms: [LINUX_AMD64] });
  for (const image of images.filter((i) => i.ref.startsWith('registry.k8s.io/') && !i.ref.includes('coredns'))) {
    await registry.seed(layout.dir, image.ref);
    seeded.push(image.ref);
  }
});

afterAll(async () => {
  await registry?.stop();
});

async function nodeWith(document: AgDocument): Promise<{ root: string; env: Record<string, string>; document: AgDocument }> {
  const root = await mkdtemp(join(tmpdir(), 'ag-kubeadm-preflight-'));
  await mkdir(join(root, 'etc/containerd'), { recursive: true });
  await writeFile(join(root, 'etc/containerd/config.toml'), 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n');
  await mkdir(join(root, 'etc/ag-registry'), { recursive: true });
  await writeFile(join(root, 'etc/ag-registry/credentials'), `ag:${registry.credentials!.password}\n`, { mode: 0o600 });
  await writeFile(join(root, 'etc/ag-registry/ca.crt'), await readFile(registry.caFile));
  const standIns = await addKubeadmStandIns(await createStandIns());
  // No containerd on this node yet (ctr fails), and no kubeadm: the document's list is what is checked.
  await standIns.add('ctr', 'echo "ctr: failed to dial" >&2; exit 1');
  await rm(join(standIns.bin, 'kubeadm'));
  const full: AgDocument = {
    ...document,
    registry: { endpoint: registry.host, mode: 'distribution', dir: '/var/lib/ag-registry', caFile: '/etc/ag-registry/ca.crt', credentialsFile: '/etc/ag-registry/credentials' },
  };
  return { root, env: standIns.env(), document: full };
}

describe('ag-kubeadm preflight against a real internal registry', () => {
  it('finds every image under its upstream host prefix and names the one that is missing (exit 5)', async () => {
    expect(seeded).toHaveLength(6);
    const n = await nodeWith(clusterDocument('v1.27.3'));
    const configured = createTestIo({ stdin: JSON.stringify(n.document), env: n.env });
    expect(await main(['config', '--host-root', n.root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], configured)).toBe(0);
    const withConfig = configured.stdoutText();

    const io = createTestIo({ stdin: withConfig, env: n.env });
    expect(await main(['preflight', '--host-root', n.root], io)).toBe(5);
    expect(io.stderrText()).toContain(`kubeadm will ask for 1 image(s) that are not in the internal registry ${registry.host}: registry.k8s.io/coredns/coredns:v1.10.1`);

    // With coredns pushed, every image is found, in the registry.
    await registry.seed(layoutDir, 'registry.k8s.io/coredns/coredns:v1.10.1');
    const again = createTestIo({ stdin: withConfig, env: n.env });
    expect(await main(['preflight', '--host-root', n.root], again)).toBe(0);
    const out = JSON.parse(again.stdoutText()) as AgDocument;
    expect(out.kubeadm?.preflight?.images).toHaveLength(7);
    expect(out.kubeadm?.preflight?.images.every((i) => i.foundIn === 'registry')).toBe(true);
    expect(out.kubeadm?.preflight?.containerdSandboxImage).toBe('registry.k8s.io/pause:3.9');
  });

  it('with --image-repository internal, checks the internal names kubeadm asks for', async () => {
    const n = await nodeWith(clusterDocument('v1.27.3'));
    await writeFile(
      join(n.root, 'etc/containerd/config.toml'),
      `version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "${registry.host}/registry.k8s.io/pause:3.9"\n`,
    );
    const configured = createTestIo({ stdin: JSON.stringify(n.document), env: n.env });
    expect(await main(['config', '--host-root', n.root, '--image-repository', 'internal', '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], configured)).toBe(0);
    const io = createTestIo({ stdin: configured.stdoutText(), env: n.env });
    expect(await main(['preflight', '--host-root', n.root], io)).toBe(0);
    const out = JSON.parse(io.stdoutText()) as AgDocument;
    expect(out.kubeadm?.preflight?.images.map((i) => i.ref)).toContain(`${registry.host}/registry.k8s.io/coredns/coredns:v1.10.1`);
  });
});
