import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { validateDocument, type AgDocument } from '@ag/core';
import { main } from './cli.js';
import { configureKubeadm, type ConfigOptions } from './config.js';
import { detectAdvertiseAddress } from './host.js';
import { execa } from 'execa';
import { writeKubeadmDouble } from '@ag/fixtures';
import { clusterDocument, nodeprepSection, REGISTRY } from './testdata/documents.js';

/** Asks the kubeadm double of `version` to read `configFile` as kubeadm does: it prints the images, or fails. */
async function kubeadmReads(version: string, configFile: string): Promise<{ images: string[]; stderr: string; validated: boolean }> {
  const dir = await tempRoot();
  const kubeadm = await writeKubeadmDouble(join(dir, 'kubeadm'), { version, root: join(dir, 'root'), cluster: join(dir, 'cluster') });
  const listed = await execa(kubeadm, ['config', 'images', 'list', '--config', configFile], { reject: false });
  expect(listed.stderr).toBe('');
  expect(listed.exitCode).toBe(0);
  // config validate (1.28+) decodes strictly: an unknown field or kind is an error there.
  const minor = Number(version.split('.')[1]);
  if (minor >= 28) {
    const validated = await execa(kubeadm, ['config', 'validate', '--config', configFile], { reject: false });
    expect(validated.stderr).toBe('');
    expect(validated.exitCode).toBe(0);
  }
  return { images: listed.stdout.split('\n'), stderr: listed.stderr, validated: minor >= 28 };
}

const golden = (name: string): Promise<string> => readFile(new URL(`./testdata/golden/${name}.yaml`, import.meta.url), 'utf8');
const node: ConfigOptions = { advertiseAddress: '192.168.56.10', nodeName: 'cp1' };

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ag-kubeadm-config-'));
}

interface Case {
  name: string;
  version: string;
  options: ConfigOptions;
  document?: Partial<AgDocument>;
  apiVersion: 'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4';
  pause: string;
  coredns: string;
  etcd: string;
}

const cases: Case[] = [
  {
    name: 'v1.27.3',
    version: 'v1.27.3',
    options: node,
    apiVersion: 'kubeadm.k8s.io/v1beta3',
    pause: 'registry.k8s.io/pause:3.9',
    coredns: 'registry.k8s.io/coredns/coredns:v1.10.1',
    etcd: 'registry.k8s.io/etcd:3.5.7-0',
  },
  {
    name: 'v1.27.3-single-node',
    version: 'v1.27.3',
    options: { ...node, singleNode: true },
    apiVersion: 'kubeadm.k8s.io/v1beta3',
    pause: 'registry.k8s.io/pause:3.9',
    coredns: 'registry.k8s.io/coredns/coredns:v1.10.1',
    etcd: 'registry.k8s.io/etcd:3.5.7-0',
  },
  {
    name: 'v1.30.2',
    version: 'v1.30.2',
    options: { ...node, apiServerArgs: ['audit-log-maxage=7'] },
    apiVersion: 'kubeadm.k8s.io/v1beta3',
    pause: 'registry.k8s.io/pause:3.9',
    coredns: 'registry.k8s.io/coredns/coredns:v1.11.1',
    etcd: 'registry.k8s.io/etcd:3.5.12-0',
  },
  {
    name: 'v1.31.1',
    version: 'v1.31.1',
    options: { ...node, apiServerArgs: ['--audit-log-maxage=7'] },
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    pause: 'registry.k8s.io/pause:3.10',
    coredns: 'registry.k8s.io/coredns/coredns:v1.11.3',
    etcd: 'registry.k8s.io/etcd:3.5.15-0',
  },
  {
    name: 'v1.31.1-ha-internal',
    version: 'v1.31.1',
    options: { ...node, controlPlaneEndpoint: 'k8s-api.site.internal:6443', imageRepository: 'internal', controlPlaneTimeoutMs: 600_000 },
    document: { registry: REGISTRY },
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    pause: '10.0.0.5:5000/registry.k8s.io/pause:3.10',
    // kubeadm asks <dns.imageRepository>/coredns:<tag>; the repository carries the upstream coredns/ level.
    coredns: '10.0.0.5:5000/registry.k8s.io/coredns/coredns:v1.11.3',
    etcd: '10.0.0.5:5000/registry.k8s.io/etcd:3.5.15-0',
  },
];

describe('ag-kubeadm config: golden configurations', () => {
  for (const c of cases) {
    it(`${c.name}: the exact file, read by kubeadm ${c.version} without a warning, and the image references it computes`, async () => {
      const root = await tempRoot();
      const document = clusterDocument(c.version, c.document);
      const result = await configureKubeadm(document, { ...c.options, hostRoot: root });
      const expected = await golden(c.name);
      expect(result.section.config).toBe(expected);
      expect(await readFile(join(root, 'etc/kubernetes/ag/kubeadm-config.yaml'), 'utf8')).toBe(expected);
      expect(result.section.configFile).toBe('/etc/kubernetes/ag/kubeadm-config.yaml');
      expect(result.section.apiVersion).toBe(c.apiVersion);

      const [init, cluster, kubelet, ...rest] = parseAllDocuments(expected).map((d) => d.toJS() as Record<string, unknown>);
      expect(rest).toEqual([]);
      expect(init).toMatchObject({ apiVersion: c.apiVersion, kind: 'InitConfiguration' });
      expect(cluster).toMatchObject({ apiVersion: c.apiVersion, kind: 'ClusterConfiguration', kubernetesVersion: c.version });
      expect(kubelet).toEqual({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd' });
      // kubeadm of that release reads it, and asks for exactly the images the document records.
      const read = await kubeadmReads(c.version, join(root, 'etc/kubernetes/ag/kubeadm-config.yaml'));
      expect(read.images).toEqual(result.section.images.map((i) => i.ref));

      const images = Object.fromEntries(result.section.images.map((i) => [i.component, i.ref]));
      expect(images['pause']).toBe(c.pause);
      expect(result.section.sandboxImage).toBe(c.pause);
      expect(images['coredns']).toBe(c.coredns);
      expect(images['etcd']).toBe(c.etcd);
      const repository = (cluster as { imageRepository: string }).imageRepository;
      expect(images['kube-apiserver']).toBe(`${repository}/kube-apiserver:${c.version}`);
      expect(result.section.imageRepository).toBe(repository);
      // kubeadm derives pause from imageRepository: the sandbox image must be exactly that.
      expect(result.section.sandboxImage.startsWith(`${repository}/pause:`)).toBe(true);
      // The document with the new section is still valid.
      expect(() => validateDocument({ ...document, kubeadm: result.section }, 'test')).not.toThrow();
    });
  }

  it('pins the etcd and coredns tags only when asked', async () => {
    const result = await configureKubeadm(clusterDocument('v1.27.3'), { ...node, pinImageTags: true, hostRoot: await tempRoot() });
    const cluster = parseAllDocuments(result.section.config)[1]!.toJS() as { etcd: { local: Record<string, string> }; dns: Record<string, string> };
    expect(cluster.etcd.local['imageTag']).toBe('3.5.7-0');
    expect(cluster.dns['imageTag']).toBe('v1.10.1');
  });

  it('names the missing component instead of guessing its version', async () => {
    const document = clusterDocument('v1.27.3');
    delete document.fetch!.components['coredns'];
    await expect(configureKubeadm(document, { ...node, hostRoot: await tempRoot() })).rejects.toMatchObject({
      kind: 'missing',
      message: expect.stringContaining('no coredns version'),
    });
  });

  it('refuses internal images without a registry section and versions before 1.22', async () => {
    await expect(configureKubeadm(clusterDocument('v1.27.3'), { ...node, imageRepository: 'internal', dryRun: true })).rejects.toMatchObject({
      kind: 'usage',
      message: expect.stringContaining('no registry section'),
    });
    const old = clusterDocument('v1.27.3');
    old.cluster!.kubernetesVersion = 'v1.21.14';
    await expect(configureKubeadm(old, { ...node, dryRun: true })).rejects.toMatchObject({ kind: 'usage' });
  });

  it("puts kubeadm's internal repository, coredns and the sandbox image under the registry's prefix", async () => {
    const document = clusterDocument('v1.27.3', { registry: { endpoint: 'harbor.example', prefix: 'k8s', external: true } });
    const { section } = await configureKubeadm(document, { ...node, imageRepository: 'internal', dryRun: true });
    expect(section.imageRepository).toBe('harbor.example/k8s/registry.k8s.io');
    expect(section.sandboxImage).toBe('harbor.example/k8s/registry.k8s.io/pause:3.9');
    expect(section.images.find((i) => i.component === 'coredns')!.ref).toBe('harbor.example/k8s/registry.k8s.io/coredns/coredns:v1.10.1');
    expect(parseAllDocuments(section.config).map((d) => d.toJS()).find((d) => d.kind === 'ClusterConfiguration')).toMatchObject({
      imageRepository: 'harbor.example/k8s/registry.k8s.io',
      dns: { imageRepository: 'harbor.example/k8s/registry.k8s.io/coredns' },
    });
  });

  it('rewrites nothing when the file already holds the same configuration, and writes nothing in a dry run', async () => {
    const root = await tempRoot();
    const first = await configureKubeadm(clusterDocument('v1.27.3'), { ...node, hostRoot: root });
    expect(first.changed).toBe(true);
    const before = await stat(first.path);
    const again = await configureKubeadm({ ...clusterDocument('v1.27.3'), kubeadm: first.section }, { ...node, hostRoot: root });
    expect(again.changed).toBe(false);
    expect((await stat(first.path)).mtimeMs).toBe(before.mtimeMs);
    const dry = await tempRoot();
    await configureKubeadm(clusterDocument('v1.27.3'), { ...node, hostRoot: dry, dryRun: true });
    await expect(stat(join(dry, 'etc/kubernetes/ag/kubeadm-config.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('ag-kubeadm config: the KubeletConfiguration', () => {
  const cli = async (root: string, document: AgDocument, extra: string[] = []): Promise<{ code: number; out?: AgDocument; err: string }> => {
    const io = createTestIo({ stdin: JSON.stringify(document) });
    const code = await main(['config', '--root', root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1', ...extra], io);
    return { code, out: io.stdoutText() === '' ? undefined : (JSON.parse(io.stdoutText()) as AgDocument), err: io.stderrText() };
  };

  it("tells the kubelet ag-nodeprep's cgroup driver and nameserver file, and kubeadm hands both to the kubelet", async () => {
    const root = await tempRoot();
    const document = clusterDocument('v1.27.3', { nodeprep: nodeprepSection('cgroupfs', '/etc/ag/resolv.conf') });
    // systemd-resolved runs on this node: without resolvConf kubeadm would choose resolved's own file.
    await mkdir(join(root, 'run/systemd/resolve'), { recursive: true });
    await writeFile(join(root, 'run/systemd/resolve/resolv.conf'), 'nameserver 1.1.1.1\n');
    const { code, out, err } = await cli(root, document, ['--kubelet-arg', 'node-ip=192.168.56.10']);
    expect(err).not.toContain('error');
    expect(code).toBe(0);
    expect(out!.kubeadm!.kubelet).toEqual({ cgroupDriver: 'cgroupfs', cgroupDriverFrom: 'nodeprep', resolvConf: '/etc/ag/resolv.conf' });
    const kubelet = parseAllDocuments(out!.kubeadm!.config).map((d) => d.toJS() as Record<string, unknown>)[2];
    expect(kubelet).toEqual({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'cgroupfs', resolvConf: '/etc/ag/resolv.conf' });
    const kubeadm = await writeKubeadmDouble(join(root, 'kubeadm'), { version: 'v1.27.3', root, cluster: join(root, 'cluster'), hostname: 'cp1' });
    const init = await execa(kubeadm, ['init', '--config', join(root, 'etc/kubernetes/ag/kubeadm-config.yaml')], { reject: false });
    expect(init.exitCode, init.stderr).toBe(0);
    expect(parse(await readFile(join(root, 'var/lib/kubelet/config.yaml'), 'utf8'))).toMatchObject({ cgroupDriver: 'cgroupfs', resolvConf: '/etc/ag/resolv.conf' });
  });

  it('refuses (exit 2, naming both, writing nothing) when a flag, containerd or the kubelet already on the node says another driver', async () => {
    const nodeprep = clusterDocument('v1.27.3', { nodeprep: nodeprepSection('systemd') });
    const flag = await tempRoot();
    const byFlag = await cli(flag, nodeprep, ['--kubelet-arg', 'cgroup-driver=cgroupfs']);
    expect(byFlag.code).toBe(2);
    expect(byFlag.err).toContain("--kubelet-arg cgroup-driver=cgroupfs would tell the kubelet cgroupfs, but ag-nodeprep configured containerd's runc for systemd (nodeprep.containerd.cgroupDriver)");
    await expect(stat(join(flag, 'etc/kubernetes/ag/kubeadm-config.yaml'))).rejects.toMatchObject({ code: 'ENOENT' });

    const containerd = await tempRoot();
    await mkdir(join(containerd, 'etc/containerd'), { recursive: true });
    await writeFile(
      join(containerd, 'etc/containerd/config.toml'),
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = false\n',
    );
    const byContainerd = await cli(containerd, nodeprep);
    expect(byContainerd.code).toBe(2);
    expect(byContainerd.err).toContain('containerd on this node uses the cgroupfs cgroup driver (SystemdCgroup = false in /etc/containerd/config.toml), but the kubelet would be told systemd (nodeprep.containerd.cgroupDriver)');

    const kubelet = await tempRoot();
    await mkdir(join(kubelet, 'var/lib/kubelet'), { recursive: true });
    await writeFile(join(kubelet, 'var/lib/kubelet/config.yaml'), 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n');
    const byKubelet = await cli(kubelet, nodeprep);
    expect(byKubelet.code).toBe(2);
    expect(byKubelet.err).toContain('the kubelet on this node is already configured with cgroupDriver cgroupfs (/var/lib/kubelet/config.yaml), but this configuration would tell it systemd (nodeprep.containerd.cgroupDriver)');
    // Without a nodeprep section the explicit flag is what the kubelet is told, in the configuration rather than as a flag.
    const plain = await cli(await tempRoot(), clusterDocument('v1.27.3'), ['--kubelet-arg', 'cgroup-driver=cgroupfs']);
    expect(plain.code).toBe(0);
    expect(plain.out!.kubeadm!.kubelet).toEqual({ cgroupDriver: 'cgroupfs', cgroupDriverFrom: 'flag' });
    expect(plain.out!.kubeadm!.config).not.toContain('name: cgroup-driver');
  });
});

describe('advertise address detection', () => {
  const iface = (address: string) => [{ address, family: 'IPv4' as const, internal: false, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` }];
  const header = 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n';

  it('takes the default-route interface, like kubeadm', () => {
    const routes = `${header}eth1\tC0A83800\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth0\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n`;
    expect(detectAdvertiseAddress({ routes, interfaces: { eth0: iface('10.0.2.15'), eth1: iface('192.168.56.10') } })).toBe('10.0.2.15');
  });

  it('on an air-gapped node with no default route, takes the one real address and ignores cluster interfaces', () => {
    const routes = `${header}eth1\tC0A83800\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`;
    expect(detectAdvertiseAddress({ routes, interfaces: { eth1: iface('192.168.56.11'), cni0: iface('10.244.0.1'), 'flannel.1': iface('10.244.0.0') } })).toBe(
      '192.168.56.11',
    );
  });

  it('asks for --advertise-address when several addresses are possible', () => {
    expect(() => detectAdvertiseAddress({ routes: header, interfaces: { eth0: iface('10.0.0.2'), eth1: iface('192.168.56.11') } })).toThrow(
      /several addresses: 10.0.0.2 \(eth0\), 192.168.56.11 \(eth1\)/,
    );
  });
});

describe('ag-kubeadm config (CLI)', () => {
  it('writes the file, records its content and the sandbox image in the document, and only the document on stdout', async () => {
    const root = await tempRoot();
    const io = createTestIo({ stdin: JSON.stringify(clusterDocument('v1.27.3')) });
    const code = await main(['config', '--root', root, '--advertise-address', '192.168.56.10', '--node-name', 'cp1', '--single-node'], io);
    expect(io.stderrText()).not.toMatch(/error/);
    expect(code).toBe(0);
    const out = JSON.parse(io.stdoutText()) as AgDocument;
    expect(out.kubeadm?.config).toBe(await golden('v1.27.3-single-node'));
    expect(out.kubeadm?.sandboxImage).toBe('registry.k8s.io/pause:3.9');
    expect(out.kubeadm?.singleNode).toBe(true);
    expect(out.fetch?.components['etcd']).toBe('3.5.7-0');
    expect(await readFile(join(root, out.kubeadm!.configFile), 'utf8')).toBe(out.kubeadm?.config);
    expect(io.stderrText()).toContain('sandbox image: registry.k8s.io/pause:3.9');
  });

  it('exits 2 with the reason when the document has no cluster section', async () => {
    const io = createTestIo({ stdin: JSON.stringify({ apiVersion: 'ag/v1alpha1', kind: 'Cluster' }) });
    expect(await main(['config', '--dry-run', '--advertise-address', '10.0.0.1'], io)).toBe(2);
    expect(io.stdoutText()).toBe('');
    expect(io.stderrText()).toContain('no cluster section');
  });
});
