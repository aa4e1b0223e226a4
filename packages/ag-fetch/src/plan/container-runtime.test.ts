/**
 * `ag-fetch plan --containerd upstream` against the stand-in upstream
 * (GitHub releases of containerd and runc, raw.githubusercontent.com for
 * containerd.service), for Kubernetes 1.36 on Debian 12: the OS's containerd
 * 1.6 cannot run it, so containerd and runc come from their releases.
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, UPSTREAM_1_36, type FileServer, type UpstreamTree } from '@ag/fixtures';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import runtimeTable from '../../data/container-runtime.json' with { type: 'json' };
import { main } from '../cli.js';

const ROW = runtimeTable.minors['1.36'];
const K8S = UPSTREAM_1_36.kubernetesVersion!;

let work: string;
let tree: UpstreamTree;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-runtime-'));
  // The 1.36 row of data/components.json, and the container runtime of data/container-runtime.json's.
  tree = await populateUpstream(join(work, 'up'), {
    ...UPSTREAM_1_36,
    architectures: ['amd64', 'arm64'],
    containerd: ROW.containerd,
    runc: ROW.runc,
  });
  server = await startFileServer({ root: tree.root });
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function plan(args: string[]): Promise<{ code: number; doc: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ env: { XDG_CACHE_HOME: join(work, 'cache') } });
  const base = ['plan', '--kubernetes-version', K8S, '--os', 'debian-12', '--arch', 'amd64', '--arch', 'arm64', '--image-list', 'table'];
  const code = await main([...base, '--dir', join(work, 'bundle'), '--mirror', server.url, ...args], io);
  const out = io.stdoutText();
  return { code, doc: out === '' ? undefined : validateDocument(JSON.parse(out), 'stdout'), stderr: io.stderrText() };
}

async function servedSha(upstreamUrl: string): Promise<string> {
  const rel = tree.files.get(upstreamUrl);
  if (rel === undefined) throw new Error(`the stand-in upstream has no ${upstreamUrl}`);
  return createHash('sha256').update(await readFile(join(tree.root, rel))).digest('hex');
}

describe('ag-fetch plan --containerd upstream', () => {
  it("carries containerd, runc and containerd.service from their releases, and leaves the OS's own out", async () => {
    const { code, doc, stderr } = await plan(['--containerd', 'upstream']);
    expect(code, stderr).toBe(0);
    const fetch = doc!.fetch!;
    const version = ROW.containerd.replace(/^v/, '');
    for (const arch of ['amd64', 'arm64']) {
      const archive = fetch.files.find((f) => f.name === 'containerd' && f.arch === arch)!;
      const url = `https://github.com/containerd/containerd/releases/download/${ROW.containerd}/containerd-${version}-linux-${arch}.tar.gz`;
      expect(archive.source.upstreamUrl).toBe(url);
      expect(archive.source.checksumUrl).toBe(`${url}.sha256sum`);
      expect(archive).toMatchObject({ kind: 'archive', version: ROW.containerd, sha256: await servedSha(url), sha256From: 'upstream' });
      expect(archive.install).toEqual({ extractTo: '/usr/local/bin', members: ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr'] });
      // runc.sha256sum lists every asset: the line for this architecture's binary is the one taken.
      const runc = fetch.files.find((f) => f.name === 'runc' && f.arch === arch)!;
      const runcUrl = `https://github.com/opencontainers/runc/releases/download/${ROW.runc}/runc.${arch}`;
      expect(runc).toMatchObject({ kind: 'binary', version: ROW.runc, sha256: await servedSha(runcUrl), install: { path: '/usr/local/sbin/runc', mode: '0755' } });
      expect(runc.path).toBe(`files/linux/${arch}/runc-${ROW.runc}.${arch}`);
    }
    const unitUrl = `https://raw.githubusercontent.com/containerd/containerd/${ROW.containerd}/containerd.service`;
    const unit = fetch.files.find((f) => f.name === 'containerd.service')!;
    expect(unit).toMatchObject({ kind: 'systemd-unit', sha256: await servedSha(unitUrl), sha256From: 'plan', install: { path: '/usr/local/lib/systemd/system/containerd.service' } });
    expect(fetch.components).toMatchObject({ containerd: ROW.containerd, runc: ROW.runc });
    expect(fetch.versionSources!['containerd']).toMatchObject({ from: 'table', checked: runtimeTable.checked });
    // Debian's containerd 1.6 and runc are not carried besides them.
    expect(doc!.packages!.requested).not.toContain('containerd');
    expect(doc!.packages!.requested).not.toContain('runc');
    expect(doc!.packages!.requested).toContain('conntrack');
  });

  it('plans offline from the table, with no request to any server', async () => {
    const before = server.requests.length;
    const { code, doc, stderr } = await plan(['--containerd', 'upstream', '--no-checksums']);
    expect(code, stderr).toBe(0);
    expect(server.requests.length).toBe(before);
    const containerd = doc!.fetch!.files.filter((f) => f.name === 'containerd');
    expect(containerd.map((f) => [f.arch, f.version, f.sha256])).toEqual([
      ['amd64', ROW.containerd, undefined],
      ['arm64', ROW.containerd, undefined],
    ]);
  });

  it('refuses a containerd the Kubernetes release does not support, before fetching anything of it', async () => {
    const before = server.requests.length;
    const { code, stderr } = await plan(['--containerd', 'upstream', '--component', 'containerd=v1.7.34']);
    expect(code).toBe(2);
    expect(stderr).toContain('containerd 1.7 is not among the releases containerd supports for Kubernetes 1.36');
    expect(server.requests.slice(before).filter((r) => /containerd\/containerd|opencontainers\/runc/.test(r.path))).toEqual([]);
  });

  it('says when upstream lacks the named release, and which file', async () => {
    const { code, stderr } = await plan(['--containerd', 'upstream', '--component', 'runc=v1.9.9']);
    expect(code).toBe(5);
    expect(stderr).toContain('runc.sha256sum');
  });

  it('refuses a 32-bit arm node (containerd publishes no such archive) and --package containerd beside it', async () => {
    // crictl v1.29.0 and later have no arm build either: an older one gets past that refusal to this one.
    const arm = await plan(['--containerd', 'upstream', '--arch', 'arm', '--component', 'crictl=v1.28.0', '--no-checksums']);
    expect(arm.code).toBe(2);
    expect(arm.stderr).toContain('containerd publishes no linux/arm release archive');
    const twice = await plan(['--containerd', 'upstream', '--package', 'containerd']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('would carry two container runtimes');
  });

  it("takes the choice from a site file's spec.os.containerd, and --containerd overrides it", async () => {
    const site = join(work, 'site.yaml');
    await writeFile(site, `apiVersion: ag/v1alpha1\nkind: Site\nmetadata:\n  name: lab\nspec:\n  kubernetes:\n    version: ${K8S}\n  os:\n    name: debian-12\n    containerd: upstream\n`);
    const fromSite = await plan(['--site', site, '--no-checksums']);
    expect(fromSite.code, fromSite.stderr).toBe(0);
    expect(fromSite.doc!.fetch!.files.filter((f) => f.name === 'containerd').map((f) => f.version)).toEqual([ROW.containerd, ROW.containerd]);
    const overridden = await plan(['--site', site, '--containerd', 'os', '--no-checksums']);
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(overridden.doc!.fetch!.files.some((f) => f.name === 'containerd')).toBe(false);
    expect(overridden.doc!.packages!.requested).toContain('containerd');
  });

  it('without --containerd upstream the plan is as before: the OS carries containerd', async () => {
    const { code, doc, stderr } = await plan(['--no-checksums']);
    expect(code, stderr).toBe(0);
    expect(doc!.fetch!.files.some((f) => f.name === 'containerd' || f.name === 'runc')).toBe(false);
    expect(doc!.packages!.requested).toEqual(expect.arrayContaining(['containerd', 'runc']));
  });
});

describe('data/container-runtime.json', () => {
  it('has a row for every Kubernetes minor of data/components.json, each one containerd supports for it', async () => {
    const { containerdSupported } = await import('@ag/core');
    const components = (await import('../../data/components.json', { with: { type: 'json' } })).default;
    const rows = runtimeTable.minors as Record<string, { containerd: string; runc: string } | undefined>;
    expect(Object.keys(rows).sort()).toEqual(Object.keys(components.minors).sort());
    for (const [minor, row] of Object.entries(rows)) {
      const verdict = containerdSupported(minor, row!.containerd.replace(/^v/, ''));
      // A minor containerd's table does not list yet (1.37) is unknown, never refused.
      expect('supported' in verdict ? verdict.supported : 'unknown' in verdict, `${minor}: containerd ${row!.containerd}`).toBe(true);
      expect(row!.runc, minor).toMatch(/^v\d+\.\d+\.\d+$/);
    }
  });
});
