import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout, sha256Digest, verifyLayout, walkImages, type AgDocument, type StoredImage } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { UPSTREAM_DIGEST_ANNOTATION } from './pull.js';
import { planDocument, startTestUpstream, WINDOWS_TEST_REF as WINDOWS_REF, type TestUpstream } from '@ag/fixtures';

let upstream: TestUpstream;
let root: string;

beforeAll(async () => {
  upstream = await startTestUpstream({ auth: 'token' });
  root = await mkdtemp(join(upstream.dir, 'bundle-'));
});

afterAll(async () => {
  await upstream?.stop();
});

/** Runs ag-images in-process; returns the exit code, the document on stdout (if any) and stderr. */
async function run(argv: string[], stdin?: unknown): Promise<{ code: number; document: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ stdin: stdin === undefined ? undefined : JSON.stringify(stdin), env: upstream.env, cwd: upstream.dir });
  const code = await main(argv, io);
  const out = io.stdoutText().trim();
  return { code, document: out === '' ? undefined : (JSON.parse(out) as AgDocument), stderr: io.stderrText() };
}

const connection = (): string[] => ['--mirror', upstream.registry.host, '--ca-file', upstream.registry.caFile];

function generatedDigest(ref: string): string {
  const image = upstream.images.find((i) => i.ref === ref);
  if (image === undefined) throw new Error(`no generated image ${ref}`);
  return image.descriptor.digest;
}

describe('ag-images pull', () => {
  it("pulls the document's images for its architectures, keeping upstream's indexes byte for byte", async () => {
    const refs = upstream.images.map((i) => i.ref);
    const { code, document, stderr } = await run(['pull', ...connection()], planDocument(root, refs, ['amd64', 'arm64']));
    expect(code, stderr).toBe(0);
    expect(document?.images?.layout).toBe('images');
    expect(document?.images?.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect((document as unknown as { unknownField: unknown }).unknownField).toEqual({ kept: true });
    const stored = document!.images!.images;
    expect(stored.map((i) => i.ref).sort()).toEqual([...refs].sort());
    for (const image of stored) {
      // Both platforms of a two-platform index: upstream's own index, Docker or OCI, unchanged.
      expect(image).toMatchObject({ digest: generatedDigest(image.ref), upstreamDigest: generatedDigest(image.ref), partial: false });
      expect(image.manifests.map((m) => m.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    }
    const mixed = new Set(stored.map((i) => i.mediaType));
    expect(mixed).toEqual(new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']));
    const layout = await OciLayout.open(join(root, 'images'));
    const report = await verifyLayout(layout);
    expect(report.problems).toEqual([]);
    // Shared base layers are stored once: the layout holds exactly the blobs these images reach upstream, each once.
    const graph = await walkImages(await OciLayout.open(upstream.generated), upstream.images.map((i) => i.descriptor));
    expect((await readdir(layout.blobDir)).sort()).toEqual([...graph.descriptors.keys()].map((d) => d.slice(7)).sort());
  });

  it('is read by skopeo: OCI-typed images by name, exactly as upstream serves them', async () => {
    const layoutDir = join(root, 'images');
    const oci = upstream.images.filter((i) => i.mediaTypes === 'oci');
    expect(oci.length).toBeGreaterThan(2);
    for (const image of oci) {
      const inspect = spawnSync('skopeo', ['inspect', '--raw', `oci:${layoutDir}:${image.ref}`], { encoding: 'utf8' });
      expect(inspect.status, inspect.stderr).toBe(0);
      expect(sha256Digest(inspect.stdout)).toBe(image.descriptor.digest);
    }
    const copy = spawnSync('skopeo', ['copy', '--all', '--preserve-digests', '--insecure-policy', `oci:${layoutDir}:${oci[0]!.ref}`, `dir:${join(root, 'skopeo-copy')}`], {
      encoding: 'utf8',
    });
    expect(copy.status, copy.stderr).toBe(0);
  });

  it('does nothing on a re-run but re-read the tags, fast', async () => {
    const refs = upstream.images.map((i) => i.ref);
    const indexBefore = await readFile(join(root, 'images', 'index.json'), 'utf8');
    const started = Date.now();
    const { code, stderr, document } = await run(['pull', ...connection()], planDocument(root, refs, ['amd64', 'arm64']));
    const took = Date.now() - started;
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/fetched 0 blob\(s\), 0 B; \d+ already there/);
    expect(document?.images?.images).toHaveLength(refs.length);
    expect(await readFile(join(root, 'images', 'index.json'), 'utf8')).toBe(indexBefore);
    expect(took).toBeLessThan(3000);
  });

  it('keeps a subset of platforms as a new index of upstream manifests, recording both digests', async () => {
    const ref = 'registry.k8s.io/pause:3.9';
    const layoutDir = join(root, 'arm-only');
    const { code, document, stderr } = await run(['pull', ref, '--platform', 'linux/arm64', '--layout', layoutDir, ...connection()], planDocument(root, []));
    expect(code, stderr).toBe(0);
    const image = document!.images!.images.find((i) => i.ref === ref) as StoredImage;
    expect(image.partial).toBe(true);
    expect(image.upstreamDigest).toBe(generatedDigest(ref));
    expect(image.digest).not.toBe(image.upstreamDigest);
    const upstreamIndex = JSON.parse(await readFile(join(upstream.generated, 'blobs', 'sha256', generatedDigest(ref).slice(7)), 'utf8')) as {
      manifests: Array<{ digest: string; platform: { architecture: string } }>;
    };
    const arm = upstreamIndex.manifests.find((m) => m.platform.architecture === 'arm64')!;
    expect(image.manifests).toEqual([expect.objectContaining({ platform: 'linux/arm64/v8', digest: arm.digest })]);
    const layout = await OciLayout.open(layoutDir);
    const entry = (await layout.entries()).find((e) => e.ref === ref)!;
    expect(entry.descriptor.annotations?.[UPSTREAM_DIGEST_ANNOTATION]).toBe(image.upstreamDigest);
    expect((await verifyLayout(layout)).problems).toEqual([]);
  });

  it('keeps an index pinned by its digest whole (so the far side serves that digest); --subset-pinned subsets it, warning, with both digests', async () => {
    const pinned = `registry.k8s.io/pause@${generatedDigest('registry.k8s.io/pause:3.9')}`;
    const whole = await run(['pull', pinned, '--platform', 'linux/arm64', '--layout', join(root, 'pinned'), ...connection()]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.stderr).toContain(`${pinned} is pinned by its index digest: keeping all 2 platforms`);
    const kept = whole.document!.images!.images.find((i) => i.ref === pinned)!;
    expect(kept).toMatchObject({ digest: generatedDigest('registry.k8s.io/pause:3.9'), upstreamDigest: generatedDigest('registry.k8s.io/pause:3.9'), partial: false });
    expect(kept.manifests.map((m) => m.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect((await verifyLayout(await OciLayout.open(join(root, 'pinned')))).problems).toEqual([]);

    const subset = await run(['pull', pinned, '--platform', 'linux/arm64', '--subset-pinned', '--layout', join(root, 'pinned-subset'), ...connection()]);
    expect(subset.code, subset.stderr).toBe(0);
    expect(subset.stderr).toMatch(/warn.*pinned by its index digest, and only 1 of its 2 platforms are kept \(--subset-pinned\).*the far side cannot serve sha256:/i);
    const cut = subset.document!.images!.images.find((i) => i.ref === pinned)!;
    expect(cut).toMatchObject({ upstreamDigest: generatedDigest('registry.k8s.io/pause:3.9'), partial: true });
    expect(cut.digest).not.toBe(cut.upstreamDigest);
    expect(cut.manifests.map((m) => m.platform)).toEqual(['linux/arm64/v8']);
  });

  it('keeps for each image the asked platforms it has: a Linux image in a run that also asks for Windows, and the other way round', async () => {
    const layoutDir = join(root, 'mixed-os');
    const { code, document, stderr } = await run(
      ['pull', 'registry.k8s.io/pause:3.9', WINDOWS_REF, '--platform', 'linux/arm64', '--platform', 'windows/amd64', '--layout', layoutDir, ...connection()],
      planDocument(root, []),
    );
    expect(code, stderr).toBe(0);
    const images = document!.images!.images;
    expect(images.find((i) => i.ref === 'registry.k8s.io/pause:3.9')!.manifests.map((m) => m.platform)).toEqual(['linux/arm64/v8']);
    expect(images.find((i) => i.ref === WINDOWS_REF)!.manifests.map((m) => m.platform)).toEqual(['windows/amd64:10.0.17763.4974']);
    expect(stderr).toMatch(/registry\.k8s\.io\/pause:3\.9: linux\/arm64\/v8 \(.*; it has no windows\/amd64\)/);
    expect(stderr).toMatch(new RegExp(`${WINDOWS_REF.replace(/[./]/g, '\\$&')}: windows/amd64:10\\.0\\.17763\\.4974 \\(.*; it has no linux/arm64\\)`));
    expect(document!.images!.platforms).toEqual(['linux/arm64', 'windows/amd64']);
  });

  it('counts as already there only the blobs that were there before it ran', async () => {
    // A single-platform manifest: its config is fetched first (to learn the platform), which is still fetching.
    const index = JSON.parse(await readFile(join(upstream.generated, 'blobs', 'sha256', generatedDigest('registry.k8s.io/etcd:3.5.7-0').slice(7)), 'utf8')) as {
      manifests: Array<{ digest: string; platform: { architecture: string } }>;
    };
    const manifest = index.manifests.find((m) => m.platform.architecture === 'amd64')!.digest;
    const layoutDir = join(root, 'single');
    const first = await run(['pull', `registry.k8s.io/etcd@${manifest}`, '--layout', layoutDir, ...connection()]);
    expect(first.code, first.stderr).toBe(0);
    const blobs = (await readdir(join(layoutDir, 'blobs', 'sha256'))).length - 1; // all but the manifest
    expect(first.stderr).toMatch(new RegExp(`fetched ${blobs} blob\\(s\\), [^;]+; 0 already there`));
    const second = await run(['pull', `registry.k8s.io/etcd@${manifest}`, '--layout', layoutDir, ...connection()]);
    expect(second.stderr).toMatch(new RegExp(`fetched 0 blob\\(s\\), 0 B; ${blobs} already there`));
  });

  it('leaves a foreign layer as a reference by default, and fetches it from its URL when allowed', async () => {
    const layoutDir = join(root, 'windows');
    const first = await run(['pull', WINDOWS_REF, '--platform', 'windows/amd64', '--layout', layoutDir, ...connection()], planDocument(root, []));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/1 foreign layer\(s\) left as references/);
    const image = first.document!.images!.images.find((i) => i.ref === WINDOWS_REF)!;
    expect(image.manifests.map((m) => m.platform)).toEqual(['windows/amd64:10.0.17763.4974']);
    const layout = await OciLayout.open(layoutDir);
    const report = await verifyLayout(layout);
    expect(report).toMatchObject({ problems: [], foreign: 1 });
    expect(upstream.files.requests).toHaveLength(0);

    const second = await run(['pull', WINDOWS_REF, '--platform', 'windows/amd64', '--layout', layoutDir, '--allow-nondistributable-artifacts', ...connection()], planDocument(root, []));
    expect(second.code, second.stderr).toBe(0);
    expect(upstream.files.requests.filter((r) => r.outcome === 200)).toHaveLength(1);
    expect(upstream.files.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(await verifyLayout(layout)).toMatchObject({ problems: [], foreign: 0 });
  });

  it('never guesses a bundle root from --layout: X/images does not make X the root; a layout outside the root fails before any work', async () => {
    const home = await mkdtemp(join(upstream.dir, 'home-'));
    const { code, document, stderr } = await run(['pull', 'registry.k8s.io/pause:3.9', '--layout', join(home, 'images'), ...connection()]);
    expect(code, stderr).toBe(0);
    expect(document!.root).toBeUndefined();
    expect(document!.images).toMatchObject({ layout: 'images', images: [expect.objectContaining({ ref: 'registry.k8s.io/pause:3.9' })] });
    expect(stderr).toContain('the document names no bundle root, and none is guessed');

    const outside = join(upstream.dir, 'elsewhere', 'images');
    const refused = await run(['pull', 'registry.k8s.io/pause:3.9', '--layout', outside, ...connection()], planDocument(root, []));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`the layout ${outside} is outside the bundle root ${root}`);
    expect(existsSync(outside)).toBe(false);
  });

  it('prints what it would fetch with --dry-run and writes nothing', async () => {
    const layoutDir = join(root, 'dry');
    const { code, stderr, document } = await run(['pull', 'registry.k8s.io/etcd:3.5.7-0', '--layout', layoutDir, '--dry-run', ...connection()]);
    expect(code, stderr).toBe(0);
    expect(document).toBeUndefined();
    const plan = JSON.parse(stderr.split('\n').find((line) => line.startsWith('{"dryRun"'))!) as { actions: Array<{ action: string }> };
    expect(plan.actions.filter((a) => a.action === 'fetch-blob').length).toBeGreaterThan(2);
    expect(existsSync(layoutDir)).toBe(false);
  });

  it('names what is missing: a platform upstream lacks (exit 5, listing what it has), an unknown image', async () => {
    const noPlatform = await run(['pull', 'registry.k8s.io/pause:3.9', '--platform', 'linux/s390x', '--layout', join(root, 'x'), ...connection()]);
    expect(noPlatform.code).toBe(5);
    expect(noPlatform.stderr).toMatch(/has no image for linux\/s390x \(it has linux\/amd64, linux\/arm64\/v8\)/);
    const unknown = await run(['pull', 'registry.k8s.io/nope:1.0', '--layout', join(root, 'x'), ...connection()]);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/pulling registry\.k8s\.io\/nope:1\.0 \(from 127\.0\.0\.1:\d+\/registry\.k8s\.io\/nope\)/);
    await rm(join(root, 'x'), { recursive: true, force: true });
  });

  it('exits 8 when the registry refuses the credentials, naming the registry and where they came from', async () => {
    const registry = upstream.registry.host;
    const layoutDir = join(root, 'refused');
    // None anywhere: says where it looked.
    const home = await mkdtemp(join(upstream.dir, 'nobody-'));
    const none = createTestIo({ env: { HOME: home, PATH: process.env['PATH'] }, cwd: upstream.dir });
    expect(await main(['pull', 'registry.k8s.io/pause:3.9', '--layout', layoutDir, ...connection()], none)).toBe(8);
    expect(none.stderrText()).toContain(`${registry} requires credentials, and none were found for it (looked in ${join(home, '.config', 'containers', 'auth.json')}, ${join(home, '.docker', 'config.json')})`);
    // A wrong password in an auth file: names the file and its entry.
    const authFile = join(home, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [registry]: { auth: Buffer.from('ag:wrong').toString('base64') } } }));
    const wrongFile = createTestIo({ env: { HOME: home, REGISTRY_AUTH_FILE: authFile, PATH: process.env['PATH'] }, cwd: upstream.dir });
    expect(await main(['pull', 'registry.k8s.io/pause:3.9', '--layout', layoutDir, ...connection()], wrongFile)).toBe(8);
    expect(wrongFile.stderrText()).toContain(`${registry} refused the credentials of "ag" from ${authFile} (${registry})`);
    // A wrong password on the command line: names the flags.
    const wrongFlag = createTestIo({ stdin: 'wrong\n', env: { HOME: home, PATH: process.env['PATH'] }, cwd: upstream.dir });
    expect(await main(['pull', 'registry.k8s.io/pause:3.9', '--layout', layoutDir, '--username', 'ag', '--password-stdin', ...connection()], wrongFlag)).toBe(8);
    expect(wrongFlag.stderrText()).toContain(`${registry} refused the credentials of "ag" from --username with --password-stdin`);
    expect(wrongFlag.stderrText()).not.toContain('wrong');
  });

  it('takes --username with --password-stdin for the one registry it contacts', async () => {
    const { username, password } = upstream.registry.credentials!;
    const io = createTestIo({ stdin: `${password}\n`, env: { HOME: upstream.dir, PATH: process.env['PATH'] }, cwd: upstream.dir });
    const layoutDir = join(root, 'creds');
    const code = await main(['pull', 'registry.k8s.io/pause:3.9', '--layout', layoutDir, '--username', username, '--password-stdin', ...connection()], io);
    expect(code, io.stderrText()).toBe(0);
    expect(await (await OciLayout.open(layoutDir)).resolve('registry.k8s.io/pause:3.9')).toBeDefined();
    expect(upstream.registry.tokenServer!.requests.some((r) => r.user === username && r.granted)).toBe(true);
  });
});
