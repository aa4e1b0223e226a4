import { readFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { API_VERSION, createLogger, sha256File, type AgDocument, type PackagesSection } from '@ag/core';
import { main } from '../cli.js';
import { createTestIo } from '@ag/core/testing';
import { cachedDebianRoot, extractDebianRoot, testCacheDir, treeHash, type CachedDebianRoot } from '@ag/fixtures';
import { parseStanzas } from './deb822.js';
import { downloadOsPackages, type DownloadOsPackagesOptions } from './download-os-packages.js';
import { planOsPackages } from './plan-os-packages.js';

// Real parts: Debian's archive (deb.debian.org, signatures checked against
// debian-archive-keyring) and a debootstrap minbase root of Debian 12.

const io = createTestIo();
const log = createLogger(io, { tool: 'test', level: 'info' });
const planned = planOsPackages({ os: 'debian-12', architectures: ['amd64'] });
let root: CachedDebianRoot;
let work: string;
let cacheDir: string;

function options(bundleRoot: string, extra: Partial<DownloadOsPackagesOptions> = {}): DownloadOsPackagesOptions {
  return { io, log, bundleRoot, cacheDir, baseline: { kind: 'status', file: root.status }, ...extra };
}

const names = (section: PackagesSection): string[] => (section.closure ?? []).map((p) => p.name).sort();

beforeAll(async () => {
  const started = Date.now();
  root = await cachedDebianRoot();
  if (root.built) console.info(`debootstrap minbase bookworm took ${root.buildSeconds.toFixed(0)} s (cached for later runs)`);
  work = await mkdtemp(join(tmpdir(), 'ag-os-packages-'));
  // Package lists and .debs are kept between runs, as ag-fetch keeps them in ~/.cache.
  cacheDir = join(testCacheDir(), 'os-packages', 'ag-fetch-debian-test');
  console.info(`debian root ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 15 * 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the Debian 12 closure, against the real archive', () => {
  let section: PackagesSection;
  const bundle = (): string => join(work, 'bundle');

  it('carries what a minimal root lacks and leaves out what it has', async () => {
    const started = Date.now();
    section = await downloadOsPackages(planned, options(bundle()));
    console.info(`closure of ${planned.requested.length} packages resolved and downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const carried = names(section);
    for (const name of [...planned.requested, 'libssl3', 'openssl', 'libip4tc2', 'libnftnl11', 'libmnl0']) expect(carried).toContain(name);
    // In every minimal root already: never carried, named as left out with the version the root has.
    const status = await readFile(root.status, 'utf8');
    const libc = parseStanzas(status).find((s) => s.get('Package') === 'libc6');
    expect(carried).not.toContain('libc6');
    expect(section.excluded).toContainEqual({ name: 'libc6', version: libc?.get('Version'), arch: 'amd64' });
    expect(section.baseline).toMatchObject({ kind: 'status', detail: root.status, packages: parseStanzas(status).length });
    expect(section.sources?.map((s) => s.suite)).toEqual(['bookworm', 'bookworm-updates', 'bookworm-security']);
    expect(section.sources?.every((s) => s.keyring === '/usr/share/keyrings/debian-archive-keyring.gpg')).toBe(true);
  });

  it('writes every .deb verified and a flat repository whose Release covers its index', async () => {
    for (const deb of section.closure ?? []) {
      expect(deb.path).toMatch(/^packages\/pool\/[^/]+\.deb$/);
      expect(await sha256File(join(bundle(), deb.path))).toEqual({ sha256: deb.sha256, size: deb.size });
    }
    const repo = join(bundle(), 'packages');
    const index = await readFile(join(repo, 'Packages'), 'utf8');
    const stanzas = parseStanzas(index);
    expect(stanzas.map((s) => s.get('Package')).sort()).toEqual(names(section));
    expect(stanzas.every((s) => s.get('Filename')?.startsWith('pool/'))).toBe(true);
    const release = await readFile(join(repo, 'Release'), 'utf8');
    const digest = createHash('sha256').update(index).digest('hex');
    expect(release).toContain(` ${digest} ${Buffer.byteLength(index)} Packages\n`);
    // The repository tools of Debian read it as a repository.
    const listed = await execa('apt-ftparchive', ['packages', 'pool'], { cwd: repo });
    expect(parseStanzas(listed.stdout).map((s) => s.get('SHA256')).sort()).toEqual(stanzas.map((s) => s.get('SHA256')).sort());
    expect(io.stderrText()).toMatch(/the bundle's repository alone installs 11 requested packages/);
  });

  it('is the same closure when the baseline is computed from the archive instead of a debootstrap root', async () => {
    const minimal = await downloadOsPackages(planned, options(join(work, 'dry'), { baseline: { kind: 'minimal' }, dryRun: true }));
    expect(minimal.closure).toEqual(section.closure);
    expect(minimal.baseline).toMatchObject({ kind: 'minimal', packages: section.baseline?.packages });
    // A dry run resolves but writes nothing.
    await expect(stat(join(work, 'dry', 'packages'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ag-fetch download does the same through the CLI: copies nothing on a re-run and drops packages of an earlier closure', async () => {
    const stale = join(bundle(), 'packages', 'pool', 'stale_1.0_amd64.deb');
    await writeFile(stale, 'old');
    const document: AgDocument = {
      apiVersion: API_VERSION,
      kind: 'Cluster',
      root: bundle(),
      fetch: { components: {}, imageList: { source: 'table', detail: 'test' }, files: [], images: [] },
      packages: planned,
    };
    const dry = createTestIo({ stdin: JSON.stringify(document), env: { PATH: process.env['PATH'] } });
    const cacheBefore = await treeHash(cacheDir);
    expect(await main(['download', '--dry-run', '--baseline-status', root.status, '--packages-cache', cacheDir], dry), dry.stderrText()).toBe(0);
    // A dry run passes the document through, names what it would resolve against, and neither runs apt nor touches the cache or the bundle.
    const passed = JSON.parse(dry.stdoutText()) as AgDocument;
    expect(passed.packages).toEqual(planned);
    expect(passed.fetch!.dryRun!.osPackages).toMatchObject({ os: 'debian-12', requested: planned.requested, cache: cacheDir, sources: expect.arrayContaining(['http://deb.debian.org/debian bookworm']) });
    expect(await treeHash(cacheDir)).toBe(cacheBefore);
    expect((await stat(stale)).size).toBe(3);
    const cli = createTestIo({ stdin: JSON.stringify(document), env: { PATH: process.env['PATH'] } });
    const code = await main(['download', '--baseline-status', root.status, '--packages-cache', cacheDir], cli);
    expect(code, cli.stderrText()).toBe(0);
    const again = (JSON.parse(cli.stdoutText()) as AgDocument).packages!;
    expect(again.closure).toEqual(section.closure);
    expect(again.baseline).toEqual(section.baseline);
    expect(cli.stderrText()).toContain(`(0 copied, ${section.closure?.length} already there)`);
    expect(cli.stderrText()).toContain('stale_1.0_amd64.deb');
    await expect(stat(stale)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('leaves out what a root already has installed', async () => {
    // A root with iptables installed from the bundle itself (dpkg, no network).
    const iptables = await downloadOsPackages({ ...planned, requested: ['iptables'] }, options(join(work, 'iptables'), { dryRun: true }));
    const copy = await extractDebianRoot();
    try {
      const debs = (iptables.closure ?? []).map((p) => join(bundle(), p.path));
      // In the root (chroot): maintainer scripts must never run against this machine.
      await execa('cp', [...debs, join(copy.dir, 'tmp')]);
      await execa('chroot', [copy.dir, 'dpkg', '--install', ...debs.map((d) => `/tmp/${d.split('/').pop()}`)]);
      const smaller = await downloadOsPackages(planned, options(join(work, 'smaller'), { baseline: { kind: 'status', file: join(copy.dir, 'var/lib/dpkg/status') }, dryRun: true }));
      const installed = names(iptables);
      expect(names(smaller)).toEqual(names(section).filter((n) => !installed.includes(n)));
      for (const name of installed) expect(smaller.excluded?.map((e) => e.name)).toContain(name);
    } finally {
      await copy.cleanup();
    }
  });

  it("refuses Debian 12's containerd for a Kubernetes release it does not run, before anything is downloaded (exit 2)", async () => {
    const target = join(work, 'k8s-1.36');
    const document = (kubernetesVersion: string): AgDocument => ({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      root: target,
      cluster: { kubernetesVersion, architectures: ['amd64'], os: 'debian-12', cni: { name: 'flannel', version: 'v0.28.9' }, podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
      fetch: { components: {}, imageList: { source: 'table', detail: 'test' }, files: [], images: [] },
      packages: planned,
    });
    const refused = createTestIo({ stdin: JSON.stringify(document('v1.36.3')), env: { PATH: process.env['PATH'] } });
    expect(await main(['download', '--baseline-status', root.status, '--packages-cache', cacheDir], refused)).toBe(2);
    // The version is the archive's, read from the resolved closure: bookworm has carried 1.6.20 since its release.
    expect(refused.stderrText()).toMatch(/debian-12\/amd64: containerd 1\.6\.20\S* cannot run Kubernetes v1\.36\.3: containerd 1\.6 is not among the releases containerd supports for Kubernetes 1\.36/);
    expect(refused.stderrText()).toContain('plan Kubernetes 1.28 or earlier with this containerd');
    expect(refused.stdoutText()).toBe('');
    await expect(stat(join(target, 'packages'))).rejects.toMatchObject({ code: 'ENOENT' });
    // 1.28 is the newest release containerd 1.6.20 is supported for (1.6.15+): the same closure resolves.
    const accepted = createTestIo({ stdin: JSON.stringify(document('v1.28.15')), env: { PATH: process.env['PATH'] } });
    expect(await main(['download', '--baseline-status', root.status, '--packages-cache', cacheDir], accepted), accepted.stderrText()).toBe(0);
    expect((JSON.parse(accepted.stdoutText()) as AgDocument).packages!.closure!.map((p) => p.name)).toContain('containerd');
  });

  it('names a package the archive does not have (exit 5)', async () => {
    await expect(downloadOsPackages({ ...planned, requested: ['containerd', 'no-such-package-ag'] }, options(join(work, 'x'), { dryRun: true }))).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('no-such-package-ag'),
    });
  });
});
