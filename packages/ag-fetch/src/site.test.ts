/**
 * `ag-fetch plan --site site.yaml` in-process against the stand-in upstream:
 * the cluster described once, flags overriding it, the document recording
 * the file, and errors that name the file, the line and the JSON path.
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, type FileServer, type UpstreamTree } from '@ag/fixtures';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { readSiteFile } from './site.js';

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));

let work: string;
let upstream: UpstreamTree;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-site-'));
  upstream = await populateUpstream(join(work, 'upstream'), { architectures: ['amd64', 'arm64'] });
  server = await startFileServer({ root: upstream.root });
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function plan(args: string[]): Promise<{ code: number; doc: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ cwd: work });
  const code = await main(['plan', '--image-list', 'table', '--mirror', server.url, '--dir', join(work, 'bundle'), ...args], io);
  const out = io.stdoutText();
  return { code, doc: out === '' ? undefined : validateDocument(JSON.parse(out), 'stdout'), stderr: io.stderrText() };
}

const SITE = `# The lab cluster, as docs/site.md describes it.
apiVersion: ag/v1alpha1
kind: Site
metadata:
  name: lab
spec:
  kubernetes:
    version: v1.27.3
  architectures: [amd64]
  os:
    name: debian-12
    packages:
      add: [nfs-common]
  cni:
    name: flannel
    version: v0.22.0
    options:
      backend: host-gw
      iface: [eth1]
  networks:
    podSubnet: 10.200.0.0/16
    serviceSubnet: 10.100.0.0/16
    dnsDomain: lab.internal
  charts:
    - repo: https://stefanprodan.github.io/podinfo
      name: podinfo
      version: 6.4.0
  images:
    - ghcr.io/stefanprodan/podinfo:6.4.0
  components:
    etcd: 3.5.9-0
  registry:
    endpoint: registry.lab.internal:5000
`;

async function siteFile(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

/** The 1-based line of the first line of `text` containing `needle`. */
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((line) => line.includes(needle)) + 1;

describe('ag-fetch plan --site', () => {
  it('plans the cluster the file describes, and records the file, its sha256, the CNI options and the registry', async () => {
    const path = await siteFile('site.yaml', SITE);
    const { code, doc, stderr } = await plan(['--site', 'site.yaml']);
    expect(code, stderr).toBe(0);
    expect(doc!.cluster).toEqual({
      kubernetesVersion: 'v1.27.3',
      architectures: ['amd64'],
      os: 'debian-12',
      cni: { name: 'flannel', version: 'v0.22.0', options: { backend: 'host-gw', iface: ['eth1'] } },
      podSubnet: '10.200.0.0/16',
      serviceSubnet: '10.100.0.0/16',
      dnsDomain: 'lab.internal',
      registry: { endpoint: 'registry.lab.internal:5000' },
    });
    expect(doc!.fetch!.site).toEqual({ path, sha256: createHash('sha256').update(SITE).digest('hex'), name: 'lab' });
    expect(doc!.fetch!.images.map((i) => i.ref)).toContain('ghcr.io/stefanprodan/podinfo:6.4.0');
    expect(doc!.fetch!.files.map((f) => f.path)).toContain('files/charts/podinfo-6.4.0.tgz');
    expect(doc!.fetch!.components['etcd']).toBe('3.5.9-0');
    expect(doc!.packages!.requested).toContain('nfs-common');
    expect(stderr).toContain(`site file ${path} (lab)`);
  });

  it('plans the same as the same cluster given in flags', async () => {
    await siteFile('site.yaml', SITE);
    const fromFile = await plan(['--site', 'site.yaml']);
    const fromFlags = await plan([
      '--kubernetes-version', 'v1.27.3', '--arch', 'amd64', '--os', 'debian-12', '--package', 'nfs-common', '--cni', 'flannel@v0.22.0',
      '--pod-subnet', '10.200.0.0/16', '--service-subnet', '10.100.0.0/16', '--dns-domain', 'lab.internal',
      '--chart', 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0', '--image', 'ghcr.io/stefanprodan/podinfo:6.4.0', '--component', 'etcd=3.5.9-0',
    ]);
    expect(fromFlags.code, fromFlags.stderr).toBe(0);
    const { site: _site, plannedAt: _a, ...fileFetch } = fromFile.doc!.fetch!;
    const { plannedAt: _b, ...flagFetch } = fromFlags.doc!.fetch!;
    expect(fileFetch).toEqual(flagFetch);
    expect(fromFile.doc!.packages).toEqual(fromFlags.doc!.packages);
  });

  it('lets flags override the file: scalars replace, repeatable flags add', async () => {
    await siteFile('site.yaml', SITE);
    const { code, doc, stderr } = await plan(['--site', 'site.yaml', '--arch', 'arm64', '--pod-subnet', '10.244.0.0/16', '--image', 'docker.io/library/busybox:1.36', '--component', 'etcd=3.5.7-0']);
    expect(code, stderr).toBe(0);
    expect(doc!.cluster).toMatchObject({ architectures: ['arm64'], podSubnet: '10.244.0.0/16', serviceSubnet: '10.100.0.0/16' });
    expect(doc!.fetch!.images.map((i) => i.ref)).toEqual(expect.arrayContaining(['ghcr.io/stefanprodan/podinfo:6.4.0', 'docker.io/library/busybox:1.36']));
    expect(doc!.fetch!.components['etcd']).toBe('3.5.7-0');
  });

  it('names the file, the line and the JSON path of every problem at once, and plans nothing', async () => {
    const broken = SITE.replace('podSubnet: 10.200.0.0/16', 'podSubent: 10.200.0.0/16').replace('architectures: [amd64]', 'architectures: [amd64, x86]').replace('    version: v1.27.3\n', '    release: v1.27.3\n');
    const path = await siteFile('broken.yaml', broken);
    const requests = server.requests.length;
    const { code, doc, stderr } = await plan(['--site', 'broken.yaml']);
    expect(code).toBe(2);
    expect(doc).toBeUndefined();
    expect(stderr).toContain('the site file is not valid:');
    expect(stderr).toContain(`${path}:${lineOf(broken, 'release:')}: $.spec.kubernetes.version: missing (required)`);
    expect(stderr).toContain(`${path}:${lineOf(broken, 'release:')}: $.spec.kubernetes.release: not a field of the site file (a misspelling?)`);
    expect(stderr).toContain(`${path}:${lineOf(broken, 'architectures:')}: $.spec.architectures[1]: expected one of amd64, arm64, arm, ppc64le, s390x, got "x86"`);
    expect(stderr).toContain(`${path}:${lineOf(broken, 'podSubent')}: $.spec.networks.podSubent: not a field of the site file (a misspelling?)`);
    expect(stderr).toContain('next: fix the file (docs/site.md');
    expect(server.requests.length).toBe(requests);
  });

  it('names the line of a value the planner refuses, and of a YAML syntax error', async () => {
    const untagged = SITE.replace('ghcr.io/stefanprodan/podinfo:6.4.0', 'ghcr.io/stefanprodan/podinfo');
    const path = await siteFile('untagged.yaml', untagged);
    const refused = await plan(['--site', 'untagged.yaml']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${path}:${lineOf(untagged, '- ghcr.io/stefanprodan/podinfo')}: $.spec.images[0]: --image ghcr.io/stefanprodan/podinfo: name a tag or a digest`);

    // A key given twice: YAML refuses it (the yaml library's uniqueKeys), at the second one.
    const bad = `${SITE}kind: Site\n`;
    const badPath = await siteFile('bad.yaml', bad);
    const syntax = await plan(['--site', 'bad.yaml']);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toContain(`the site file is not valid YAML:\n  ${badPath}:${SITE.split('\n').length}:1: Map keys must be unique`);
  });

  it('still needs --kubernetes-version and --os without a site file', async () => {
    const { code, stderr } = await plan(['--os', 'debian-12']);
    expect(code).toBe(2);
    expect(stderr).toContain('--kubernetes-version is required (or a site file naming spec.kubernetes.version: --site FILE)');
    const missing = await plan(['--site', 'nowhere.yaml']);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain(`reading the site file ${join(work, 'nowhere.yaml')}`);
  });

  it('reads every example in docs/site.md and docs/examples/', async () => {
    const markdown = await readFile(join(DOCS, 'site.md'), 'utf8');
    const blocks = [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const [i, block] of blocks.entries()) {
      const loaded = await readSiteFile(await siteFile(`doc-example-${i}.yaml`, block));
      expect(loaded.site.kind).toBe('Site');
    }
    const example = await readSiteFile(join(DOCS, 'examples', 'site.yaml'));
    expect(example.site.metadata.name).toBeDefined();
  });
});
