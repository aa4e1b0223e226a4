/**
 * Each upstream's release conventions, era by era: the boundaries pinned,
 * and a connected plan across the k9s boundary against the stand-in
 * upstream, which publishes only the files the real release pages have.
 */
import { validateDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer } from '@ag/fixtures';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { crictlUnavailable, k9sAsset, k9sChecksumFile, kubeletTemplateUrls } from './conventions.js';

describe('release conventions by era', () => {
  it('k9s: checksums.txt up to v0.27.4, checksums.sha256 from v0.28.0; armv7 for arm', () => {
    expect(['v0.27.0', 'v0.27.4'].map(k9sChecksumFile)).toEqual(['checksums.txt', 'checksums.txt']);
    expect(['v0.28.0', 'v0.32.7', 'v0.51.0'].map(k9sChecksumFile)).toEqual(['checksums.sha256', 'checksums.sha256', 'checksums.sha256']);
    expect(k9sAsset('v0.51.0', 'arm')).toBe('k9s_Linux_armv7.tar.gz');
    expect(k9sAsset('v0.51.0', 's390x')).toBe('k9s_Linux_s390x.tar.gz');
    expect(() => k9sAsset('v0.26.7', 'amd64')).toThrow('x86_64');
  });

  it('crictl: linux/arm up to v1.28, none from v1.29.0', () => {
    expect(crictlUnavailable('v1.28.0', 'arm')).toBeUndefined();
    expect(crictlUnavailable('v1.29.0', 'arm')).toContain('no linux/arm crictl');
    expect(crictlUnavailable('v1.36.0', 'arm64')).toBeUndefined();
  });

  it('kubernetes/release: kubepkg deb templates before v0.16.0, krel templates from it', () => {
    expect(kubeletTemplateUrls('v0.15.1').unit).toBe('https://raw.githubusercontent.com/kubernetes/release/v0.15.1/cmd/kubepkg/templates/latest/deb/kubelet/lib/systemd/system/kubelet.service');
    expect(kubeletTemplateUrls('v0.16.0').dropIn).toBe('https://raw.githubusercontent.com/kubernetes/release/v0.16.0/cmd/krel/templates/latest/kubeadm/10-kubeadm.conf');
  });

  it('a connected plan for 1.28 finds every checksum where that era publishes it (k9s checksums.sha256, arm included)', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ag-fetch-era-'));
    try {
      const tree = await populateUpstream(join(work, 'up'), {
        kubernetesVersion: 'v1.28.15',
        architectures: ['amd64', 'arm'],
        crictl: 'v1.28.0',
        cniPlugins: 'v1.3.0',
        helm: 'v3.13.3',
        k9s: 'v0.28.2',
        flannel: 'v0.22.3',
        flannelCniPlugin: 'v1.2.0',
        charts: [],
      });
      const server = await startFileServer({ root: tree.root });
      try {
        const io = createTestIo({ env: { XDG_CACHE_HOME: join(work, 'cache') } });
        const code = await main(['plan', '--kubernetes-version', 'v1.28.15', '--os', 'debian-12', '--arch', 'amd64', '--arch', 'arm', '--image-list', 'table', '--mirror', server.url, '--dir', join(work, 'bundle')], io);
        expect(code, io.stderrText()).toBe(0);
        const fetch = validateDocument(JSON.parse(io.stdoutText()), 'stdout').fetch!;
        const k9s = fetch.files.filter((f) => f.name === 'k9s');
        expect(k9s.map((f) => [f.arch, f.source.checksumUrl, f.sha256From])).toEqual([
          ['amd64', 'https://github.com/derailed/k9s/releases/download/v0.28.2/checksums.sha256', 'upstream'],
          ['arm', 'https://github.com/derailed/k9s/releases/download/v0.28.2/checksums.sha256', 'upstream'],
        ]);
        expect(k9s[1]!.source.upstreamUrl).toBe('https://github.com/derailed/k9s/releases/download/v0.28.2/k9s_Linux_armv7.tar.gz');
        expect(fetch.files.every((f) => f.sha256 !== undefined)).toBe(true);
      } finally {
        await server.close();
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
