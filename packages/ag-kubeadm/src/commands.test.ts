import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { createStandIns, kubeadmDoubleBody, kubectlStandIn, type StandIns } from '@ag/fixtures';
import { main } from './cli.js';
import { caCertHashes } from './discovery-hash.js';
import { clusterDocument } from './testdata/documents.js';
import { addNodeStandIns } from './testdata/stand-ins.js';

const IMAGES_1_27 = [
  'registry.k8s.io/kube-apiserver:v1.27.3',
  'registry.k8s.io/kube-controller-manager:v1.27.3',
  'registry.k8s.io/kube-scheduler:v1.27.3',
  'registry.k8s.io/kube-proxy:v1.27.3',
  'registry.k8s.io/pause:3.9',
  'registry.k8s.io/etcd:3.5.7-0',
  'registry.k8s.io/coredns/coredns:v1.10.1',
];

interface Node {
  root: string;
  cluster: string;
  standIns: StandIns;
  env: Record<string, string>;
}

/**
 * A host root with containerd configured as ag-nodeprep leaves it; kubeadm is
 * the kit's double of `version` on this node, in `cluster` (shared by the
 * nodes of one test), kubectl answers from that cluster.
 */
async function node(options: { version?: string; name?: string; cluster?: string; sandbox?: string; containerdImages?: string[] } = {}): Promise<Node> {
  const root = await mkdtemp(join(tmpdir(), 'ag-kubeadm-node-'));
  const cluster = options.cluster ?? (await mkdtemp(join(tmpdir(), 'ag-kubeadm-cluster-')));
  await mkdir(join(root, 'etc/containerd'), { recursive: true });
  await writeFile(join(root, 'etc/containerd/config.toml'), `version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "${options.sandbox ?? 'registry.k8s.io/pause:3.9'}"\n`);
  const kubeadm = await kubeadmDoubleBody({ version: options.version ?? 'v1.27.3', root, cluster, hostname: options.name ?? 'cp1' });
  const standIns = await addNodeStandIns(await createStandIns(), { kubeadm, kubectl: kubectlStandIn(cluster) });
  await writeFile(join(standIns.dir, 'ctr-images.txt'), `${(options.containerdImages ?? IMAGES_1_27).join('\n')}\n`);
  await writeFile(join(standIns.dir, 'readyz-failures'), '2');
  return { root, cluster, standIns, env: standIns.env({ AG_POLL_INTERVAL_MS: '10' }) };
}

async function run(n: Node, argv: string[], document: AgDocument): Promise<{ code: number; out: AgDocument | undefined; err: string }> {
  const io = createTestIo({ stdin: JSON.stringify(document), env: n.env });
  const code = await main([...argv, '--root', n.root], io);
  const text = io.stdoutText();
  return { code, out: text === '' ? undefined : (JSON.parse(text) as AgDocument), err: io.stderrText() };
}

const cpFlags = ['--advertise-address', '192.168.56.10', '--node-name', 'cp1'];

describe('discovery-token-ca-cert-hash', () => {
  it('equals what openssl computes from the CA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-kubeadm-ca-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=kubernetes', '-days', '2'], { stdio: 'ignore' });
    const openssl = execFileSync('sh', ['-c', `openssl x509 -pubkey -noout -in '${join(dir, 'ca.crt')}' | openssl pkey -pubin -outform der | sha256sum`]).toString();
    expect(caCertHashes(await readFile(join(dir, 'ca.crt'), 'utf8'))).toEqual([`sha256:${openssl.split(' ')[0]}`]);
  });
});

describe('ag-kubeadm init (against the kubeadm double)', () => {
  it('writes the config, checks it and the images, runs kubeadm init with that exact file, waits, and emits join information', async () => {
    const n = await node();
    const { code, out, err } = await run(n, ['init', ...cpFlags], clusterDocument('v1.27.3'));
    expect(err).not.toMatch(/error|W\d{4} /);
    expect(code).toBe(0);
    const configPath = join(n.root, 'etc/kubernetes/ag/kubeadm-config.yaml');
    const admin = join(n.root, 'etc/kubernetes/admin.conf');
    const readyz = `kubectl --kubeconfig ${admin} get --raw /readyz`;
    expect(await n.standIns.calls()).toEqual([
      'kubeadm version -o short',
      `kubeadm config images list --config ${configPath}`,
      `ctr -a ${n.root}/var/run/containerd/containerd.sock -n k8s.io images ls -q`,
      `kubeadm init --config ${configPath}`,
      readyz,
      readyz,
      readyz,
      `kubectl --kubeconfig ${admin} get node cp1 -o name`,
      `kubeadm token create --kubeconfig ${admin} --ttl 24h0m0s`,
    ]);
    expect(err).toContain('Your Kubernetes control-plane has initialized successfully!');
    const k = out!.kubeadm!;
    expect(k.adminKubeconfig).toBe('/etc/kubernetes/admin.conf');
    expect(k.preflight?.images.map((i) => i.foundIn)).toEqual(Array(7).fill('containerd'));
    expect(k.preflight?.checks?.find((c) => c.name === 'kubeadm-config')).toMatchObject({ result: 'ok' });
    // The CA kubeadm made is the one the discovery hash pins.
    const caPem = await readFile(join(n.root, 'etc/kubernetes/pki/ca.crt'), 'utf8');
    expect(k.join).toMatchObject({ apiServerEndpoint: '192.168.56.10:6443', tokenFile: '/etc/kubernetes/ag/join-token', caCertHashes: caCertHashes(caPem) });
    expect(k.join?.certificateKeyFile).toBeUndefined();
    const tokenFile = join(n.root, 'etc/kubernetes/ag/join-token');
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(out)).not.toContain(token);
    // The kubelet got the configuration's KubeletConfiguration.
    expect(parse(await readFile(join(n.root, 'var/lib/kubelet/config.yaml'), 'utf8'))).toMatchObject({ cgroupDriver: 'systemd' });
  });

  it('with a control-plane endpoint: --upload-certs, and a fresh certificate key in a 0600 file', async () => {
    const n = await node();
    const { code, out } = await run(n, ['init', ...cpFlags, '--control-plane-endpoint', 'k8s-api.site.internal:6443'], clusterDocument('v1.27.3'));
    expect(code).toBe(0);
    const calls = await n.standIns.calls();
    const configPath = join(n.root, 'etc/kubernetes/ag/kubeadm-config.yaml');
    expect(calls).toContain(`kubeadm init --config ${configPath} --upload-certs`);
    expect(calls.at(-1)).toBe(`kubeadm init phase upload-certs --upload-certs --config ${configPath} --kubeconfig ${join(n.root, 'etc/kubernetes/admin.conf')}`);
    expect(out!.kubeadm!.join).toMatchObject({ apiServerEndpoint: 'k8s-api.site.internal:6443', certificateKeyFile: '/etc/kubernetes/ag/certificate-key' });
    const keyFile = join(n.root, 'etc/kubernetes/ag/certificate-key');
    expect((await readFile(keyFile, 'utf8')).trim()).toMatch(/^[a-f0-9]{64}$/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
  });

  it('is idempotent: on a node initialised with the same configuration it skips kubeadm init and emits fresh join information', async () => {
    const n = await node();
    const first = await run(n, ['init', ...cpFlags], clusterDocument('v1.27.3'));
    expect(first.code).toBe(0);
    const before = (await n.standIns.calls()).length;
    const second = await run(n, ['init'], first.out!);
    expect(second.code).toBe(0);
    const calls = (await n.standIns.calls()).slice(before);
    expect(calls.some((c) => c.startsWith('kubeadm init'))).toBe(false);
    expect(calls[0]).toContain('get configmap kubeadm-config');
    expect(calls.at(-1)).toMatch(/^kubeadm token create /);
    expect(second.err).toContain('already initialised');
    expect(second.out!.kubeadm!.initializedAt).toBe(first.out!.kubeadm!.initializedAt);
    expect(second.out!.kubeadm!.join!.createdAt >= first.out!.kubeadm!.join!.createdAt).toBe(true);

    // A running cluster with another pod subnet is another cluster: refuse, and say how to start over.
    const stored = join(n.cluster, 'kubeadm-config.yaml');
    await writeFile(stored, (await readFile(stored, 'utf8')).replace('10.244.0.0/16', '10.32.0.0/12'));
    const third = await run(n, ['init'], first.out!);
    expect(third.code).toBe(2);
    expect(third.err).toContain('podSubnet is "10.32.0.0/12", the document wants "10.244.0.0/16"');
    expect(third.err).toContain('ag-kubeadm reset');
  });

  it('names every missing image before kubeadm starts (exit 5)', async () => {
    const n = await node({ containerdImages: IMAGES_1_27.filter((i) => !i.includes('coredns') && !i.includes('etcd')) });
    const { code, out, err } = await run(n, ['init', ...cpFlags], clusterDocument('v1.27.3'));
    expect(code).toBe(5);
    expect(out).toBeUndefined();
    expect(err).toContain('registry.k8s.io/etcd:3.5.7-0, registry.k8s.io/coredns/coredns:v1.10.1');
    expect((await n.standIns.calls()).some((c) => c.startsWith('kubeadm init'))).toBe(false);
  });

  it("refuses a containerd sandbox image that differs from kubeadm's pause image (exit 3)", async () => {
    const n = await node({ sandbox: 'registry.k8s.io/pause:3.8' });
    const { code, err } = await run(n, ['init', ...cpFlags], clusterDocument('v1.27.3'));
    expect(code).toBe(3);
    expect(err).toContain("sandbox_image is registry.k8s.io/pause:3.8, but kubeadm's pause image is registry.k8s.io/pause:3.9");
    expect((await n.standIns.calls()).some((c) => c.startsWith('kubeadm init'))).toBe(false);
  });

  it('--dry-run lists the actions as JSON and changes nothing', async () => {
    const n = await node();
    const io = createTestIo({ stdin: JSON.stringify(clusterDocument('v1.27.3')), env: n.env });
    expect(await main(['init', ...cpFlags, '--dry-run', '--root', n.root], io)).toBe(0);
    const plan = JSON.parse(io.stderrText().split('\n').find((l) => l.startsWith('{"dryRun"'))!) as { actions: Array<{ action: string; target: string }> };
    expect(plan.actions.map((a) => a.action)).toEqual(['write-file', 'preflight', 'run']);
    expect(plan.actions[2]!.target).toBe(`kubeadm init --config ${join(n.root, 'etc/kubernetes/ag/kubeadm-config.yaml')}`);
    expect(await n.standIns.calls()).toEqual([]);
    await expect(stat(join(n.root, 'etc/kubernetes'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('ag-kubeadm join (against the kubeadm double)', () => {
  async function initialised(version: string, extra: string[] = []): Promise<{ document: AgDocument; cp: Node; token: string; key: string }> {
    const cp = await node({ version, sandbox: version === 'v1.27.3' ? undefined : 'registry.k8s.io/pause:3.10' });
    const { code, out, err } = await run(cp, ['init', ...cpFlags, '--skip-preflight', ...extra], clusterDocument(version));
    expect(code, err).toBe(0);
    const tokenCopy = join(await mkdtemp(join(tmpdir(), 'ag-token-')), 'join-token');
    await writeFile(tokenCopy, await readFile(join(cp.root, 'etc/kubernetes/ag/join-token')));
    return { document: out!, cp, token: tokenCopy, key: join(cp.root, 'etc/kubernetes/ag/certificate-key') };
  }

  it('joins a worker with the copied token: kubeadm accepts the 0600 JoinConfiguration (token, CA pin), which is removed afterwards', async () => {
    const { document, cp, token } = await initialised('v1.27.3');
    const w = await node({ cluster: cp.cluster, name: 'w1' });
    const { code, out, err } = await run(w, ['join', '--token-file', token, '--advertise-address', '192.168.56.21', '--node-name', 'w1'], document);
    expect(err).not.toMatch(/error|W\d{4} /);
    expect(code).toBe(0);
    const joinConfig = join(w.root, 'etc/kubernetes/ag/kubeadm-join.yaml');
    const kubelet = join(w.root, 'etc/kubernetes/kubelet.conf');
    expect(await w.standIns.calls()).toEqual([
      'kubeadm version -o short',
      `ctr -a ${w.root}/var/run/containerd/containerd.sock -n k8s.io images ls -q`,
      `kubeadm join --config ${joinConfig}`,
      `kubectl --kubeconfig ${kubelet} get --raw /readyz`,
      `kubectl --kubeconfig ${kubelet} get --raw /readyz`,
      `kubectl --kubeconfig ${kubelet} get --raw /readyz`,
      `kubectl --kubeconfig ${kubelet} get node w1 -o name`,
    ]);
    const given = parse(await readFile(join(w.standIns.dir, 'join-config.yaml'), 'utf8')) as Record<string, unknown>;
    expect(given).toEqual({
      apiVersion: 'kubeadm.k8s.io/v1beta3',
      kind: 'JoinConfiguration',
      nodeRegistration: { name: 'w1', criSocket: 'unix:///var/run/containerd/containerd.sock', kubeletExtraArgs: { 'node-ip': '192.168.56.21' } },
      discovery: { bootstrapToken: { apiServerEndpoint: '192.168.56.10:6443', token: (await readFile(token, 'utf8')).trim(), caCertHashes: document.kubeadm!.join!.caCertHashes } },
    });
    expect((await readFile(join(w.standIns.dir, 'join-config.mode'), 'utf8')).trim()).toBe('600');
    await expect(stat(joinConfig)).rejects.toMatchObject({ code: 'ENOENT' });
    // kubeadm downloaded the cluster's CA and kubelet configuration.
    expect(await readFile(join(w.root, 'etc/kubernetes/pki/ca.crt'), 'utf8')).toBe(await readFile(join(cp.root, 'etc/kubernetes/pki/ca.crt'), 'utf8'));
    expect(out!.kubeadm!.joined).toMatchObject({ node: 'w1', controlPlane: false, apiServerEndpoint: '192.168.56.10:6443' });
    // Again: the node is in a cluster already; nothing runs.
    const before = (await w.standIns.calls()).length;
    const again = await run(w, ['join', '--token-file', token, '--advertise-address', '192.168.56.21', '--node-name', 'w1'], out!);
    expect(again.code).toBe(0);
    expect((await w.standIns.calls()).length).toBe(before);
  });

  it('joins another control plane on v1.31 with the certificate key (v1beta4 shapes), which kubeadm checks against the uploaded one', async () => {
    const { document, cp, token, key } = await initialised('v1.31.1', ['--control-plane-endpoint', 'k8s-api.site.internal']);
    const images = document.kubeadm!.images.map((i) => i.ref);
    const n = await node({ version: 'v1.31.1', cluster: cp.cluster, name: 'cp2', sandbox: 'registry.k8s.io/pause:3.10', containerdImages: images });
    const { code, out, err } = await run(
      n,
      ['join', '--control-plane', '--token-file', token, '--certificate-key-file', key, '--advertise-address', '192.168.56.11', '--node-name', 'cp2'],
      document,
    );
    expect(code, err).toBe(0);
    // The preflight of a join reads no kubeadm-config.yaml (only cp1 has it), as kubeadm's join preflight: node checks,
    // the control-plane endpoint and certificate key, and every image of the cluster's configuration.
    const calls = await n.standIns.calls();
    expect(calls.filter((c) => c.startsWith('kubeadm '))).toEqual(['kubeadm version -o short', `kubeadm join --config ${join(n.root, 'etc/kubernetes/ag/kubeadm-join.yaml')}`]);
    const preflight = out!.kubeadm!.preflight!;
    expect(preflight.images.map((i) => i.ref)).toEqual(images);
    expect(preflight.images.every((i) => i.foundIn === 'containerd')).toBe(true);
    expect(preflight.checks!.map((c) => [c.name, c.result])).toEqual([
      ['version-skew', 'ok'],
      ['containerd-version', 'skipped'],
      ['cgroup-v2', expect.any(String)],
      ['control-plane-join', 'ok'],
    ]);
    const given = parse(await readFile(join(n.standIns.dir, 'join-config.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(given['apiVersion']).toBe('kubeadm.k8s.io/v1beta4');
    expect(given['nodeRegistration']!['kubeletExtraArgs']).toEqual([{ name: 'node-ip', value: '192.168.56.11' }]);
    expect(given['discovery']).toMatchObject({ bootstrapToken: { apiServerEndpoint: 'k8s-api.site.internal:6443' } });
    expect(given['controlPlane']).toEqual({ localAPIEndpoint: { advertiseAddress: '192.168.56.11', bindPort: 6443 }, certificateKey: (await readFile(key, 'utf8')).trim() });
    // The control-plane certificates came from the cluster.
    expect(await readFile(join(n.root, 'etc/kubernetes/pki/ca.key'), 'utf8')).toBe(await readFile(join(cp.root, 'etc/kubernetes/pki/ca.key'), 'utf8'));
  });

  it('says where the token is when it was not copied (exit 5), refuses a document without join information (exit 2), and reports kubeadm refusing a stale token (exit 7)', async () => {
    const { document, cp, token } = await initialised('v1.27.3');
    const w = await node({ cluster: cp.cluster, name: 'w1' });
    const missing = await run(w, ['join', '--advertise-address', '192.168.56.21', '--node-name', 'w1'], document);
    expect(missing.code).toBe(5);
    expect(missing.err).toContain(`the bootstrap token file ${join(w.root, 'etc/kubernetes/ag/join-token')} is not on this node`);
    expect(missing.err).toContain('scp CP:/etc/kubernetes/ag/join-token');
    const none = await run(w, ['join'], clusterDocument('v1.27.3'));
    expect(none.code).toBe(2);
    expect(none.err).toContain('no kubeadm.join information');
    await writeFile(token, 'zzzzzz.0123456789abcdef\n');
    const stale = await run(w, ['join', '--skip-preflight', '--token-file', token, '--advertise-address', '192.168.56.21', '--node-name', 'w1'], document);
    expect(stale.code).toBe(7);
    expect(stale.err).toContain('could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"');
  });
});
