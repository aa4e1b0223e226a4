import { describe, expect, it } from 'vitest';
import { mirrorUrl, parseMirrors, sourceFor } from '../mirrors.js';
import { parseChecksumFile } from './checksums.js';
import { findInIndex } from './planners/charts.js';
import { manifestImages } from './planners/flannel.js';
import { parseKubernetesVersion, parseStableTxt } from './kubernetes-version.js';
import { parseChart, parseFile } from './request.js';
import { flannelTableImages, tableImages } from './versions.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('checksum files', () => {
  it('reads a bare digest, sha256sum lines, and the line for an asset in a list', () => {
    expect(parseChecksumFile(`${A}\n`, 'kubeadm', 'x')).toBe(A);
    expect(parseChecksumFile(`${A.toUpperCase()}  cni.tgz\n`, 'cni.tgz', 'x')).toBe(A);
    expect(parseChecksumFile(`${A} *helm.tar.gz`, 'helm.tar.gz', 'x')).toBe(A);
    expect(parseChecksumFile(`${A}  k9s_Linux_arm64.tar.gz\n${B}  k9s_Linux_amd64.tar.gz\n`, 'k9s_Linux_amd64.tar.gz', 'x')).toBe(B);
  });

  it('refuses a file for another asset, or without the asset, or without a digest', () => {
    expect(() => parseChecksumFile(`${A}  other.tgz`, 'cni.tgz', 'sums')).toThrow('sums is the checksum of other.tgz, not of cni.tgz');
    expect(() => parseChecksumFile(`${A}  a\n${B}  b\n`, 'c', 'sums')).toThrow('no line for c');
    expect(() => parseChecksumFile('<html>404</html>', 'c', 'sums')).toThrow('holds no SHA-256');
  });
});

describe('mirrors', () => {
  it('maps one host, or every host under a base, and records the upstream URL', () => {
    const mirrors = parseMirrors(['dl.k8s.io=https://m.internal/k8s/', 'http://127.0.0.1:9/']);
    expect(mirrorUrl('https://dl.k8s.io/release/v1/x', mirrors)).toBe('https://m.internal/k8s/release/v1/x');
    expect(mirrorUrl('https://get.helm.sh/helm.tgz', mirrors)).toBe('http://127.0.0.1:9/get.helm.sh/helm.tgz');
    expect(sourceFor('https://get.helm.sh/h', parseMirrors())).toEqual({ url: 'https://get.helm.sh/h' });
    // The same syntax as ag-images pull --mirror: a target without a scheme is https.
    expect(mirrorUrl('https://dl.k8s.io/x', parseMirrors(['dl.k8s.io=m.internal:8443']))).toBe('https://m.internal:8443/x');
    expect(() => parseMirrors(['http://a.internal', 'http://b.internal'])).toThrow('both claim every upstream host');
    expect(() => parseMirrors(['ftp://x'])).toThrow('only http and https');
  });
});

describe('flags', () => {
  it('takes an exact release, a minor (its newest patch) or stable, and nothing unreleased', () => {
    expect(parseKubernetesVersion('1.27.3')).toEqual({ kind: 'exact', version: 'v1.27.3' });
    expect(parseKubernetesVersion('v1.35')).toEqual({ kind: 'minor', minor: '1.35' });
    expect(parseKubernetesVersion('stable-1.36')).toEqual({ kind: 'minor', minor: '1.36' });
    expect(parseKubernetesVersion('stable')).toEqual({ kind: 'stable' });
    for (const bad of ['v1.28.0-rc.1', 'latest', 'latest-1.35', '>=1.30', 'v1', '']) expect(() => parseKubernetesVersion(bad), bad).toThrow('--kubernetes-version');
  });

  it('reads stable.txt as dl.k8s.io publishes it, and refuses anything else', () => {
    expect(parseStableTxt('v1.35.9\n', 'u', '1.35')).toBe('v1.35.9');
    expect(() => parseStableTxt('v1.36.0\n', 'u', '1.35')).toThrow('not a 1.35 release');
    expect(() => parseStableTxt('<html>', 'u')).toThrow('does not name a release');
  });

  it('parses charts and files', () => {
    expect(parseChart('https://stefanprodan.github.io/podinfo/podinfo@6.4.0')).toEqual({ repo: 'https://stefanprodan.github.io/podinfo', name: 'podinfo', version: '6.4.0' });
    expect(() => parseChart('oci://ghcr.io/x/chart@1')).toThrow('OCI');
    expect(parseFile('https://x.invalid/a/b.bin')).toEqual({ url: 'https://x.invalid/a/b.bin' });
    expect(() => parseFile('https://x.invalid/dir/')).toThrow('must name a file');
  });
});

describe('manifests and chart indexes', () => {
  it('lists each image of a manifest once, quoted or not', () => {
    const yaml = `containers:\n- name: a\n  image: "docker.io/flannel/flannel:v0.22.0"\n- image: flannel/flannel-cni-plugin:v1.1.2 # pinned\n  name: b\ninitContainers:\n- image: docker.io/flannel/flannel:v0.22.0\n`;
    expect(manifestImages(yaml)).toEqual(['docker.io/flannel/flannel:v0.22.0', 'docker.io/flannel/flannel-cni-plugin:v1.1.2']);
  });

  it('finds a chart version in index.yaml, resolving relative URLs against the repository', async () => {
    const index = `apiVersion: v1\nentries:\n  app:\n  - version: 1.2.0\n    urls: [charts/app-1.2.0.tgz]\n    digest: ${A}\n  - version: 1.1.0\n    urls: [https://cdn.invalid/app-1.1.0.tgz]\n`;
    const repo = { repo: 'https://charts.invalid/stable', name: 'app' };
    expect(await findInIndex(index, { ...repo, version: '1.2.0' }, 'idx')).toEqual({ url: 'https://charts.invalid/stable/charts/app-1.2.0.tgz', sha256: A });
    expect(await findInIndex(index, { ...repo, version: 'v1.1.0' }, 'idx')).toEqual({ url: 'https://cdn.invalid/app-1.1.0.tgz' });
    await expect(findInIndex(index, { ...repo, version: '9.9.9' }, 'idx')).rejects.toThrow('has no app 9.9.9 (newest: 1.2.0, 1.1.0)');
  });
});

describe('tables', () => {
  it('know the classic v1.27.3 images and flannel v0.22.0', () => {
    expect(tableImages('v1.27.3')).toMatchObject({ pause: '3.9', etcd: '3.5.7-0', coredns: 'v1.10.1' });
    expect(tableImages('v1.31.1')).toMatchObject({ pause: '3.10', coredns: 'v1.11.3' });
    expect(tableImages('v1.26.0')).toBeUndefined();
    // etcd moved within minors with cherry-picks; each boundary is the first patch cut after the merge.
    const etcd = (v: string): string | undefined => tableImages(v)?.etcd;
    expect(['v1.28.5', 'v1.28.6', 'v1.28.7', 'v1.28.8', 'v1.28.13', 'v1.28.14'].map(etcd)).toEqual(['3.5.9-0', '3.5.10-0', '3.5.10-0', '3.5.12-0', '3.5.12-0', '3.5.15-0']);
    expect(['v1.30.4', 'v1.30.5', 'v1.30.14', 'v1.31.13', 'v1.31.14'].map(etcd)).toEqual(['3.5.12-0', '3.5.15-0', '3.5.15-0', '3.5.15-0', '3.5.24-0']);
    expect(['v1.32.9', 'v1.32.10', 'v1.33.5', 'v1.33.6', 'v1.34.0', 'v1.37.1'].map(etcd)).toEqual(['3.5.16-0', '3.5.24-0', '3.5.21-0', '3.5.24-0', '3.6.4-0', '3.7.0-0']);
    expect(tableImages('v1.34.0')).toMatchObject({ pause: '3.10.1', coredns: 'v1.12.1', inferred: false });
    expect(tableImages('v1.35.9')).toMatchObject({ inferred: true });
    expect(tableImages('v1.37.2')).toBeUndefined();
    expect(flannelTableImages('v0.22.0')).toEqual({ flannel: 'docker.io/flannel/flannel:v0.22.0', cniPlugin: 'docker.io/flannel/flannel-cni-plugin:v1.1.2' });
  });
});
