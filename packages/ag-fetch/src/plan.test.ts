/**
 * `ag-fetch plan` in-process against the fixture file hosts (a real HTTP
 * server laid out like dl.k8s.io, GitHub releases, get.helm.sh,
 * raw.githubusercontent.com and a chart repository), with the stand-in
 * kubeadm really executed for the image list.
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, type FileServer, type UpstreamTree } from '@ag/fixtures';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { hostArchitecture } from './plan/kubeadm-images.js';

const PODINFO = 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0';
const BASE = ['plan', '--kubernetes-version', 'v1.27.3', '--os', 'fedora-37', '--cni', 'flannel@v0.22.0'];

let work: string;
let upstream: UpstreamTree;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-plan-'));
  upstream = await populateUpstream(join(work, 'upstream'), { architectures: ['amd64', 'arm64'] });
  server = await startFileServer({ root: upstream.root });
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function plan(args: string[], base = BASE, into?: string): Promise<{ code: number; doc: AgDocument | undefined; stderr: string; dir: string }> {
  const dir = into ?? (await mkdtemp(join(work, 'bundle-')));
  const io = createTestIo();
  const code = await main([...base, '--dir', dir, ...args], io);
  const out = io.stdoutText();
  return { code, doc: out === '' ? undefined : validateDocument(JSON.parse(out), 'stdout'), stderr: io.stderrText(), dir };
}

async function servedSha(upstreamUrl: string): Promise<string> {
  const rel = upstream.files.get(upstreamUrl);
  if (rel === undefined) throw new Error(`the fixture has no ${upstreamUrl}`);
  return createHash('sha256').update(await readFile(join(upstream.root, rel))).digest('hex');
}

describe('ag-fetch plan', () => {
  it('plans every file and image of the classic v1.27.3 cluster, with upstream checksums', async () => {
    const { code, doc, stderr, dir } = await plan(['--mirror', server.url, '--chart', PODINFO, '--image', 'ghcr.io/stefanprodan/podinfo:6.4.0']);
    expect(code, stderr).toBe(0);
    expect(doc!.root).toBe(dir);
    expect(doc!.cluster).toEqual({
      kubernetesVersion: 'v1.27.3',
      architectures: ['amd64'],
      os: 'fedora-37',
      cni: { name: 'flannel', version: 'v0.22.0' },
      podSubnet: '10.244.0.0/16',
      serviceSubnet: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
    });
    const fetch = doc!.fetch!;
    expect(fetch.files.map((f) => f.path)).toEqual([
      'files/linux/amd64/kubeadm',
      'files/linux/amd64/kubelet',
      'files/linux/amd64/kubectl',
      'files/linux/amd64/crictl-v1.27.0-linux-amd64.tar.gz',
      'files/linux/amd64/cni-plugins-linux-amd64-v1.3.0.tgz',
      'files/linux/amd64/helm-v3.12.2-linux-amd64.tar.gz',
      'files/linux/amd64/k9s-v0.27.4-linux-amd64.tar.gz',
      'files/systemd/kubelet.service',
      'files/systemd/10-kubeadm.conf',
      'files/manifests/kube-flannel.yml',
      'files/charts/podinfo-6.4.0.tgz',
    ]);
    for (const file of fetch.files) {
      expect(file.source.url.startsWith(`${server.url}/`), file.path).toBe(true);
      expect(file.sha256, file.path).toBe(await servedSha(file.source.upstreamUrl!));
    }
    const by = (name: string) => fetch.files.find((f) => f.name === name)!;
    expect(by('kubeadm').source).toMatchObject({
      upstreamUrl: 'https://dl.k8s.io/release/v1.27.3/bin/linux/amd64/kubeadm',
      checksumUrl: 'https://dl.k8s.io/release/v1.27.3/bin/linux/amd64/kubeadm.sha256',
    });
    expect(by('kube-flannel.yml').source.upstreamUrl).toBe('https://github.com/flannel-io/flannel/releases/download/v0.22.0/kube-flannel.yml');
    expect(by('helm').install).toEqual({ extractTo: '/usr/local/bin', members: ['linux-amd64/helm'] });
    expect(by('kubelet.service').install).toMatchObject({ path: '/etc/systemd/system/kubelet.service' });
    expect(fetch.files.map((f) => f.sha256From)).toEqual([...Array(7).fill('upstream'), 'plan', 'plan', 'plan', 'index']);
    expect(fetch.images.map((i) => i.ref)).toEqual([
      'registry.k8s.io/kube-apiserver:v1.27.3',
      'registry.k8s.io/kube-controller-manager:v1.27.3',
      'registry.k8s.io/kube-scheduler:v1.27.3',
      'registry.k8s.io/kube-proxy:v1.27.3',
      'registry.k8s.io/pause:3.9',
      'registry.k8s.io/etcd:3.5.7-0',
      'registry.k8s.io/coredns/coredns:v1.10.1',
      'docker.io/flannel/flannel-cni-plugin:v1.1.2',
      'docker.io/flannel/flannel:v0.22.0',
      'docker.io/library/registry:2.8.2',
      'ghcr.io/stefanprodan/podinfo:6.4.0',
    ]);
    expect(fetch.components).toMatchObject({
      kubernetes: 'v1.27.3', crictl: 'v1.27.0', 'cni-plugins': 'v1.3.0', helm: 'v3.12.2', k9s: 'v0.27.4',
      flannel: 'v0.22.0', 'flannel-cni-plugin': 'v1.1.2', pause: '3.9', etcd: '3.5.7-0', coredns: 'v1.10.1',
    });
    // No request ever named a branch: every manifest comes from a release.
    expect(server.requests.some((r) => r.path.includes('/master/'))).toBe(false);
  });

  it.runIf(hostArchitecture() === 'amd64' || hostArchitecture() === 'arm64')(
    "asks the release's own kubeadm for the control-plane images, and keeps it in the bundle for download",
    async () => {
      const other = await populateUpstream(join(work, 'upstream-etcd'), { etcd: '3.5.9-0', architectures: [hostArchitecture()!] });
      const host = await startFileServer({ root: other.root });
      try {
        const { code, doc, dir, stderr } = await plan(['--mirror', host.url, '--arch', hostArchitecture()!]);
        expect(code, stderr).toBe(0);
        expect(doc!.fetch!.imageList.source).toBe('kubeadm');
        expect(doc!.fetch!.images).toContainEqual({ ref: 'registry.k8s.io/etcd:3.5.9-0', role: 'control-plane', component: 'etcd', origin: 'kubeadm' });
        expect(existsSync(join(dir, `files/linux/${hostArchitecture()}/kubeadm`))).toBe(true);
        // Offline, the kubeadm already in the bundle still answers (after checking it is the same release).
        const offline = await plan(['--no-checksums', '--arch', hostArchitecture()!], BASE, dir);
        expect(offline.doc!.fetch!.imageList).toMatchObject({ source: 'kubeadm', detail: expect.stringContaining('not verified') });
        const table = await plan(['--mirror', host.url, '--arch', hostArchitecture()!, '--image-list', 'table']);
        expect(table.doc!.fetch!.imageList).toMatchObject({ source: 'table', detail: expect.stringContaining('control-plane-images.json, row v1.27.0–v1.27.3') });
        expect(table.doc!.fetch!.images.map((i) => i.ref)).toContain('registry.k8s.io/etcd:3.5.7-0');
      } finally {
        await host.close();
      }
    },
  );

  it('does not trust --kubeadm of another release', async () => {
    const other = join(work, 'kubeadm-v1.26.0');
    await writeFile(other, '#!/bin/sh\necho v1.26.0\n', { mode: 0o755 });
    const { code, doc, stderr } = await plan(['--no-checksums', '--kubeadm', other]);
    expect(code, stderr).toBe(0);
    expect(doc!.fetch!.imageList).toMatchObject({ source: 'table', detail: expect.stringContaining('is v1.26.0, not v1.27.3') });
  });

  it('plans for several architectures', async () => {
    const { code, doc, stderr } = await plan(['--mirror', server.url, '--arch', 'amd64', '--arch', 'arm64', '--image-list', 'table']);
    expect(code, stderr).toBe(0);
    const paths = doc!.fetch!.files.map((f) => f.path);
    expect(paths).toContain('files/linux/arm64/kubelet');
    expect(paths).toContain('files/linux/arm64/helm-v3.12.2-linux-arm64.tar.gz');
    expect(doc!.fetch!.files.find((f) => f.path === 'files/linux/arm64/k9s-v0.27.4-linux-arm64.tar.gz')!.sha256).toBe(
      await servedSha('https://github.com/derailed/k9s/releases/download/v0.27.4/k9s_Linux_arm64.tar.gz'),
    );
    expect(doc!.cluster!.architectures).toEqual(['amd64', 'arm64']);
  });

  it('plans with no network at all under --no-checksums, from the tables, and says so', async () => {
    const before = server.requests.length;
    const { code, doc, stderr } = await plan(['--no-checksums', '--chart', PODINFO]);
    expect(code, stderr).toBe(0);
    expect(server.requests.length).toBe(before);
    const fetch = doc!.fetch!;
    expect(fetch.files.every((f) => f.sha256 === undefined)).toBe(true);
    expect(fetch.files.find((f) => f.kind === 'chart')!.source.url).toBe('https://stefanprodan.github.io/podinfo/podinfo-6.4.0.tgz');
    expect(fetch.imageList.source).toBe('table');
    expect(fetch.imageList.detail).toContain('--no-checksums');
    expect(fetch.images.map((i) => i.ref)).toContain('docker.io/flannel/flannel-cni-plugin:v1.1.2');
    expect(stderr).toContain('download will record each checksum on first fetch');
  });

  it('overrides component versions', async () => {
    const { code, doc, stderr } = await plan(['--no-checksums', '--component', 'crictl=v1.27.1', '--component', 'etcd=3.5.9-0', '--component', 'flannel-cni-plugin=v1.1.0']);
    expect(code, stderr).toBe(0);
    const fetch = doc!.fetch!;
    expect(fetch.files.map((f) => f.source.url)).toContain('https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.27.1/crictl-v1.27.1-linux-amd64.tar.gz');
    expect(fetch.images).toContainEqual({ ref: 'registry.k8s.io/etcd:3.5.9-0', role: 'control-plane', component: 'etcd', origin: '--component etcd' });
    expect(fetch.images.map((i) => i.ref)).toContain('docker.io/flannel/flannel-cni-plugin:v1.1.0');
    expect(fetch.components).toMatchObject({ crictl: 'v1.27.1', etcd: '3.5.9-0' });
  });

  it('takes extra files with a pinned checksum', async () => {
    const sha = 'a'.repeat(64);
    const { doc } = await plan(['--no-checksums', '--file', `https://example.invalid/tools/jq-linux64#sha256=${sha.toUpperCase()}`]);
    expect(doc!.fetch!.files.at(-1)).toMatchObject({ name: 'jq-linux64', kind: 'file', path: 'files/extra/jq-linux64', sha256: sha, sha256From: 'flag' });
  });

  it('fails with exit 4 and a way forward when the file hosts cannot be reached', async () => {
    const gone = await startFileServer({ root: work });
    await gone.close();
    const { code, doc, stderr } = await plan(['--mirror', gone.url, '--image-list', 'table']);
    expect(code).toBe(4);
    expect(doc).toBeUndefined();
    expect(stderr).toContain('--no-checksums');
  });

  it('fails with exit 5 when upstream does not publish the release', async () => {
    const { code, stderr } = await plan(['--mirror', server.url, '--image-list', 'table', '--component', 'helm=v3.99.0']);
    expect(code).toBe(5);
    expect(stderr).toMatch(/helm.*404 Not Found/);
  });

  it('refuses unreleased versions and malformed flags with exit 2', async () => {
    const cases = [
      ['plan', '--kubernetes-version', 'latest', '--os', 'fedora-37'],
      ['plan', '--kubernetes-version', 'v1.36.0-rc.1', '--os', 'fedora-37'],
      ['plan', '--kubernetes-version', 'v1.26.15', '--os', 'fedora-37'],
      ['plan', '--kubernetes-version', 'v1.27.3'],
      ['plan', '--kubernetes-version', 'v1.27.3', '--os', 'Fedora 37'],
      ...[
        ['--file', 'https://example.invalid/x#sha256=abc'],
        ['--chart', 'podinfo'],
        ['--image', 'ghcr.io/stefanprodan/podinfo'],
        ['--component', 'nope=1'],
        ['--cni', 'calico@v3.26.0'],
        ['--arch', 'mips'],
      ].map((extra) => [...BASE, ...extra]),
    ];
    for (const argv of cases) {
      const io = createTestIo();
      expect(await main([...argv, '--no-checksums'], io), argv.join(' ')).toBe(2);
      expect(io.stdoutText()).toBe('');
    }
  });

  it('has no table row for a release it cannot vouch for, and says what to do', async () => {
    const { code, stderr } = await plan(['--no-checksums'], ['plan', '--kubernetes-version', 'v1.37.9', '--os', 'debian-12']);
    expect(code).toBe(2);
    expect(stderr).toContain('has no row for v1.37.9');
    expect(stderr).toContain('--component pause=V');
  });
});
