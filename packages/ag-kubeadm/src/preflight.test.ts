import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { createStandIns, generatedLayout, kubeadmDoubleBody, kubectlStandIn, LINUX_AMD64, startRegistry, writeKubeadmLikeSet, type RegistryFixture } from '@ag/fixtures';
import { main } from './cli.js';
import { clusterDocument, nodeprepSection } from './testdata/documents.js';
import { addNodeStandIns } from './testdata/stand-ins.js';

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

async function nodeWith(document: AgDocument, kubeadm?: string): Promise<{ root: string; env: Record<string, string>; document: AgDocument }> {
  const root = await mkdtemp(join(tmpdir(), 'ag-kubeadm-preflight-'));
  const cluster = await mkdtemp(join(tmpdir(), 'ag-kubeadm-cluster-'));
  await mkdir(join(root, 'etc/containerd'), { recursive: true });
  await writeFile(join(root, 'etc/containerd/config.toml'), 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n');
  await mkdir(join(root, 'etc/ag-registry'), { recursive: true });
  await writeFile(join(root, 'etc/ag-registry/credentials'), `ag:${registry.credentials!.password}\n`, { mode: 0o600 });
  await writeFile(join(root, 'etc/ag-registry/ca.crt'), await readFile(registry.caFile));
  const standIns = await addNodeStandIns(await createStandIns(), {
    kubeadm: await kubeadmDoubleBody({ version: kubeadm ?? 'v1.27.3', root, cluster }),
    kubectl: kubectlStandIn(cluster),
  });
  // No containerd on this node yet (ctr fails), and, unless asked for, no kubeadm: the document's list is what is checked.
  await standIns.add('ctr', 'echo "ctr: failed to dial" >&2; exit 1');
  if (kubeadm === undefined) await rm(join(standIns.bin, 'kubeadm'));
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
    expect(await main(['config', '--root', n.root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], configured)).toBe(0);
    const withConfig = configured.stdoutText();

    const io = createTestIo({ stdin: withConfig, env: n.env });
    expect(await main(['preflight', '--root', n.root], io)).toBe(5);
    expect(io.stderrText()).toContain(`kubeadm will ask for 1 image(s) that are not in the internal registry ${registry.host}: registry.k8s.io/coredns/coredns:v1.10.1`);

    // With coredns pushed, every image is found, in the registry.
    await registry.seed(layoutDir, 'registry.k8s.io/coredns/coredns:v1.10.1');
    const again = createTestIo({ stdin: withConfig, env: n.env });
    expect(await main(['preflight', '--root', n.root], again)).toBe(0);
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
    expect(await main(['config', '--root', n.root, '--image-repository', 'internal', '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], configured)).toBe(0);
    const io = createTestIo({ stdin: configured.stdoutText(), env: n.env });
    expect(await main(['preflight', '--root', n.root], io)).toBe(0);
    const out = JSON.parse(io.stdoutText()) as AgDocument;
    expect(out.kubeadm?.preflight?.images.map((i) => i.ref)).toContain(`${registry.host}/registry.k8s.io/coredns/coredns:v1.10.1`);
  });

  it('checks version skew inside the bundle, the containerd release and cgroup v2, and records each check', async () => {
    const configured = async (document: AgDocument, kubeadm?: string, setup?: (root: string) => Promise<void>) => {
      const n = await nodeWith(document, kubeadm);
      await setup?.(n.root);
      const io = createTestIo({ stdin: JSON.stringify(n.document), env: n.env });
      expect(await main(['config', '--root', n.root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], io)).toBe(0);
      const pre = createTestIo({ stdin: io.stdoutText(), env: n.env });
      const code = await main(['preflight', '--root', n.root], pre);
      return { code, err: pre.stderrText(), out: pre.stdoutText() === '' ? undefined : (JSON.parse(pre.stdoutText()) as AgDocument), root: n.root };
    };
    const binaries = (kubeadm: string, kubelet: string, kubectl: string) =>
      (['kubeadm', 'kubelet', 'kubectl'] as const).map((name, i) => ({
        name, kind: 'binary' as const, arch: 'amd64' as const, version: [kubeadm, kubelet, kubectl][i],
        source: { url: `https://dl.k8s.io/release/x/bin/linux/amd64/${name}` }, path: `files/linux/amd64/${name}`,
      }));
    const withFiles = (kubeadm: string, kubelet: string, kubectl: string): AgDocument => {
      const d = clusterDocument('v1.27.3');
      d.fetch!.files = binaries(kubeadm, kubelet, kubectl);
      return d;
    };
    // A kubelet newer than the control plane, and a kubectl two minors away.
    const skew = await configured(withFiles('v1.27.3', 'v1.28.0', 'v1.25.0'));
    expect(skew.code).toBe(3);
    expect(skew.err).toContain("version skew: the bundle's kubelet v1.28.0 is newer than the control plane v1.27.3; the bundle's kubectl v1.25.0 is more than one minor away from the control plane v1.27.3");

    // containerd 1.6.10 is older than the 1.6.15 that Kubernetes 1.27 needs (containerd RELEASES.md).
    const old = { ...withFiles('v1.27.3', 'v1.27.3', 'v1.27.3'), nodeprep: nodeprepSection('systemd') };
    old.nodeprep.containerd!.version = '1.6.10';
    const containerd = await configured(old);
    expect(containerd.code).toBe(6);
    expect(containerd.err).toContain('containerd 1.6.10 is older than 1.6.15, the first 1.6 release containerd supports for Kubernetes 1.27 (1.7.0+, 1.6.15+)');

    // A cgroup v2 host, and kubeadm installed: every check passes and is recorded.
    await registry.seed(layoutDir, 'registry.k8s.io/coredns/coredns:v1.10.1');
    const v2 = await configured(withFiles('v1.27.3', 'v1.27.3', 'v1.27.3'), 'v1.27.3', async (root) => {
      await mkdir(join(root, 'sys/fs/cgroup'), { recursive: true });
      await writeFile(join(root, 'sys/fs/cgroup/cgroup.controllers'), 'cpuset cpu io memory pids\n');
    });
    expect(v2.err).not.toContain('error');
    expect(v2.code).toBe(0);
    expect(v2.out!.kubeadm!.preflight!.checks!.map((c) => [c.name, c.result])).toEqual([
      ['version-skew', 'ok'],
      ['containerd-version', 'skipped'],
      ['cgroup-v2', 'ok'],
      ['kubeadm-config', 'ok'],
    ]);
  });

  it('refuses a cgroup v1 host for 1.35 and later, naming the kubelet setting that would keep it', async () => {
    const n = await nodeWith(clusterDocument('v1.31.1'));
    await mkdir(join(n.root, 'sys/fs/cgroup/memory'), { recursive: true });
    await writeFile(join(n.root, 'etc/containerd/config.toml'), 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n');
    const io = createTestIo({ stdin: JSON.stringify(n.document), env: n.env });
    expect(await main(['config', '--root', n.root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], io)).toBe(0);
    const document = JSON.parse(io.stdoutText()) as AgDocument;
    const on = async (version: string) => {
      const pre = createTestIo({ stdin: JSON.stringify({ ...document, kubeadm: { ...document.kubeadm!, kubernetesVersion: version } }), env: n.env });
      return { code: await main(['preflight', '--root', n.root], pre), err: pre.stderrText() };
    };
    const v135 = await on('v1.35.0');
    expect(v135.code).toBe(6);
    expect(v135.err).toContain('this host runs cgroup v1, and the kubelet of Kubernetes v1.35.0 refuses to start on cgroup v1: its KubeletConfiguration setting failCgroupV1 defaults to true from 1.35');
    expect(v135.err).toContain('failCgroupV1: false');
    // 1.31 still starts there: only a warning (the images are what stops this preflight).
    const v131 = await on('v1.31.1');
    expect(v131.err).toContain('cgroup-v2: the host runs cgroup v1');
    expect(v131.code).toBe(5);
  });

  it('stops when kubeadm does not fully accept the configuration file (exit 3)', async () => {
    const n = await nodeWith(clusterDocument('v1.31.1'), 'v1.31.1');
    const io = createTestIo({ stdin: JSON.stringify(n.document), env: n.env });
    expect(await main(['config', '--root', n.root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], io)).toBe(0);
    const file = join(n.root, 'etc/kubernetes/ag/kubeadm-config.yaml');
    // Someone edited the file on the node with a v1beta3 field.
    const document = JSON.parse(io.stdoutText()) as AgDocument;
    const edited = document.kubeadm!.config.replace('kind: ClusterConfiguration\n', 'kind: ClusterConfiguration\nuseHyperKubeImage: true\n');
    await writeFile(file, edited);
    const pre = createTestIo({ stdin: JSON.stringify({ ...document, kubeadm: { ...document.kubeadm!, config: edited } }), env: n.env });
    expect(await main(['preflight', '--root', n.root], pre)).toBe(3);
    expect(pre.stderrText()).toContain('kubeadm v1.31.1 refuses /etc/kubernetes/ag/kubeadm-config.yaml');
    expect(pre.stderrText()).toContain('json: unknown field "useHyperKubeImage"');
  });
});
