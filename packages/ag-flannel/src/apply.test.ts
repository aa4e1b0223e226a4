import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument } from '@ag/core';
import { addKubectlDouble, createStandIns, flannelPodName, flannelPodObject, kubectlDoubleState, nodeObject, type KubectlCluster } from '@ag/fixtures';
import { main } from './cli.js';
import { createTestBundle, type TestBundle } from './testing/bundle.js';

let bundle: TestBundle;
let hostRoot: string;

beforeAll(async () => {
  bundle = await createTestBundle();
  // What ag-kubeadm init leaves: the admin kubeconfig, on the node.
  hostRoot = await mkdtemp(join(tmpdir(), 'ag-flannel-node-'));
  await mkdir(join(hostRoot, 'etc/kubernetes'), { recursive: true });
  await writeFile(join(hostRoot, 'etc/kubernetes/admin.conf'), 'apiVersion: v1\nkind: Config\n');
});

async function renderedDocument(out: string): Promise<AgDocument> {
  const rendered = await bundle.render(['--out', join(bundle.root, out)]);
  expect(rendered.code).toBe(0);
  return {
    ...rendered.out!,
    kubeadm: {
      configFile: '/etc/kubernetes/ag/kubeadm-config.yaml',
      apiVersion: 'kubeadm.k8s.io/v1beta3',
      kubernetesVersion: 'v1.27.3',
      config: '# not read by ag-flannel\n',
      imageRepository: 'registry.k8s.io',
      imageSource: 'upstream',
      sandboxImage: 'registry.k8s.io/pause:3.9',
      images: [],
      node: { name: 'cp1', advertiseAddress: '192.168.56.10', bindPort: 6443, criSocket: 'unix:///var/run/containerd/containerd.sock' },
      singleNode: false,
      adminKubeconfig: '/etc/kubernetes/admin.conf',
    },
  };
}

async function apply(cluster: KubectlCluster, document: AgDocument, extra: string[] = [], interval = '10') {
  const standIns = await createStandIns();
  await addKubectlDouble(standIns, cluster);
  const io = createTestIo({ stdin: JSON.stringify(document), env: standIns.env({ AG_POLL_INTERVAL_MS: interval }) });
  const code = await main(['apply', '--root', hostRoot, ...extra], io);
  const out = io.stdoutText() === '' ? undefined : (JSON.parse(io.stdoutText()) as AgDocument);
  return { code, out, err: io.stderrText(), calls: await standIns.calls(), state: await kubectlDoubleState(standIns) };
}

const cp1 = (ready = true) => nodeObject({ name: 'cp1', ready, controlPlane: true, podCIDR: '10.32.0.0/24' });
const w1 = (ready = true) => nodeObject({ name: 'w1', ready, address: '192.168.56.21', podCIDR: '10.32.1.0/24' });
const windows = nodeObject({ name: 'win1', os: 'windows', address: '192.168.56.31' });
const pod = (node: string, phase: 'init' | 'running' | 'crash-loop', restarts?: number) => flannelPodObject({ node, phase, ...(restarts === undefined ? {} : { restarts }) });

describe('ag-flannel apply', () => {
  it('waits until every node is Ready with its flannel pod Running, not only until the nodes are Ready', async () => {
    const document = await renderedDocument('rendered/apply-ok.yml');
    const { code, out, err, calls, state } = await apply(
      {
        frames: [
          { nodes: [cp1(), w1(false), windows], pods: [pod('cp1', 'running')] },
          // Both nodes Ready, but w1's flannel pod is still initialising: not done yet.
          { nodes: [cp1(), w1(), windows], pods: [pod('cp1', 'running'), pod('w1', 'init')] },
          { nodes: [cp1(), w1(), windows], pods: [pod('cp1', 'running'), pod('w1', 'running')] },
        ],
      },
      document,
    );
    expect(err).not.toContain('error');
    expect(code).toBe(0);
    const admin = join(hostRoot, 'etc/kubernetes/admin.conf');
    const manifest = join(bundle.root, 'rendered/apply-ok.yml');
    const look = [`kubectl --kubeconfig ${admin} get nodes -o json`, `kubectl --kubeconfig ${admin} get pods -n kube-flannel -l app=flannel -o json`];
    expect(calls).toEqual([
      `kubectl --kubeconfig ${admin} apply -f ${manifest}`,
      ...look,
      ...look,
      ...look,
      `kubectl --kubeconfig ${admin} -n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=300s`,
    ]);
    expect(state.applied.map((a) => a.text)).toEqual([await readFile(manifest, 'utf8')]);
    expect(err).toContain('daemonset.apps/kube-flannel-ds created');
    // The Windows node runs no flannel (the DaemonSet's node affinity) and is not waited for.
    expect(out!.flannel).toMatchObject({
      daemonSet: { namespace: 'kube-flannel', name: 'kube-flannel-ds' },
      nodes: [
        { name: 'cp1', ready: true, pod: flannelPodName('cp1') },
        { name: 'w1', ready: true, pod: flannelPodName('w1') },
      ],
    });
  });

  it("fails at once when a node's flannel pod keeps crashing, naming the node, the pod and what flanneld said last", async () => {
    const document = await renderedDocument('rendered/apply-crash.yml');
    const crashing = flannelPodName('w1');
    const { code, out, err, calls } = await apply(
      {
        frames: [{ nodes: [cp1(), w1(false)], pods: [pod('cp1', 'running'), pod('w1', 'crash-loop', 4)] }],
        logs: {
          [crashing]: {
            'kube-flannel': {
              previous: [
                'I1202 09:03:12.101 1 main.go:212] CLI flags config: {etcdEndpoints:http://127.0.0.1:4001,http://127.0.0.1:2379 iface:[192.168.56.10] ifaceRegex:[] ipMasq:true}',
                'I1202 09:03:12.104 1 main.go:338] Could not find valid interface matching 192.168.56.10: error looking up interface 192.168.56.10: no interface with given IP found',
                'E1202 09:03:12.104 1 main.go:366] Failed to find interface to use that matches the interfaces and/or regexes provided',
              ].join('\n'),
            },
          },
        },
      },
      document,
    );
    expect(code).toBe(7);
    expect(out).toBeUndefined();
    expect(err).toContain(`flannel keeps failing on node w1: pod ${crashing}, container kube-flannel, restarted 4 times (last exit 1, Error)`);
    expect(err).toContain('Failed to find interface to use that matches the interfaces and/or regexes provided');
    expect(err).toContain('--iface-regex or --iface-can-reach');
    expect(calls.at(-1)).toContain(`logs -n kube-flannel ${crashing} -c kube-flannel --previous --tail=20`);
    expect(calls.some((c) => c.includes('rollout status'))).toBe(false);
  });

  it('waits through a restart or two (a pod CIDR not yet assigned) and goes on when flannel recovers', async () => {
    const document = await renderedDocument('rendered/apply-recover.yml');
    const { code, out } = await apply(
      {
        frames: [
          { nodes: [cp1(), w1(false)], pods: [pod('cp1', 'running'), pod('w1', 'crash-loop', 1)] },
          { nodes: [cp1(), w1()], pods: [pod('cp1', 'running'), pod('w1', 'running', 1)] },
        ],
      },
      document,
    );
    expect(code).toBe(0);
    expect(out!.flannel!.nodes!.map((n) => n.name)).toEqual(['cp1', 'w1']);
  });

  it('times out naming what each node still waits for (exit 7)', async () => {
    const document = await renderedDocument('rendered/apply-stuck.yml');
    const { code, err } = await apply({ frames: [{ nodes: [cp1(), w1()], pods: [pod('cp1', 'running'), pod('w1', 'init')] }] }, document, ['--timeout', '1s'], '250');
    expect(code).toBe(7);
    expect(err).toContain(`w1: flannel pod ${flannelPodName('w1')} Pending, install-cni: PodInitializing`);
    expect(err).not.toContain('cp1:');
  });

  it('refuses a manifest rendered for another pod network (exit 2) and one changed after rendering (exit 3)', async () => {
    const document = await renderedDocument('rendered/apply-moved.yml');
    const moved = { ...document, cluster: { ...document.cluster!, podSubnet: '10.244.0.0/16' } };
    const first = await apply({ frames: [{ nodes: [], pods: [] }] }, moved);
    expect(first.code).toBe(2);
    expect(first.err).toContain('rendered for the pod network 10.32.0.0/12, but cluster.podSubnet is 10.244.0.0/16');
    expect(first.calls).toEqual([]);

    const path = join(bundle.root, 'rendered/apply-moved.yml');
    await writeFile(path, (await readFile(path, 'utf8')).replace('10.32.0.0/12', '10.99.0.0/16'));
    const second = await apply({ frames: [{ nodes: [], pods: [] }] }, document);
    expect(second.code).toBe(3);
    expect(second.err).toContain('run ag-flannel render again');
  });
});
