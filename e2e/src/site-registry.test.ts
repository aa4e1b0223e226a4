import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import {
  createTestCa,
  generatedLayout,
  planDocument,
  startContainerd,
  startForwardProxy,
  startHarborProjectGate,
  startRegistry,
  writeKubeadmDouble,
  writeKubeadmLikeSet,
  type GeneratedImage,
  type PrivateContainerd,
  type RegistryFixture,
} from '@ag/fixtures';
import { main as agFlannel } from 'ag-flannel';
import { main as agImages } from 'ag-images';
import { main as agKubeadm } from 'ag-kubeadm';
import { main as agRegistry } from 'ag-registry';
import { manifestImages } from './far-side.js';
import { REPO_ROOT } from './tools.js';

// The site already runs a registry that keeps images under a path it chooses
// (a Harbor project, an Artifactory repository key): here a real distribution
// registry (TLS + htpasswd) used under the prefix `k8s`. ag pushes into it,
// writes the nodes' trust for it, and a real containerd pulls every image of
// the bundle by its upstream name through the prefixed mirror; kubeadm's
// configuration and flannel's manifest name images that resolve there.

const PREFIX = 'k8s';
let dir: string;
let bundle: string;
let node: string;
let images: GeneratedImage[];
let site: RegistryFixture;
let containerd: PrivateContainerd;
let credentialsFile: string;
let target: string;

type Main = (argv: string[], io: ReturnType<typeof createTestIo>) => Promise<number>;

async function run(tool: Main, argv: string[], stdin?: AgDocument, env: Record<string, string> = {}): Promise<{ code: number; out: AgDocument | undefined; err: string }> {
  const io = createTestIo({ ...(stdin === undefined ? {} : { stdin: JSON.stringify(stdin) }), env: { HOME: dir, PATH: process.env['PATH'], ...env }, cwd: dir });
  const code = await tool(argv, io);
  const text = io.stdoutText().trim();
  return { code, out: text === '' ? undefined : (JSON.parse(text) as AgDocument), err: io.stderrText() };
}

/** A document as ag-fetch plan, ag-bundle unpack and ag-nodeprep leave it on the far side (built by hand). */
function farDocument(): AgDocument {
  const plan = planDocument(bundle, []) as unknown as AgDocument;
  return {
    ...plan,
    fetch: {
      ...plan.fetch!,
      components: { pause: '3.9', etcd: '3.5.7-0', coredns: 'v1.10.1', flannel: 'v0.22.0' },
      files: [{ name: 'kube-flannel.yml', kind: 'manifest', version: 'v0.22.0', source: { url: 'https://github.com/flannel-io/flannel/releases/download/v0.22.0/kube-flannel.yml' }, path: 'files/kube-flannel.yml' }],
    },
    nodeprep: {
      root: '/',
      os: { id: 'debian', version: '12', family: 'debian' },
      skipped: [],
      actions: [],
      changes: 0,
      containerd: { version: '1.6.20', versionSource: 'dpkg status', configVersion: 2, configFile: '/etc/containerd/config.toml', cgroupDriver: 'cgroupfs', registryConfigPath: '/etc/containerd/certs.d', trust: 'ag-registry trust' },
    },
  };
}

const certsD = (): string => join(node, 'etc', 'containerd', 'certs.d');
const pull = (ref: string, namespace = 'default') => containerd.ctr(['images', 'pull', '--hosts-dir', certsD(), '--platform', 'linux/amd64', ref], { namespace });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-site-registry-'));
  bundle = join(dir, 'bundle');
  node = join(dir, 'node');
  await mkdir(join(bundle, 'files'), { recursive: true });
  await copyFile(join(REPO_ROOT, 'packages', 'ag-flannel', 'src', 'testdata', 'kube-flannel.yml'), join(bundle, 'files', 'kube-flannel.yml'));
  const ca = await createTestCa(join(dir, 'ca'));
  [images, site, containerd] = await Promise.all([
    generatedLayout(join(bundle, 'images')).then((layout) => writeKubeadmLikeSet(layout, { uniqueBytes: 64 * 1024, sharedBytes: 128 * 1024 })),
    startRegistry({ auth: 'htpasswd', ca, users: { 'robot-k8s': 'robot-secret', other: 'other-secret' } }),
    startContainerd(),
  ]);
  credentialsFile = join(dir, 'robot-k8s');
  await writeFile(credentialsFile, 'robot-k8s:robot-secret\n', { mode: 0o600 });
  target = `${site.host}/${PREFIX}`;
});

afterAll(async () => {
  await Promise.all([site?.stop(), containerd?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe('a registry the site runs, used under a prefix', () => {
  let trusted: AgDocument;
  let pushed: AgDocument;

  it('trust writes mirrors to https://<host>/v2/<prefix>/<upstream> with override_path, and records the registry in the document', async () => {
    const result = await run(agRegistry, ['trust', '--root', node, '--registry', target, '--ca-file', site.caFile, '--credentials-file', credentialsFile], farDocument());
    expect(result.code, result.err).toBe(0);
    trusted = result.out!;
    expect(trusted.registry).toEqual({ endpoint: site.host, prefix: PREFIX, external: true, caFile: site.caFile, credentialsFile });
    const mirror = parseToml(await readFile(join(certsD(), 'registry.k8s.io', 'hosts.toml'), 'utf8')) as { server: string; host: Record<string, Record<string, unknown>> };
    expect(mirror.server).toBe('https://registry.k8s.io');
    expect(Object.keys(mirror.host)).toEqual([`https://${site.host}/v2/${PREFIX}/registry.k8s.io`]);
    expect(mirror.host[`https://${site.host}/v2/${PREFIX}/registry.k8s.io`]).toMatchObject({ override_path: true, ca: `../${site.host}/ca.crt`, header: { authorization: `Basic ${Buffer.from('robot-k8s:robot-secret').toString('base64')}` } });
  });

  it('push puts every image at <host>/<prefix>/<upstream host>/<path>, from the document alone', async () => {
    const result = await run(agImages, ['push'], trusted);
    expect(result.code, result.err).toBe(0);
    pushed = result.out!;
    expect(pushed.images!.push!.registry).toBe(target);
    for (const image of images) {
      const stored = pushed.images!.images.find((i) => i.ref === image.ref)!;
      expect(stored.internalRef).toBe(`${target}/${image.ref}`);
      // skopeo, the reference client, finds the same digest there.
      const digest = await site.skopeo(['inspect', '--format', '{{.Digest}}', '--cert-dir', site.certDir, '--creds', 'robot-k8s:robot-secret', `docker://${target}/${image.ref}`]);
      expect(digest.stdout.trim()).toBe(image.descriptor.digest);
    }
    // Nothing landed at the registry's root.
    const root = await execa('skopeo', ['inspect', '--raw', '--cert-dir', site.certDir, '--creds', 'robot-k8s:robot-secret', `docker://${site.host}/registry.k8s.io/pause:3.9`], { reject: false });
    expect(root.exitCode).not.toBe(0);
  });

  it('containerd pulls every image of the bundle by its upstream name through the prefixed mirror, and runs one', async () => {
    for (const image of images) await pull(image.ref);
    // REF TYPE DIGEST …: each upstream name holds exactly the digest pushed (no upstream could serve these generated images).
    const listed = (await containerd.ctr(['images', 'ls'])).stdout.split('\n').map((line) => line.split(/\s+/));
    for (const image of images) expect(listed.find(([ref]) => ref === image.ref)?.[2]).toBe(image.descriptor.digest);
    const { stdout } = await containerd.ctr(['run', '--rm', 'ghcr.io/stefanprodan/podinfo:6.4.0', `site-podinfo-${process.pid}`]);
    // The kit's stand-in images print their own name.
    expect(stdout.trim()).toBe('ghcr.io/stefanprodan/podinfo:6.4.0');
  });

  it("kubeadm's internal image repository, dns image repository and sandbox image resolve under the prefix", async () => {
    const result = await run(agKubeadm, ['config', '--image-repository', 'internal', '--root', node, '--advertise-address', '192.168.56.10', '--node-name', 'cp1'], pushed);
    expect(result.code, result.err).toBe(0);
    const kubeadm = result.out!.kubeadm!;
    expect(kubeadm.imageRepository).toBe(`${target}/registry.k8s.io`);
    expect(kubeadm.sandboxImage).toBe(`${target}/registry.k8s.io/pause:3.9`);
    // What kubeadm itself would ask for, read from the file by the kit's kubeadm double (kubeadm's rules).
    const kubeadmBin = await writeKubeadmDouble(join(dir, 'kubeadm-double', 'kubeadm'), { version: 'v1.27.3', root: join(dir, 'kubeadm-double', 'root'), cluster: join(dir, 'kubeadm-double', 'cluster') });
    const listed = await execa(kubeadmBin, ['config', 'images', 'list', '--config', join(node, kubeadm.configFile)]);
    const asked = listed.stdout.split('\n').filter(Boolean);
    expect(asked).toContain(`${target}/registry.k8s.io/coredns/coredns:v1.10.1`);
    expect(asked).toContain(kubeadm.sandboxImage);
    for (const ref of asked) await pull(ref, 'k8s.io');
    const { stdout } = await containerd.ctr(['images', 'ls', '-q'], { namespace: 'k8s.io' });
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual([...asked].sort());
    pushed = result.out!;
  });

  it("flannel's manifest pins its images under the prefix, and they resolve there", async () => {
    const result = await run(agFlannel, ['render', '--registry', 'internal'], pushed);
    expect(result.code, result.err).toBe(0);
    expect(result.out!.flannel!.registry).toBe(target);
    const manifest = await readFile(join(bundle, result.out!.flannel!.manifest), 'utf8');
    const named = manifestImages(manifest);
    expect(named.sort()).toEqual(
      ['docker.io/flannel/flannel-cni-plugin:v1.1.2', 'docker.io/flannel/flannel:v0.22.0'].map((ref) => `${target}/${ref}@${images.find((i) => i.ref === ref)!.descriptor.digest}`).sort(),
    );
    for (const ref of named) await pull(ref, 'k8s.io');
  });

  it('status reports on the registry from outside: TLS valid until when, credentials accepted, every image there (exit 0)', async () => {
    const result = await run(agRegistry, ['status'], pushed);
    expect(result.code, result.err).toBe(0);
    const status = result.out!.registry!.status!;
    expect(status).toMatchObject({ running: true, answering: true, credentialsAccepted: true, tls: { valid: true }, images: { checked: images.length, present: images.length, missing: [] } });
    // The test CA's certificates last two days.
    expect(Date.parse(status.tls.notAfter!) - Date.now()).toBeGreaterThan(24 * 3600_000);
    expect(result.out!.registry).toMatchObject({ endpoint: site.host, prefix: PREFIX, external: true });
  });

  it('status exits 5 naming an image that is not there, 3 for a CA that does not vouch for it, 8 for a refused password, 4 when nothing answers', async () => {
    const extra = structuredClone(pushed);
    extra.images!.images.push({ ...extra.images!.images[0]!, ref: 'quay.io/team/absent:1' });
    const missing = await run(agRegistry, ['status'], extra);
    expect(missing.code, missing.err).toBe(5);
    expect(missing.out!.registry!.status!.images!.missing).toEqual([`${target}/quay.io/team/absent:1`]);
    expect(missing.err).toContain(`${target}/quay.io/team/absent:1`);

    const otherCa = await createTestCa(join(dir, 'other-ca'), 'another CA');
    const tls = await run(agRegistry, ['status', '--registry', target, '--ca-file', otherCa.caCert, '--credentials-file', credentialsFile]);
    expect(tls.code, tls.err).toBe(3);
    expect(tls.out!.registry!.status!.tls.valid).toBe(false);

    const wrong = join(dir, 'wrong');
    await writeFile(wrong, 'robot-k8s:not-the-password\n', { mode: 0o600 });
    const refused = await run(agRegistry, ['status', '--registry', target, '--ca-file', site.caFile, '--credentials-file', wrong]);
    expect(refused.code, refused.err).toBe(8);
    expect(refused.err).toContain(`--credentials-file ${wrong}`);

    const down = await run(agRegistry, ['status', '--registry', '127.0.0.1:9/k8s', '--ca-file', site.caFile]);
    expect(down.code, down.err).toBe(4);
    expect(down.out!.registry!.status!.running).toBe(false);
  });
});

describe('a registry the site reaches through a proxy', () => {
  it('status takes the path a push takes: its TLS check through the proxy HTTPS_PROXY names, around it for a NO_PROXY host', async () => {
    const proxy = await startForwardProxy();
    const closed = 'http://127.0.0.1:9';
    const status = (env: Record<string, string>) => run(agRegistry, ['status', '--registry', target, '--ca-file', site.caFile, '--credentials-file', credentialsFile], undefined, env);
    try {
      const through = await status({ HTTPS_PROXY: proxy.url, NO_PROXY: '' });
      expect(through.code, through.err).toBe(0);
      expect(through.out!.registry!.status!).toMatchObject({ running: true, answering: true, tls: { valid: true } });
      expect(proxy.relayed).toContainEqual({ method: 'CONNECT', target: site.host });

      // A proxy that does not answer: the TLS check says so, rather than reaching the registry around it.
      const nowhere = await status({ HTTPS_PROXY: closed, NO_PROXY: '' });
      expect(nowhere.code, nowhere.err).toBe(4);
      expect(nowhere.out!.registry!.status!).toMatchObject({ running: false, tls: { valid: false } });
      expect(nowhere.out!.registry!.status!.error).toContain(`the proxy ${closed}`);

      const around = await status({ HTTPS_PROXY: closed, NO_PROXY: '127.0.0.1' });
      expect(around.code, around.err).toBe(0);
      expect(around.out!.registry!.status!.tls.valid).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

describe('a registry that needs a project to exist before a push (Harbor)', () => {
  it("says which project to create, from the registry's own refusal (exit 5), and pushes once it exists", async () => {
    const gate = await startHarborProjectGate(site, 'team');
    try {
      // A robot account of that project only, as `podman login harbor/team` stores it in auth.json.
      const authFile = join(dir, 'auth.json');
      await writeFile(authFile, JSON.stringify({ auths: { [`${gate.host}/team`]: { auth: Buffer.from('robot-k8s:robot-secret').toString('base64') } } }));
      const argv = ['push', 'registry.k8s.io/pause:3.9', '--layout', join(bundle, 'images'), '--registry', `${gate.host}/team`, '--ca-file', site.caFile];
      const refused = await run(agImages, argv, undefined, { REGISTRY_AUTH_FILE: authFile });
      expect(refused.code, refused.err).toBe(5);
      expect(refused.err).toContain(`${gate.host} has no project "team" (it answered 404 NOT_FOUND: project team not found)`);
      expect(refused.err).toContain(`create the project "team" on ${gate.host}`);
      expect(gate.refused().length).toBeGreaterThan(0);

      gate.createProject();
      const done = await run(agImages, argv, undefined, { REGISTRY_AUTH_FILE: authFile });
      expect(done.code, done.err).toBe(0);
      const digest = await site.skopeo(['inspect', '--format', '{{.Digest}}', '--cert-dir', site.certDir, '--creds', 'robot-k8s:robot-secret', `docker://${site.host}/team/registry.k8s.io/pause:3.9`]);
      expect(digest.stdout.trim()).toBe(images.find((i) => i.ref === 'registry.k8s.io/pause:3.9')!.descriptor.digest);
    } finally {
      await gate.close();
    }
  });
});
