/**
 * Every Kubernetes minor the tables know plans out of the box, offline
 * (--no-checksums: no network at all), with the artifacts upstream publishes
 * for that release. The expectations below are written from the upstream
 * release pages, not computed by the code under test.
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';

interface Expected {
  patch: string;
  crictl: string;
  cni: string;
  helm: string;
  k9s: string;
  /** k9s's checksum file for that release (checksums.txt up to v0.27.4, checksums.sha256 after). */
  k9sSums: 'checksums.txt' | 'checksums.sha256';
  release: string;
  /** kubernetes/release's template directory for that tag. */
  templates: 'kubepkg' | 'krel';
  flannel: string;
  flannelImages: [string, string];
  registry: string;
  pause: string;
  etcd: string;
  coredns: string;
}

const gh = 'https://github.com';
const EXPECTED: Record<string, Expected> = {
  '1.27': { patch: 'v1.27.16', crictl: 'v1.27.0', cni: 'v1.3.0', helm: 'v3.12.2', k9s: 'v0.27.4', k9sSums: 'checksums.txt', release: 'v0.15.1', templates: 'kubepkg', flannel: 'v0.22.0', flannelImages: ['docker.io/flannel/flannel-cni-plugin:v1.1.2', 'docker.io/flannel/flannel:v0.22.0'], registry: '2.8.2', pause: '3.9', etcd: '3.5.12-0', coredns: 'v1.10.1' },
  '1.28': { patch: 'v1.28.15', crictl: 'v1.28.0', cni: 'v1.3.0', helm: 'v3.13.3', k9s: 'v0.28.2', k9sSums: 'checksums.sha256', release: 'v0.15.1', templates: 'kubepkg', flannel: 'v0.22.3', flannelImages: ['docker.io/flannel/flannel-cni-plugin:v1.2.0', 'docker.io/flannel/flannel:v0.22.3'], registry: '2.8.3', pause: '3.9', etcd: '3.5.15-0', coredns: 'v1.10.1' },
  '1.29': { patch: 'v1.29.15', crictl: 'v1.29.0', cni: 'v1.4.0', helm: 'v3.14.4', k9s: 'v0.31.9', k9sSums: 'checksums.sha256', release: 'v0.15.1', templates: 'kubepkg', flannel: 'v0.24.4', flannelImages: ['docker.io/flannel/flannel-cni-plugin:v1.4.0-flannel1', 'docker.io/flannel/flannel:v0.24.4'], registry: '2.8.3', pause: '3.9', etcd: '3.5.15-0', coredns: 'v1.11.1' },
  '1.30': { patch: 'v1.30.14', crictl: 'v1.30.0', cni: 'v1.4.1', helm: 'v3.15.4', k9s: 'v0.32.5', k9sSums: 'checksums.sha256', release: 'v0.15.1', templates: 'kubepkg', flannel: 'v0.25.7', flannelImages: ['docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel2', 'docker.io/flannel/flannel:v0.25.7'], registry: '2.8.3', pause: '3.9', etcd: '3.5.15-0', coredns: 'v1.11.3' },
  '1.31': { patch: 'v1.31.14', crictl: 'v1.31.1', cni: 'v1.5.1', helm: 'v3.16.4', k9s: 'v0.32.7', k9sSums: 'checksums.sha256', release: 'v0.15.1', templates: 'kubepkg', flannel: 'v0.26.7', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1', 'ghcr.io/flannel-io/flannel:v0.26.7'], registry: '2.8.3', pause: '3.10', etcd: '3.5.24-0', coredns: 'v1.11.3' },
  '1.32': { patch: 'v1.32.13', crictl: 'v1.32.0', cni: 'v1.6.2', helm: 'v3.17.4', k9s: 'v0.50.5', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.26.7', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.6.2-flannel1', 'ghcr.io/flannel-io/flannel:v0.26.7'], registry: '2.8.3', pause: '3.10', etcd: '3.5.24-0', coredns: 'v1.11.3' },
  '1.33': { patch: 'v1.33.13', crictl: 'v1.33.0', cni: 'v1.7.1', helm: 'v3.18.6', k9s: 'v0.50.9', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.27.2', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.7.1-flannel1', 'ghcr.io/flannel-io/flannel:v0.27.2'], registry: '3.1.0', pause: '3.10', etcd: '3.5.24-0', coredns: 'v1.12.0' },
  '1.34': { patch: 'v1.34.11', crictl: 'v1.34.0', cni: 'v1.9.0', helm: 'v3.19.5', k9s: 'v0.50.16', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.27.4', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1', 'ghcr.io/flannel-io/flannel:v0.27.4'], registry: '3.1.0', pause: '3.10.1', etcd: '3.6.5-0', coredns: 'v1.12.1' },
  '1.35': { patch: 'v1.35.9', crictl: 'v1.35.0', cni: 'v1.9.1', helm: 'v4.1.4', k9s: 'v0.51.0', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.28.4', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel1', 'ghcr.io/flannel-io/flannel:v0.28.4'], registry: '3.1.0', pause: '3.10.1', etcd: '3.6.6-0', coredns: 'v1.12.4' },
  '1.36': { patch: 'v1.36.4', crictl: 'v1.36.0', cni: 'v1.9.1', helm: 'v4.2.4', k9s: 'v0.51.0', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.28.9', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'ghcr.io/flannel-io/flannel:v0.28.9'], registry: '3.1.0', pause: '3.10.2', etcd: '3.6.8-0', coredns: 'v1.14.2' },
  '1.37': { patch: 'v1.37.1', crictl: 'v1.36.0', cni: 'v1.9.1', helm: 'v4.2.4', k9s: 'v0.51.0', k9sSums: 'checksums.sha256', release: 'v0.21.1', templates: 'krel', flannel: 'v0.28.9', flannelImages: ['ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3', 'ghcr.io/flannel-io/flannel:v0.28.9'], registry: '3.1.0', pause: '3.10.2', etcd: '3.7.0-0', coredns: 'v1.14.4' },
};

function templateUrls(release: string, layout: Expected['templates']): [string, string] {
  const raw = `https://raw.githubusercontent.com/kubernetes/release/${release}/cmd`;
  return layout === 'krel'
    ? [`${raw}/krel/templates/latest/kubelet/kubelet.service`, `${raw}/krel/templates/latest/kubeadm/10-kubeadm.conf`]
    : [`${raw}/kubepkg/templates/latest/deb/kubelet/lib/systemd/system/kubelet.service`, `${raw}/kubepkg/templates/latest/deb/kubeadm/10-kubeadm.conf`];
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-tables-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function planOffline(version: string, extra: string[] = []): Promise<{ code: number; doc: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ env: { XDG_CACHE_HOME: join(work, 'cache') } });
  const code = await main(['plan', '--kubernetes-version', version, '--os', 'debian-12', '--no-checksums', '--image-list', 'table', '--dir', join(work, 'bundle'), ...extra], io);
  const out = io.stdoutText();
  return { code, doc: out === '' ? undefined : validateDocument(JSON.parse(out), 'stdout'), stderr: io.stderrText() };
}

describe('every minor in the tables plans offline with no --component', () => {
  for (const [minor, e] of Object.entries(EXPECTED)) {
    it(`Kubernetes ${minor} (${e.patch})`, async () => {
      const { code, doc, stderr } = await planOffline(e.patch, ['--arch', 'amd64', '--arch', 'arm64']);
      expect(code, stderr).toBe(0);
      const fetch = doc!.fetch!;
      const [unit, dropIn] = templateUrls(e.release, e.templates);
      const k9sBase = `${gh}/derailed/k9s/releases/download/${e.k9s}`;
      const sources = fetch.files.filter((f) => f.arch !== 'arm64').map((f) => [f.source.url, f.source.checksumUrl]);
      expect(sources).toEqual([
        ...['kubeadm', 'kubelet', 'kubectl'].map((n) => {
          const url = `https://dl.k8s.io/release/${e.patch}/bin/linux/amd64/${n}`;
          return [url, `${url}.sha256`];
        }),
        [`${gh}/kubernetes-sigs/cri-tools/releases/download/${e.crictl}/crictl-${e.crictl}-linux-amd64.tar.gz`, `${gh}/kubernetes-sigs/cri-tools/releases/download/${e.crictl}/crictl-${e.crictl}-linux-amd64.tar.gz.sha256`],
        [`${gh}/containernetworking/plugins/releases/download/${e.cni}/cni-plugins-linux-amd64-${e.cni}.tgz`, `${gh}/containernetworking/plugins/releases/download/${e.cni}/cni-plugins-linux-amd64-${e.cni}.tgz.sha256`],
        [`https://get.helm.sh/helm-${e.helm}-linux-amd64.tar.gz`, `https://get.helm.sh/helm-${e.helm}-linux-amd64.tar.gz.sha256sum`],
        [`${k9sBase}/k9s_Linux_amd64.tar.gz`, `${k9sBase}/${e.k9sSums}`],
        [unit, undefined],
        [dropIn, undefined],
        [`${gh}/flannel-io/flannel/releases/download/${e.flannel}/kube-flannel.yml`, undefined],
      ]);
      expect(fetch.files.find((f) => f.name === 'k9s' && f.arch === 'arm64')!.source.url).toBe(`${k9sBase}/k9s_Linux_arm64.tar.gz`);
      expect(fetch.images.map((i) => i.ref)).toEqual([
        ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'].map((c) => `registry.k8s.io/${c}:${e.patch}`),
        `registry.k8s.io/pause:${e.pause}`,
        `registry.k8s.io/etcd:${e.etcd}`,
        `registry.k8s.io/coredns/coredns:${e.coredns}`,
        ...e.flannelImages,
        `docker.io/library/registry:${e.registry}`,
      ]);
      // Every version says where it came from, and offline that is the dated table.
      const origins = fetch.versionSources!;
      expect(origins['kubernetes']).toEqual({ from: 'flag', detail: `--kubernetes-version ${e.patch}` });
      for (const name of ['crictl', 'cni-plugins', 'helm', 'k9s', 'kubernetes-release', 'flannel', 'registry', 'pause', 'etcd', 'coredns', 'flannel-cni-plugin']) {
        expect(origins[name], name).toMatchObject({ from: 'table', checked: '2026-12-02' });
      }
      expect(origins['crictl']!.detail).toContain(`cri-tools/releases/tag/${e.crictl}`);
      expect(stderr).toContain('versions from the tables checked 2026-12-02');
      // Rows not checked against that release's kubeadm say so (for these patches: 1.30.14 and 1.34 on).
      expect(stderr.includes('not checked against kubeadm'), stderr).toBe(minor === '1.30' || Number(minor.split('.')[1]) >= 34);
    });
  }

  it('resolves a minor offline to the newest patch the table knew, and says so', async () => {
    const { code, doc, stderr } = await planOffline('1.35');
    expect(code, stderr).toBe(0);
    expect(doc!.cluster!.kubernetesVersion).toBe('v1.35.9');
    expect(doc!.fetch!.versionSources!['kubernetes']).toMatchObject({ from: 'table', checked: '2026-12-02', detail: expect.stringContaining('no network') });
    const stable = await planOffline('stable');
    expect(stable.doc!.cluster!.kubernetesVersion).toBe('v1.37.1');
  });

  it('refuses a minor newer than the table offline, naming the flags that would do instead', async () => {
    const { code, stderr } = await planOffline('v1.38.0');
    expect(code).toBe(2);
    expect(stderr).toContain('newer than the table');
    expect(stderr).toContain('--component crictl=VERSION');
    const minor = await planOffline('1.38');
    expect(minor.code).toBe(2);
    expect(minor.stderr).toContain('does not know 1.38');
  });

  it('knows which releases are not published for an architecture', async () => {
    // cri-tools dropped linux/arm with v1.29.0; k9s names its arm archive armv7.
    const arm = await planOffline('v1.29.15', ['--arch', 'arm']);
    expect(arm.code).toBe(2);
    expect(arm.stderr).toContain('no linux/arm crictl from v1.29.0');
    const old = await planOffline('v1.27.16', ['--arch', 'arm']);
    expect(old.code, old.stderr).toBe(0);
    expect(old.doc!.fetch!.files.find((f) => f.name === 'k9s')!.source.url).toBe(`${gh}/derailed/k9s/releases/download/v0.27.4/k9s_Linux_armv7.tar.gz`);
  });
});
