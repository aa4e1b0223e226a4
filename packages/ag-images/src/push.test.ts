import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import {
  createTestCa,
  echoImage,
  generatedLayout,
  LINUX_AMD64,
  LINUX_ARM64,
  REAL_CONTAINERDS,
  startContainerd,
  startRegistry,
  writeKubeadmLikeSet,
  writeWindowsImage,
  type GeneratedImage,
  type PrivateContainerd,
  type RegistryFixture,
} from '@ag/fixtures';
import { main } from './cli.js';

// The far side: a layout (written by the test kit's generator, not by ag) is
// pushed by ag-images to an internal registry (distribution, TLS, htpasswd);
// containerd pulls through a hosts.toml mirror for the upstream name and runs
// it; ag pulls it back, and ag-images import loads that layout into containerd.

let dir: string;
let generated: string;
let images: GeneratedImage[];
let internal: RegistryFixture;
let containerd: PrivateContainerd;
/** Every real containerd (Debian 12's 1.6, unstable's 2.x) by name, with the ctr that talks to it: `ag-images import` must load into each. */
const importTargets = new Map<string, { containerd: PrivateContainerd; ctr: string }>();
let credentialsFile: string;
let foreignLayer: string | undefined;
const WINDOWS = 'mcr.microsoft.com/windows/nanoserver:1809';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-images-push-'));
  const ca = await createTestCa(join(dir, 'ca'));
  generated = join(dir, 'bundle', 'images');
  const layout = await generatedLayout(generated);
  [images, internal, containerd] = await Promise.all([
    writeKubeadmLikeSet(layout, { uniqueBytes: 128 * 1024, sharedBytes: 256 * 1024 }),
    startRegistry({ auth: 'htpasswd', ca }),
    startContainerd(),
  ]);
  importTargets.set(REAL_CONTAINERDS[0]!.name, { containerd, ctr: 'ctr' });
  for (const real of REAL_CONTAINERDS.slice(1)) {
    const { binDir } = await real.obtain();
    importTargets.set(real.name, { containerd: await startContainerd(binDir === undefined ? {} : { binDir }), ctr: binDir === undefined ? 'ctr' : join(binDir, 'ctr') });
  }
  await writeWindowsImage(layout, { ref: WINDOWS, foreignBlobDir: join(dir, 'foreign'), urlPrefix: 'http://127.0.0.1:9/blobs' });
  // The layout stores the foreign layer, as a pull with --allow-nondistributable-artifacts leaves it.
  [foreignLayer] = await readdir(join(dir, 'foreign'));
  await copyFile(join(dir, 'foreign', foreignLayer!), join(generated, 'blobs', 'sha256', foreignLayer!));
  credentialsFile = join(dir, 'credentials');
  await writeFile(credentialsFile, `${internal.credentials!.username}:${internal.credentials!.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all([internal?.stop(), ...[...importTargets.values()].map((target) => target.containerd.stop())]);
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], stdin?: unknown): Promise<{ code: number; document: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ stdin: stdin === undefined ? undefined : JSON.stringify(stdin), env: { HOME: dir, PATH: process.env['PATH'] }, cwd: dir });
  const code = await main(argv, io);
  const out = io.stdoutText().trim();
  return { code, document: out === '' ? undefined : (JSON.parse(out) as AgDocument), stderr: io.stderrText() };
}

const toInternal = (): string[] => ['--registry', internal.host, '--ca-file', internal.caFile, '--credentials-file', credentialsFile];

async function skopeoDigest(ref: string): Promise<string> {
  const { stdout } = await internal.skopeo(['inspect', '--raw', '--cert-dir', internal.certDir, '--creds', `ag:${internal.users['ag']}`, `docker://${ref}`]);
  return sha256Digest(stdout);
}

describe('ag-images push', () => {
  it('shows with --dry-run what it would upload and mount, and sends nothing', async () => {
    const { code, stderr } = await run(['push', '--layout', generated, '--dry-run', ...toInternal()]);
    expect(code, stderr).toBe(0);
    const plan = JSON.parse(stderr.split('\n').find((l) => l.startsWith('{"dryRun"'))!) as { actions: Array<{ action: string; repository: string }> };
    expect(plan.actions.filter((a) => a.action === 'upload-blob').length).toBeGreaterThan(10);
    expect(plan.actions.filter((a) => a.action === 'mount-blob').length).toBeGreaterThan(10);
    expect(plan.actions.some((a) => a.action === 'skip-foreign-layer')).toBe(true);
    await expect(skopeoDigest(`${internal.host}/registry.k8s.io/pause:3.9`)).rejects.toThrow(/manifest unknown|not found/i);
  });

  it('pushes every image as <registry>/<upstream host>/<path>:<tag>, digests unchanged, shared layers mounted', async () => {
    const { code, document, stderr } = await run(['push', '--layout', generated, ...toInternal()]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/mounted [1-9]\d*/);
    const stored = document!.images!.images;
    expect(stored).toHaveLength(images.length + 1);
    for (const image of images) {
      const record = stored.find((s) => s.ref === image.ref)!;
      expect(record.internalRef).toBe(`${internal.host}/${image.ref}`);
      expect(await skopeoDigest(record.internalRef!)).toBe(image.descriptor.digest);
    }
    expect(document!.images!.push?.registry).toBe(internal.host);
    // The Windows image's foreign layer stays a reference: the registry was told its URL, not sent its bytes,
    // and push says which stored layer it left out.
    expect(stored.find((s) => s.ref === WINDOWS)?.internalRef).toBe(`${internal.host}/${WINDOWS}`);
    expect(stderr).toMatch(new RegExp(`left out 1 foreign layer\\(s\\) the layout stores: sha256:${foreignLayer} \\([^,]+, ${WINDOWS.replace(/[./]/g, '\\$&')}\\)`));
    await expect(skopeoDigest(`${internal.host}/${WINDOWS}`)).resolves.toMatch(/^sha256:/);
  });

  it('sends nothing the second time', async () => {
    const { code, stderr } = await run(['push', '--layout', generated, ...toInternal()]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`uploaded 0 blob\\(s\\), 0 B; mounted 0; 0 blob\\(s\\) and ${images.length + 1} image\\(s\\) already there`));
  });

  it('finishes and writes the document when that document names no bundle root', async () => {
    const { code, document, stderr } = await run(['push', 'registry.k8s.io/pause:3.9', '--layout', generated, ...toInternal()], { apiVersion: 'ag/v1alpha1', kind: 'Cluster', note: 'kept' });
    expect(code, stderr).toBe(0);
    expect(document).toMatchObject({ note: 'kept', images: { layout: 'images', push: { registry: internal.host } } });
    expect(document!.root).toBeUndefined();
    expect(document!.images!.images.find((i) => i.ref === 'registry.k8s.io/pause:3.9')!.internalRef).toBe(`${internal.host}/registry.k8s.io/pause:3.9`);
  });

  it('exits 8 when the registry refuses the credentials file, naming the registry and the file', async () => {
    const wrong = join(dir, 'wrong-credentials');
    await writeFile(wrong, 'ag:not-the-password\n', { mode: 0o600 });
    const { code, stderr } = await run(['push', 'registry.k8s.io/pause:3.9', '--layout', generated, '--registry', internal.host, '--ca-file', internal.caFile, '--credentials-file', wrong]);
    expect(code, stderr).toBe(8);
    expect(stderr).toContain(`${internal.host} refused the credentials of "ag" from --credentials-file ${wrong}`);
    expect(stderr).not.toContain('not-the-password');
  });

  it('is pulled by containerd through a hosts.toml mirror for the upstream name, and runs', async () => {
    const certsDir = join(dir, 'certs.d');
    await mkdir(join(certsDir, 'registry.k8s.io'), { recursive: true });
    const basic = Buffer.from(`${internal.credentials!.username}:${internal.credentials!.password}`).toString('base64');
    await writeFile(
      join(certsDir, 'registry.k8s.io', 'hosts.toml'),
      [
        'server = "https://registry.k8s.io"',
        '',
        `[host."https://${internal.host}/v2/registry.k8s.io"]`,
        '  capabilities = ["pull", "resolve"]',
        `  ca = "${internal.caFile}"`,
        '  override_path = true',
        `  [host."https://${internal.host}/v2/registry.k8s.io".header]`,
        `    Authorization = "Basic ${basic}"`,
        '',
      ].join('\n'),
    );
    const ref = 'registry.k8s.io/kube-proxy:v1.27.3';
    await containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, ref], { timeoutMs: 120_000 });
    const { stdout } = await containerd.ctr(['run', '--rm', ref, 'ag-push-mirror']);
    expect(stdout.trim()).toBe(ref);
    const listed = await containerd.ctr(['images', 'ls']);
    expect(listed.stdout).toContain(images.find((i) => i.ref === ref)!.descriptor.digest);
  });

  it('is pulled back by ag-images, every digest unchanged', async () => {
    const pulled = await run(['pull', ...images.map((i) => i.ref), '--all-platforms', '--layout', join(dir, 'back', 'images'), '--mirror', internal.host, '--ca-file', internal.caFile, '--username', 'ag', '--credentials-file', credentialsFile]);
    expect(pulled.code, pulled.stderr).toBe(0);
    for (const image of pulled.document!.images!.images) {
      expect(image.digest).toBe(images.find((i) => i.ref === image.ref)!.descriptor.digest);
    }
  });

  it.each(REAL_CONTAINERDS.map((real) => real.name))('that layout is imported into %s and runs', async (name) => {
    const { containerd: target, ctr } = importTargets.get(name)!;
    const ref = 'ghcr.io/stefanprodan/podinfo:6.4.0';
    const imported = await run(['import', ref, '--layout', join(dir, 'back', 'images'), '--containerd-address', target.address, '--namespace', 'k8s.io', '--ctr', ctr]);
    expect(imported.code, imported.stderr).toBe(0);
    const listed = await target.ctr(['images', 'ls', '-q'], { namespace: 'k8s.io' });
    expect(listed.stdout.split('\n')).toContain(ref);
    const { stdout } = await target.ctr(['run', '--rm', ref, 'ag-import-run'], { namespace: 'k8s.io' });
    expect(stdout.trim()).toBe(ref);
  });

  it.each(REAL_CONTAINERDS.map((real) => real.name))('import into %s skips, naming them, images with nothing for this host\'s platform; named on the command line, it refuses before importing anything', async (name) => {
    const { containerd: target, ctr } = importTargets.get(name)!;
    const mixed = join(dir, 'mixed', 'images');
    const layout = await generatedLayout(mixed);
    await layout.writeImageSpec({ ref: 'example.org/both:1', mediaTypes: 'oci', platforms: [echoImage('both', LINUX_AMD64), echoImage('both', LINUX_ARM64)] });
    // An index with only the other architecture: ctr would fail part-way on it ("no match for platform in manifest").
    const [host, other] = process.arch === 'arm64' ? ['linux/arm64', LINUX_AMD64] : ['linux/amd64', LINUX_ARM64];
    const otherText = other.variant ? `linux/${other.architecture}/${other.variant}` : `linux/${other.architecture}`;
    await layout.writeImageSpec({ ref: 'example.org/other-arch:1', mediaTypes: 'oci', index: true, platforms: [echoImage('other', other)] });
    const ns = 'import-skip';
    const all = await run(['import', '--layout', mixed, '--containerd-address', target.address, '--namespace', ns, '--ctr', ctr]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stderr).toContain(`skipping example.org/other-arch:1: it has no ${host} content in the layout (it has ${otherText})`);
    expect(all.stderr).toContain('skipped 1 with nothing for this platform');
    const listed = (await target.ctr(['images', 'ls', '-q'], { namespace: ns })).stdout.split('\n');
    expect(listed).toContain('example.org/both:1');
    expect(listed).not.toContain('example.org/other-arch:1');
    const ran = await target.ctr(['run', '--rm', 'example.org/both:1', 'ag-import-both'], { namespace: ns });
    expect(ran.stdout.trim()).toBe('both');

    const named = await run(['import', 'example.org/other-arch:1', 'example.org/both:1', '--layout', mixed, '--containerd-address', target.address, '--namespace', 'import-refused', '--ctr', ctr]);
    expect(named.code).toBe(5);
    expect(named.stderr).toContain(`example.org/other-arch:1 has no ${host} content in the layout (it has ${otherText})`);
    expect(named.stderr).toMatch(/--platform|--all-platforms/);
    expect(named.stderr).not.toMatch(/is containerd running/);
    expect((await target.ctr(['images', 'ls', '-q'], { namespace: 'import-refused' })).stdout.trim()).toBe('');

    // A failure that is containerd's own says so: no socket there.
    const noSocket = await run(['import', 'example.org/both:1', '--layout', mixed, '--containerd-address', join(dir, 'no.sock'), '--ctr', ctr]);
    expect(noSocket.code).toBe(7);
    expect(noSocket.stderr).toMatch(/is containerd running/);
  });
});
