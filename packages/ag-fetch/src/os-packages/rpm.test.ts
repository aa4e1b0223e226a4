import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, createLogger, sha256File, type PackageInventory, type PackagesSection, type UsageError } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { buildRpmRepository, type RpmRepository } from '@ag/fixtures';
import { downloadOsPackages } from './download-os-packages.js';
import { downloadRpmPackages } from './download-rpm-packages.js';
import type { OsPackagesDownloadOptions } from './download-options.js';
import { findOsRelease, type OsRelease } from './os-releases.js';
import { planOsPackages } from './plan-os-packages.js';

// Real parts: Debian's dnf, dnf-plugins-core (download), rpmkeys and
// createrepo_c, against a signed repository built with rpmbuild and rpmsign
// (Fedora's mirrors cannot be reached from here; the commands are the same).

const io = createTestIo({ env: { PATH: process.env['PATH'], HOME: process.env['HOME'] } });
const log = createLogger(io, { tool: 'test', level: 'info' });
let upstream: RpmRepository;
let stranger: RpmRepository;
let work: string;

const section: PackagesSection = { os: 'fedora-37', format: 'rpm', manager: 'dnf', architectures: ['x86_64'], requested: ['ag-node-tool'] };

function release(repo: RpmRepository, keyFile = repo.keyFile): OsRelease {
  return { ...findOsRelease('fedora-37')!, dnfRepositories: [{ id: 'upstream', name: 'stand-in for fedora', baseurl: repo.baseurl, gpgkey: `file://${keyFile}` }] };
}

function options(name: string, extra: Partial<OsPackagesDownloadOptions> = {}): OsPackagesDownloadOptions {
  return { io, log, repoDir: join(work, name, 'packages'), repoPath: 'packages', cacheDir: join(work, 'cache', name), baseline: { kind: 'minimal' }, dryRun: false, now: new Date(), ...extra };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-rpm-'));
  upstream = await buildRpmRepository([
    { name: 'ag-base', version: '1.0' },
    { name: 'ag-lib', version: '2.0', requires: ['ag-base >= 1.0'] },
    { name: 'ag-node-tool', version: '3.0', requires: ['ag-lib'] },
    { name: 'ag-unrelated', version: '1.0' },
    // Fedora's own spelling of containerd, at a 1.6 release (1.6.15+ for Kubernetes 1.27 and 1.28, no 1.x for 1.36).
    { name: 'containerd', version: '1.6.19' },
  ]);
  stranger = await buildRpmRepository([{ name: 'ag-node-tool', version: '3.0' }]);
}, 120_000);

afterAll(async () => {
  await upstream?.cleanup();
  await stranger?.cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('the rpm closure, with dnf', () => {
  it('downloads the closure in a private install root, checks signatures and writes repodata', async () => {
    const done = await downloadRpmPackages(release(upstream), section, options('bundle'));
    expect(done.closure?.map((p) => `${p.name}-${p.version}.${p.arch}`)).toEqual(['ag-base-1.0-1.noarch', 'ag-lib-2.0-1.noarch', 'ag-node-tool-3.0-1.noarch']);
    for (const p of done.closure ?? []) expect(await sha256File(join(work, 'bundle', p.path))).toEqual({ sha256: p.sha256, size: p.size });
    expect(done.keys).toEqual(['packages/keys/key-1.asc']);
    expect(await readFile(join(work, 'bundle', 'packages/keys/key-1.asc'), 'utf8')).toBe(await readFile(upstream.keyFile, 'utf8'));
    // repodata as dnf reads it: repomd.xml naming primary.xml.gz, which lists exactly the closure.
    const repomd = await readFile(join(work, 'bundle', 'packages/repodata/repomd.xml'), 'utf8');
    expect(repomd).toContain('<location href="repodata/primary.xml.gz"/>');
    const primary = gunzipSync(await readFile(join(work, 'bundle', 'packages/repodata/primary.xml.gz'))).toString('utf8');
    expect(primary).toContain('packages="3"');
    expect([...primary.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]).sort()).toEqual(done.closure?.map((p) => p.path.replace(/^packages\//, '')));
    expect(done.baseline).toMatchObject({ kind: 'empty' });
  });

  it("refuses a containerd the cluster's Kubernetes release does not support (exit 2), with nothing carried", async () => {
    const containerd = { ...section, requested: ['containerd'] };
    const refused = await downloadRpmPackages(release(upstream), containerd, options('containerd-1.36', { kubernetesVersion: 'v1.36.3' })).then(
      () => undefined,
      (error: unknown) => error as UsageError,
    );
    expect(refused?.exitCode).toBe(2);
    expect(refused?.message).toMatch(/^fedora-37\/x86_64: containerd 1\.6\.19\S* cannot run Kubernetes v1\.36\.3: containerd 1\.6 is not among the releases containerd supports for Kubernetes 1\.36/);
    expect(refused?.hint).toContain('plan Kubernetes 1.28 or earlier with this containerd');
    await expect(readdir(join(work, 'containerd-1.36', 'packages', 'pool'))).rejects.toMatchObject({ code: 'ENOENT' });
    const done = await downloadRpmPackages(release(upstream), containerd, options('containerd-1.28', { kubernetesVersion: 'v1.28.15' }));
    expect(done.closure?.map((p) => p.name)).toEqual(['containerd']);
  });

  it('refuses packages not signed by the repository key (exit 3) and carries nothing of them', async () => {
    await expect(downloadRpmPackages(release(stranger, upstream.keyFile), section, options('stranger'))).rejects.toMatchObject({
      exitCode: 3,
      message: expect.stringContaining('signature check failed'),
    });
    await expect(readdir(join(work, 'stranger', 'packages', 'pool'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('leaves out what an inventory of the far side has at the same version', async () => {
    const inventory: PackageInventory = {
      apiVersion: API_VERSION,
      kind: 'PackageInventory',
      os: { id: 'fedora', versionId: '37' },
      format: 'rpm',
      arch: 'x86_64',
      root: '/',
      takenAt: new Date().toISOString(),
      packages: [
        { name: 'ag-base', version: '1.0-1', arch: 'noarch' },
        { name: 'ag-lib', version: '1.5-1', arch: 'noarch' },
      ],
    };
    const file = join(work, 'inventory.json');
    await writeFile(file, JSON.stringify(inventory));
    const done = await downloadRpmPackages(release(upstream), section, options('delta', { baseline: { kind: 'inventory', file } }));
    expect(done.closure?.map((p) => p.name)).toEqual(['ag-lib', 'ag-node-tool']);
    expect(done.excluded).toEqual([{ name: 'ag-base', version: '1.0-1', arch: 'noarch' }]);
    expect(done.baseline).toMatchObject({ kind: 'inventory', packages: 2 });
  });

  it('refuses an inventory of another release', async () => {
    const file = join(work, 'debian-inventory.json');
    await writeFile(file, JSON.stringify({ apiVersion: API_VERSION, kind: 'PackageInventory', os: { id: 'debian', versionId: '12' }, format: 'deb', arch: 'amd64', root: '/', takenAt: 'x', packages: [] }));
    await expect(downloadRpmPackages(release(upstream), section, options('wrong', { baseline: { kind: 'inventory', file } }))).rejects.toMatchObject({ exitCode: 2 });
  });

  it('says how to get dnf when it is not on this host (exit 5), and lists its commands in a dry run', async () => {
    const noDnf = createTestIo({ env: { PATH: '/nonexistent' } });
    const planned = planOsPackages({ os: 'fedora-37', architectures: ['amd64'] });
    await expect(downloadOsPackages(planned, { io: noDnf, log: createLogger(noDnf, { tool: 't' }), bundleRoot: join(work, 'none'), cacheDir: join(work, 'c') })).rejects.toMatchObject({
      exitCode: 5,
      hint: expect.stringContaining('fedora:37'),
    });
    const dry = await downloadOsPackages(planned, { io: noDnf, log: createLogger(noDnf, { tool: 't' }), bundleRoot: join(work, 'none'), cacheDir: join(work, 'c'), dryRun: true });
    expect(dry.sources?.map((s) => s.uri)).toEqual([
      'https://archives.fedoraproject.org/pub/archive/fedora/linux/releases/37/Everything/x86_64/os/',
      'https://archives.fedoraproject.org/pub/archive/fedora/linux/updates/37/Everything/x86_64/',
    ]);
    expect(noDnf.stderrText()).toMatch(/would run: dnf .*--forcearch=x86_64 .*download --resolve --alldeps .*containerd runc container-selinux socat conntrack-tools/);
  });
});
