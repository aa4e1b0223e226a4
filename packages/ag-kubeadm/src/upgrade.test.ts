import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import type { AgDocument, FileArtifact } from '@ag/core';
import { CONTROL_PLANE_IMAGES_TABLE, createStandIns, kubectlStandIn, writeKubeadmDouble, type StandIns } from '@ag/fixtures';
import { main } from './cli.js';
import { clusterDocument } from './testdata/documents.js';
import { addNodeStandIns } from './testdata/stand-ins.js';

/**
 * Upgrades across the gap against the kubeadm double: a control plane and a
 * worker initialised and joined at v1.27.3, then bundles of v1.27.4 and of
 * v1.28 unpacked on the far side (their kubeadm is the double of that
 * release), with recording kubectl and systemctl.
 */
const table = JSON.parse(await readFile(CONTROL_PLANE_IMAGES_TABLE, 'utf8')) as { ranges: Array<{ from: string; to: string; pause: string; etcd: string; coredns: string }> };
const num = (v: string): number[] => v.slice(1).split('.').map(Number);
const le = (a: string, b: string): boolean => num(a).reduce((d, n, i) => d || n - num(b)[i]!, 0) <= 0;
const componentsOf = (version: string): Record<string, string> => {
  const row = table.ranges.find((r) => le(r.from, version) && le(version, r.to))!;
  return { pause: row.pause, etcd: row.etcd, coredns: row.coredns };
};
const imagesOf = (version: string): string[] => {
  const c = componentsOf(version);
  return [
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((n) => `registry.k8s.io/${n}:${version}`),
    `registry.k8s.io/pause:${c.pause}`, `registry.k8s.io/etcd:${c.etcd}`, `registry.k8s.io/coredns/coredns:${c.coredns}`,
  ];
};
const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

interface World {
  cluster: string;
  standIns: StandIns;
  nodes: Record<'cp1' | 'w1', { root: string; env: Record<string, string> }>;
}

/** An unpacked bundle of `version`: kubeadm (the double of that release), kubelet and kubectl, and the document ag-bundle unpack leaves. */
async function bundle(world: World, version: string, base: AgDocument): Promise<AgDocument> {
  const root = await mkdtemp(join(tmpdir(), `ag-bundle-${version}-`));
  const files: FileArtifact[] = [];
  for (const name of ['kubeadm', 'kubelet', 'kubectl']) {
    const path = `files/linux/amd64/${name}`;
    const log = join(world.standIns.dir, 'calls.log');
    if (name === 'kubeadm') await writeKubeadmDouble(join(root, path), { version, cluster: world.cluster, callLog: log });
    else {
      // The kubelet prints its version; kubectl is the kit's recording kubectl answering from the double's cluster.
      const body = name === 'kubelet' ? `echo "Kubernetes ${version}"` : `printf '%s\\n' "kubectl $*" >> '${log}'\n${kubectlStandIn(world.cluster)}`;
      await mkdir(join(root, 'files/linux/amd64'), { recursive: true });
      await writeFile(join(root, path), `#!/bin/sh\n# ${name} ${version} (ag test stand-in)\n${body}\n`);
      await chmod(join(root, path), 0o755);
    }
    files.push({ name, kind: 'binary', arch: 'amd64', version, source: { url: `https://dl.k8s.io/release/${version}/bin/linux/amd64/${name}` }, path, sha256: await sha256(join(root, path)), install: { path: `/usr/local/bin/${name}`, mode: '0755' } });
  }
  return {
    ...base,
    root,
    cluster: { ...base.cluster!, kubernetesVersion: version },
    fetch: { ...base.fetch!, components: { ...base.fetch!.components, ...componentsOf(version) }, files },
  };
}

/** What ag-nodeprep apply does with the binaries: installs them on a node. */
async function installOn(nodeRoot: string, document: AgDocument): Promise<void> {
  await mkdir(join(nodeRoot, 'usr/local/bin'), { recursive: true });
  for (const f of document.fetch!.files) await copyFile(join(document.root!, f.path), join(nodeRoot, f.install!.path!));
}

async function world(): Promise<World> {
  const cluster = await mkdtemp(join(tmpdir(), 'ag-upgrade-cluster-'));
  const standIns = await createStandIns();
  await addNodeStandIns(standIns, { kubeadm: 'echo "kubeadm must come from the node\'s install path" >&2; exit 64', kubectl: kubectlStandIn(cluster) });
  const nodes = {} as World['nodes'];
  for (const name of ['cp1', 'w1'] as const) {
    const root = await mkdtemp(join(tmpdir(), `ag-upgrade-${name}-`));
    await mkdir(join(root, 'etc/containerd'), { recursive: true });
    await writeFile(join(root, 'etc/containerd/config.toml'), 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.9"\n');
    nodes[name] = { root, env: standIns.env({ KUBEADM_DOUBLE_ROOT: root, KUBEADM_DOUBLE_HOSTNAME: name, AG_POLL_INTERVAL_MS: '10' }) };
  }
  return { cluster, standIns, nodes };
}

async function ag(w: World, on: 'cp1' | 'w1', argv: string[], document: AgDocument): Promise<{ code: number; out?: AgDocument; err: string }> {
  const io = createTestIo({ stdin: JSON.stringify(document), env: w.nodes[on].env });
  const code = await main([...argv, '--root', w.nodes[on].root], io);
  return { code, out: io.stdoutText() === '' ? undefined : (JSON.parse(io.stdoutText()) as AgDocument), err: io.stderrText() };
}

const setImages = (w: World, refs: string[]): Promise<void> => writeFile(join(w.standIns.dir, 'ctr-images.txt'), `${refs.join('\n')}\n`);

describe('ag-kubeadm upgrade (against the kubeadm double, with recording kubectl and systemctl)', () => {
  it('plans and applies v1.27.3 -> v1.27.4 and then one minor up, control plane first, in upstream order, and refuses skipping a minor or a missing image', async () => {
    const w = await world();
    await setImages(w, imagesOf('v1.27.3'));
    const first = await bundle(w, 'v1.27.3', clusterDocument('v1.27.3'));
    for (const name of ['cp1', 'w1'] as const) await installOn(w.nodes[name].root, first);
    const init = await ag(w, 'cp1', ['init', '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], first);
    expect(init.code, init.err).toBe(0);
    const token = join(w.nodes.cp1.root, 'etc/kubernetes/ag/join-token');
    const joined = await ag(w, 'w1', ['join', '--token-file', token, '--advertise-address', '192.168.56.21', '--node-name', 'w1'], init.out!);
    expect(joined.code, joined.err).toBe(0);

    // The next trip: v1.27.4, unpacked; its images not yet pushed.
    const patch = await bundle(w, 'v1.27.4', init.out!);
    const missing = await ag(w, 'cp1', ['upgrade', 'plan'], patch);
    expect(missing.code, missing.err).toBe(5);
    const fresh = imagesOf('v1.27.4').filter((ref) => !imagesOf('v1.27.3').includes(ref));
    expect(missing.err).toContain(`the upgrade to v1.27.4 needs ${fresh.length} image(s) that are not in containerd's k8s.io namespace: ${fresh.join(', ')}`);
    await setImages(w, [...imagesOf('v1.27.3'), ...imagesOf('v1.27.4')]);

    // A worker cannot go first.
    const early = await ag(w, 'w1', ['upgrade', 'node'], { ...patch, kubeadm: joined.out!.kubeadm });
    expect(early.code, early.err).toBe(2);
    expect(early.err).toContain('the control plane runs v1.27.3, not v1.27.4: control-plane nodes are upgraded before the others');

    const plan = await ag(w, 'cp1', ['upgrade', 'plan'], patch);
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out!.kubeadm!.upgrade).toMatchObject({ from: 'v1.27.3', to: 'v1.27.4', kind: 'patch' });
    expect(plan.out!.kubeadm!.upgrade!.steps.map((s) => `${s.step}:${s.status}`)).toEqual(
      ['install-kubeadm', 'kubeadm-upgrade-apply', 'drain', 'install-kubelet', 'install-kubectl', 'restart-kubelet', 'uncordon'].map((s) => `${s}:planned`),
    );
    expect(plan.out!.kubeadm!.upgrade!.images.map((i) => i.ref).sort()).toEqual(imagesOf('v1.27.4').sort());
    const installed = (name: string, node: 'cp1' | 'w1' = 'cp1') => readFile(join(w.nodes[node].root, 'usr/local/bin', name), 'utf8');
    expect(await installed('kubeadm')).toContain('v1.27.3'); // plan changes nothing

    const before = (await w.standIns.calls()).length;
    const apply = await ag(w, 'cp1', ['upgrade', 'apply'], plan.out!);
    expect(apply.code, apply.err).toBe(0);
    const admin = join(w.nodes.cp1.root, 'etc/kubernetes/admin.conf');
    const changes = (await w.standIns.calls()).slice(before).filter((c) => /^(kubeadm upgrade|kubectl .*(drain|uncordon)|systemctl)/.test(c));
    expect(changes).toEqual([
      'kubeadm upgrade apply v1.27.4 --yes',
      `kubectl --kubeconfig ${admin} drain cp1 --ignore-daemonsets`,
      'systemctl daemon-reload',
      'systemctl restart kubelet',
      `kubectl --kubeconfig ${admin} uncordon cp1`,
    ]);
    // The new kubeadm was installed first: the old one refuses a newer patch without --force.
    for (const name of ['kubeadm', 'kubelet', 'kubectl']) expect(await installed(name)).toBe(await readFile(join(patch.root!, 'files/linux/amd64', name), 'utf8'));
    expect(await readFile(join(w.nodes.cp1.root, 'etc/kubernetes/manifests/kube-apiserver.yaml'), 'utf8')).toContain('kube-apiserver:v1.27.4');
    const applied = apply.out!.kubeadm!;
    expect(applied.kubernetesVersion).toBe('v1.27.4');
    expect(applied.upgrade!.steps.every((s) => s.status === 'done' && s.at !== undefined)).toBe(true);
    expect(await readFile(join(w.nodes.cp1.root, 'etc/kubernetes/ag/kubeadm-config.yaml'), 'utf8')).toContain('kubernetesVersion: v1.27.4');

    // Again: everything is in place; nothing is installed or applied twice.
    const again = await ag(w, 'cp1', ['upgrade', 'apply'], apply.out!);
    expect(again.code).toBe(0);
    expect(again.out!.kubeadm!.upgrade!.steps.filter((s) => s.status === 'skipped').map((s) => s.step)).toEqual(['install-kubeadm', 'kubeadm-upgrade-apply', 'install-kubelet', 'install-kubectl']);

    // The worker, with the control plane's admin kubeconfig for drain and uncordon.
    const worker = await ag(w, 'w1', ['upgrade', 'node', '--admin-kubeconfig', admin], { ...apply.out!, kubeadm: { ...apply.out!.kubeadm!, joined: joined.out!.kubeadm!.joined } });
    expect(worker.code, worker.err).toBe(0);
    expect(worker.out!.kubeadm!.upgrade).toMatchObject({ from: 'v1.27.3', to: 'v1.27.4' });
    expect((await w.standIns.calls()).filter((c) => c.startsWith('kubeadm upgrade node') || c.includes('drain w1'))).toEqual(['kubeadm upgrade node', `kubectl --kubeconfig ${admin} drain w1 --ignore-daemonsets`]);
    expect(await installed('kubelet', 'w1')).toContain('kubelet v1.27.4');

    // Skipping a minor is refused before anything changes (exit 2).
    const skip = await ag(w, 'cp1', ['upgrade', 'apply'], await bundle(w, 'v1.29.0', apply.out!));
    expect(skip.code).toBe(2);
    expect(skip.err).toContain('upgrading v1.27.4 to v1.29.0 would skip Kubernetes 1.28');
    expect(await installed('kubeadm')).toContain('v1.27.4');

    // One minor up.
    const minorVersion = table.ranges.filter((r) => r.from.startsWith('v1.28.')).at(-1)!.to;
    const minor = await bundle(w, minorVersion, apply.out!);
    await setImages(w, [...imagesOf('v1.27.4'), ...imagesOf(minorVersion)]);
    const minorPlan = await ag(w, 'cp1', ['upgrade', 'plan'], minor);
    expect(minorPlan.out!.kubeadm!.upgrade).toMatchObject({ from: 'v1.27.4', to: minorVersion, kind: 'minor' });
    const minorApply = await ag(w, 'cp1', ['upgrade', 'apply'], minorPlan.out!);
    expect(minorApply.code, minorApply.err).toBe(0);
    expect(await readFile(join(w.cluster, 'kubeadm-config.yaml'), 'utf8')).toContain(`kubernetesVersion: ${minorVersion}`);
    expect(minorApply.out!.kubeadm!.images.find((i) => i.component === 'etcd')!.ref).toBe(`registry.k8s.io/etcd:${componentsOf(minorVersion).etcd}`);
  });
});
