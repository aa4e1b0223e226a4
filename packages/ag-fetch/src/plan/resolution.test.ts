/**
 * Versions resolved on the connected side, through the kit's stand-in
 * upstream (a real HTTP server serving dl.k8s.io's stable.txt files, the
 * release files, and GitHub's releases API with ETags and rate limits).
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, type FileServer, type StandInRelease, type UpstreamTree } from '@ag/fixtures';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-resolve-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number;
  doc: AgDocument | undefined;
  stderr: string;
}

async function plan(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const io = createTestIo({ env: { XDG_CACHE_HOME: join(work, 'cache-default'), ...env } });
  const code = await main(['plan', '--os', 'debian-12', '--dir', join(work, 'bundle'), ...args], io);
  const out = io.stdoutText();
  return { code, doc: out === '' ? undefined : validateDocument(JSON.parse(out), 'stdout'), stderr: io.stderrText() };
}

const kubeadmIn = (tree: UpstreamTree, version: string): string => join(tree.root, `dl.k8s.io/release/${version}/bin/linux/amd64/kubeadm`);

describe('a minor the table knows, through the stand-in upstream', () => {
  let tree: UpstreamTree;
  let server: FileServer;
  beforeAll(async () => {
    // The 1.35 row's versions, and a stable-1.35.txt that names a newer patch than the table knew.
    tree = await populateUpstream(join(work, 'up-135'), {
      kubernetesVersion: 'v1.35.11',
      stable: { 'stable-1.35': 'v1.35.11', stable: 'v1.35.11' },
      crictl: 'v1.35.0',
      cniPlugins: 'v1.9.1',
      helm: 'v4.1.4',
      k9s: 'v0.51.0',
      kubernetesRelease: 'v0.21.1',
      flannel: 'v0.28.4',
      flannelCniPlugin: 'v1.9.1-flannel1',
      flannelRepository: 'ghcr.io/flannel-io',
      registry: '3.1.0',
      pause: '3.10.1',
      etcd: '3.6.10-0',
      coredns: 'v1.12.4',
      charts: [],
    });
    server = await startFileServer({ root: tree.root });
  });
  afterAll(() => server.close());

  it('--kubernetes-version 1.35 resolves through stable-1.35.txt and plans it with upstream checksums', async () => {
    const { code, doc, stderr } = await plan(['--kubernetes-version', '1.35', '--mirror', server.url, '--kubeadm', kubeadmIn(tree, 'v1.35.11')]);
    expect(code, stderr).toBe(0);
    expect(doc!.cluster!.kubernetesVersion).toBe('v1.35.11');
    const fetch = doc!.fetch!;
    expect(fetch.versionSources!['kubernetes']).toEqual({ from: 'stable-txt', detail: 'https://dl.k8s.io/release/stable-1.35.txt' });
    expect(server.requests.some((r) => r.path === '/dl.k8s.io/release/stable-1.35.txt')).toBe(true);
    // Components of a known minor come from the table, not the release listings.
    expect(server.requests.some((r) => r.path.startsWith('/api.github.com/'))).toBe(false);
    expect(fetch.versionSources!['helm']).toMatchObject({ from: 'table', checked: '2026-12-02' });
    // Every file has the checksum upstream publishes for it, in that era's format.
    expect(fetch.files.every((f) => f.sha256 !== undefined)).toBe(true);
    expect(fetch.files.find((f) => f.name === 'k9s')!.source.upstreamUrl).toBe('https://github.com/derailed/k9s/releases/download/v0.51.0/k9s_Linux_amd64.tar.gz');
    expect(server.requests.some((r) => r.path === '/github.com/derailed/k9s/releases/download/v0.51.0/checksums.sha256' && r.outcome === 200)).toBe(true);
    expect(fetch.files.find((f) => f.name === 'kubelet.service')!.source.upstreamUrl).toBe(
      'https://raw.githubusercontent.com/kubernetes/release/v0.21.1/cmd/krel/templates/latest/kubelet/kubelet.service',
    );
    // The release's own kubeadm (the stand-in) listed the control-plane images; the flannel manifest named its own.
    expect(fetch.versionSources!['etcd']).toMatchObject({ from: 'kubeadm' });
    expect(fetch.images.map((i) => i.ref)).toContain('registry.k8s.io/etcd:3.6.10-0');
    expect(fetch.versionSources!['flannel-cni-plugin']).toEqual({ from: 'manifest', detail: 'https://github.com/flannel-io/flannel/releases/download/v0.28.4/kube-flannel.yml' });
    expect(fetch.images.map((i) => i.ref)).toContain('ghcr.io/flannel-io/flannel:v0.28.4');
  });

  it('stable resolves through stable.txt, and offline to the newest release the table knew', async () => {
    const before = server.requests.length;
    const online = await plan(['--kubernetes-version', 'stable', '--mirror', server.url, '--kubeadm', kubeadmIn(tree, 'v1.35.11')]);
    expect(online.code, online.stderr).toBe(0);
    expect(online.doc!.cluster!.kubernetesVersion).toBe('v1.35.11');
    expect(online.doc!.fetch!.versionSources!['kubernetes']).toEqual({ from: 'stable-txt', detail: 'https://dl.k8s.io/release/stable.txt' });
    expect(server.requests.slice(before).map((r) => r.path)).toContain('/dl.k8s.io/release/stable.txt');
    const offlineBefore = server.requests.length;
    const offline = await plan(['--kubernetes-version', 'stable', '--mirror', server.url, '--no-checksums', '--image-list', 'table']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.doc!.cluster!.kubernetesVersion).toBe('v1.37.1');
    expect(server.requests.length).toBe(offlineBefore);
  });

  it('says which minor upstream does not publish', async () => {
    const { code, stderr } = await plan(['--kubernetes-version', '1.34', '--mirror', server.url]);
    expect(code).toBe(5);
    expect(stderr).toContain('stable-1.34.txt: 404');
  });
});

describe('a minor newer than the table resolves from the release listings', () => {
  let tree: UpstreamTree;
  let server: FileServer;
  const day = (d: number): string => new Date(Date.UTC(2027, 0, d)).toISOString();
  const releases: Record<string, StandInRelease[]> = {
    // cri-tools: the 1.38 release is picked over a newer pre-release and an older minor.
    'kubernetes-sigs/cri-tools': [
      { tag: 'v1.37.0', createdAt: day(1) },
      { tag: 'v1.38.0', createdAt: day(5) },
      { tag: 'v1.39.0-rc.0', createdAt: day(9), prerelease: true },
    ],
    'containernetworking/plugins': [{ tag: 'v1.9.1', createdAt: day(1) }, { tag: 'v1.10.0', createdAt: day(3) }],
    'helm/helm': [{ tag: 'v4.3.0', createdAt: day(2) }, { tag: 'v4.4.0-rc.1', createdAt: day(8), prerelease: true }],
    'derailed/k9s': [{ tag: 'v0.52.0', createdAt: day(4) }],
    'kubernetes/release': [{ tag: 'v0.22.0', createdAt: day(2) }],
    'flannel-io/flannel': [{ tag: 'v0.29.0', createdAt: day(6) }, { tag: 'v0.29.1', createdAt: day(7), draft: true }],
    'distribution/distribution': [{ tag: 'v3.2.0', createdAt: day(3) }],
  };
  beforeAll(async () => {
    tree = await populateUpstream(join(work, 'up-138'), {
      kubernetesVersion: 'v1.38.2',
      crictl: 'v1.38.0',
      cniPlugins: 'v1.10.0',
      helm: 'v4.3.0',
      k9s: 'v0.52.0',
      kubernetesRelease: 'v0.22.0',
      flannel: 'v0.29.0',
      flannelCniPlugin: 'v1.9.1-flannel3',
      flannelRepository: 'ghcr.io/flannel-io',
      registry: '3.2.0',
      pause: '3.10.2',
      etcd: '3.6.12-0',
      coredns: 'v1.14.5',
      charts: [],
      releases,
    });
    server = await startFileServer({ root: tree.root });
  });
  afterAll(() => server.close());

  const args = (): string[] => ['--kubernetes-version', '1.38', '--mirror', server.url, '--kubeadm', kubeadmIn(tree, 'v1.38.2')];

  it('asks GitHub for each component and records the API URL it used', async () => {
    const cache = join(work, 'cache-138');
    const { code, doc, stderr } = await plan(args(), { XDG_CACHE_HOME: cache });
    expect(code, stderr).toBe(0);
    const fetch = doc!.fetch!;
    expect(fetch.components).toMatchObject({
      kubernetes: 'v1.38.2', crictl: 'v1.38.0', 'cni-plugins': 'v1.10.0', helm: 'v4.3.0', k9s: 'v0.52.0',
      'kubernetes-release': 'v0.22.0', flannel: 'v0.29.0', registry: '3.2.0', etcd: '3.6.12-0',
    });
    expect(fetch.versionSources!['crictl']).toEqual({
      from: 'release-listing',
      detail: 'https://api.github.com/repos/kubernetes-sigs/cri-tools/releases?per_page=100: the newest 1.38 release; Kubernetes 1.38 is newer than the table',
    });
    expect(fetch.versionSources!['flannel']!.detail).toContain('https://api.github.com/repos/flannel-io/flannel/releases/latest');
    expect(fetch.images.map((i) => i.ref)).toContain('docker.io/library/registry:3.2.0');
    const api = server.requests.filter((r) => r.path.startsWith('/api.github.com/'));
    expect(api.every((r) => r.headers['accept'] === 'application/vnd.github+json' && r.headers['x-github-api-version'] === '2022-11-28')).toBe(true);
    // A catch-all mirror gets no token, and none was set.
    expect(api.every((r) => r.headers['authorization'] === undefined && r.headers['if-none-match'] === undefined)).toBe(true);

    // Again with the same cache: every answer is confirmed with If-None-Match and a 304.
    const before = server.requests.length;
    const again = await plan(args(), { XDG_CACHE_HOME: cache });
    expect(again.code, again.stderr).toBe(0);
    const second = server.requests.slice(before).filter((r) => r.path.startsWith('/api.github.com/'));
    expect(second.length).toBe(7);
    expect(second.every((r) => typeof r.headers['if-none-match'] === 'string' && r.outcome === 304)).toBe(true);
    expect(again.doc!.fetch!.components).toEqual(fetch.components);
    expect(again.doc!.fetch!.versionSources!['helm']!.detail).toContain('304 Not Modified');
  });

  it('sends GITHUB_TOKEN to a mirror named for api.github.com, and then 304s cost no rate limit', async () => {
    const cache = join(work, 'cache-token');
    const mirror = ['--mirror', `api.github.com=${server.url}/api.github.com`];
    const first = await plan([...args(), ...mirror], { XDG_CACHE_HOME: cache, GITHUB_TOKEN: 'ghp_standin' });
    expect(first.code, first.stderr).toBe(0);
    const authenticated = server.github.remainingAuthenticated;
    const before = server.requests.length;
    const second = await plan([...args(), ...mirror], { XDG_CACHE_HOME: cache, GITHUB_TOKEN: 'ghp_standin' });
    expect(second.code, second.stderr).toBe(0);
    const api = server.requests.slice(before).filter((r) => r.path.startsWith('/api.github.com/'));
    expect(api.every((r) => r.headers['authorization'] === 'Bearer ghp_standin' && r.outcome === 304)).toBe(true);
    expect(server.github.remainingAuthenticated).toBe(authenticated);
    // The token is never written into the document.
    expect(JSON.stringify(second.doc)).not.toContain('ghp_standin');
  });

  it('stops with exit 4 and says when to come back once the rate limit is used up', async () => {
    const saved = server.github.remaining;
    server.github.remaining = 0;
    try {
      const { code, doc, stderr } = await plan(args(), { XDG_CACHE_HOME: join(work, 'cache-limited') });
      expect(code).toBe(4);
      expect(doc).toBeUndefined();
      expect(stderr).toContain("GitHub's API rate limit is used up (0 of 60 requests left; resets at ");
      expect(stderr).toContain('GITHUB_TOKEN');
      expect(stderr).toContain('--component');
    } finally {
      server.github.remaining = saved;
    }
  });

  it('stops with exit 4 on a secondary rate limit, without retrying', async () => {
    server.addFault({ path: '/api.github.com/*', status: 429, retryAfter: 30 });
    try {
      const before = server.requests.length;
      const { code, stderr } = await plan(args(), { XDG_CACHE_HOME: join(work, 'cache-secondary') });
      expect(code).toBe(4);
      expect(stderr).toContain('secondary rate limit');
      expect(stderr).toContain('retry after 30 s');
      expect(server.requests.slice(before).filter((r) => r.path.startsWith('/api.github.com/')).length).toBe(1);
    } finally {
      server.clearFaults();
    }
  });

  it('stops with exit 4 when the listings cannot be reached', async () => {
    const gone = await startFileServer({ root: tree.root });
    await gone.close();
    const { code, stderr } = await plan(['--kubernetes-version', 'v1.38.2', '--mirror', `api.github.com=${gone.url}/api.github.com`, '--mirror', server.url, '--kubeadm', kubeadmIn(tree, 'v1.38.2')], {
      XDG_CACHE_HOME: join(work, 'cache-gone'),
    });
    expect(code).toBe(4);
    expect(stderr).toContain('releases of kubernetes-sigs/cri-tools');
  });

  it('takes --component instead of asking, and asks only for the rest', async () => {
    const before = server.requests.length;
    const { code, doc, stderr } = await plan([...args(), '--component', 'crictl=v1.38.0', '--cni', 'flannel@v0.29.0'], { XDG_CACHE_HOME: join(work, 'cache-flags') });
    expect(code, stderr).toBe(0);
    expect(doc!.fetch!.versionSources!['crictl']).toEqual({ from: 'flag', detail: '--component crictl=v1.38.0' });
    expect(doc!.fetch!.versionSources!['flannel']).toEqual({ from: 'flag', detail: '--cni flannel@v0.29.0' });
    const asked = server.requests.slice(before).map((r) => r.path).filter((p) => p.startsWith('/api.github.com/'));
    expect(asked.some((p) => p.includes('cri-tools') || p.includes('flannel'))).toBe(false);
    expect(asked.length).toBe(5);
  });
});
