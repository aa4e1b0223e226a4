import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout, RegistryClient, REFERRER_SUBJECT_ANNOTATION, gcLayout, sha256Digest, type Descriptor } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { createTestCa, echoImage, generatedLayout, LINUX_AMD64, startRegistry, type RegistryFixture } from '@ag/fixtures';
import { main } from './cli.js';

// Signatures and SBOMs as OCI referrers, end to end against Debian's
// docker-registry (distribution 2.8), which has no referrers API: the source
// registry holds them under the referrers tag schema (`sha256-<hex>`, written
// here by hand as the distribution spec describes it), ag-images pull
// --with-referrers finds them there, and push restores them to a second
// registry, writing that registry's referrers tag itself.

const REF = 'example.org/demo/signed:1.0';
const REPOSITORY = 'example.org/demo/signed';
const COSIGN_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SPDX = 'application/spdx+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(Buffer.from('{}')), size: 2 };

let dir: string;
let source: RegistryFixture;
let target: RegistryFixture;
let credentialsFile: string;
let image: Descriptor;
const artifacts: Record<'sig' | 'sbom' | 'sbomSig', Descriptor> = {} as never;

/** Pushes an artifact manifest (empty config, one payload layer) naming `subject`, straight through the registry API. */
async function pushArtifact(client: RegistryClient, artifactType: string, payload: string, subject: Descriptor): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
  const layer = Buffer.from(payload);
  const layerDescriptor = { mediaType: artifactType === SPDX ? SPDX : 'application/vnd.dev.cosign.simplesigning.v1+json', digest: sha256Digest(layer), size: layer.length };
  for (const [blob, bytes] of [
    [EMPTY, Buffer.from('{}')],
    [layerDescriptor, layer],
  ] as const) {
    await client.pushBlob(REPOSITORY, blob, () => Promise.resolve(Readable.from([bytes])));
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType,
    config: EMPTY,
    layers: [layerDescriptor],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '2026-12-03T00:00:00Z' },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  await client.putManifest(REPOSITORY, sha256Digest(bytes), bytes, manifest.mediaType);
  return {
    bytes,
    descriptor: { mediaType: manifest.mediaType, digest: sha256Digest(bytes), size: bytes.length, artifactType, annotations: manifest.annotations },
  };
}

/** The referrers tag index, as a client must write it where the registry has no referrers API (distribution-spec 1.1). */
async function tagReferrers(client: RegistryClient, subject: string, referrers: Descriptor[]): Promise<void> {
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: referrers }));
  await client.putManifest(REPOSITORY, `sha256-${subject.slice('sha256:'.length)}`, index, 'application/vnd.oci.image.index.v1+json');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-images-referrers-'));
  const ca = await createTestCa(join(dir, 'ca'));
  const generated = await generatedLayout(join(dir, 'generated'));
  [source, target] = await Promise.all([startRegistry({ auth: 'none', ca }), startRegistry({ auth: 'htpasswd', ca })]);
  image = await generated.writeImageSpec({ ref: REF, platforms: [echoImage('signed', LINUX_AMD64)], index: true });
  await source.seed(generated.dir, REF);
  const client = new RegistryClient({ registry: source.host, caFiles: [source.caFile], lookupCredentials: false, env: {} });
  try {
    const sig = await pushArtifact(client, COSIGN_SIG, '{"critical":{"image":{"docker-manifest-digest":"x"}}}', image);
    const sbom = await pushArtifact(client, SPDX, '{"spdxVersion":"SPDX-2.3"}', image);
    const sbomSig = await pushArtifact(client, COSIGN_SIG, '{"critical":"sbom"}', sbom.descriptor);
    await tagReferrers(client, image.digest, [sig.descriptor, sbom.descriptor]);
    await tagReferrers(client, sbom.descriptor.digest, [sbomSig.descriptor]);
    Object.assign(artifacts, { sig: sig.descriptor, sbom: sbom.descriptor, sbomSig: sbomSig.descriptor });
  } finally {
    await client.close();
  }
  credentialsFile = join(dir, 'credentials');
  await writeFile(credentialsFile, `${target.credentials!.username}:${target.credentials!.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  const io = createTestIo({ env: { HOME: dir, PATH: process.env['PATH'] }, cwd: dir });
  const code = await main(argv, io);
  return { code, stderr: io.stderrText() };
}

async function referrerIndexEntries(layoutDir: string): Promise<Array<Descriptor & { annotations: Record<string, string> }>> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Array<Descriptor & { annotations: Record<string, string> }> };
  return index.manifests.filter((d) => d.annotations?.[REFERRER_SUBJECT_ANNOTATION] !== undefined);
}

describe('ag-images referrers (registry without the referrers API)', () => {
  const layoutDir = (): string => join(dir, 'layout');

  it('leaves referrers behind by default', async () => {
    const plain = join(dir, 'plain');
    const { code, stderr } = await run(['pull', REF, '--layout', plain, '--platform', 'linux/amd64', '--mirror', source.host, '--ca-file', source.caFile]);
    expect(code, stderr).toBe(0);
    expect(await referrerIndexEntries(plain)).toEqual([]);
  });

  it('pull --with-referrers stores signatures, SBOMs and their own referrers, found under the referrers tag', async () => {
    const { code, stderr } = await run(['pull', REF, '--with-referrers', '--layout', layoutDir(), '--platform', 'linux/amd64', '--mirror', source.host, '--ca-file', source.caFile]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('3 referrer(s)');
    const entries = await referrerIndexEntries(layoutDir());
    const bySubject = entries.map((e) => [e.annotations[REFERRER_SUBJECT_ANNOTATION], e.digest, e.artifactType]).sort();
    expect(bySubject).toEqual(
      [
        [image.digest, artifacts.sig.digest, COSIGN_SIG],
        [image.digest, artifacts.sbom.digest, SPDX],
        [artifacts.sbom.digest, artifacts.sbomSig.digest, COSIGN_SIG],
      ].sort(),
    );
    // Unnamed: tools looking images up by name pass over them; verify walks them (blobs present, hashes right).
    expect(entries.every((e) => e.annotations['org.opencontainers.image.ref.name'] === undefined)).toBe(true);
    const verified = await run(['verify', '--layout', layoutDir()]);
    expect(verified.code, verified.stderr).toBe(0);
    const listed = await run(['list', '--layout', layoutDir()]);
    expect(listed.code, listed.stderr).toBe(0);
    // gc keeps them while their image is there.
    const layout = await OciLayout.open(layoutDir());
    const gc = await gcLayout(layout, { dryRun: true });
    expect(gc.removed).toEqual([]);
    expect(gc.orphanReferrers).toEqual([]);
  });

  it('push restores them after the image, writing the referrers tag the target registry lacks', async () => {
    const { code, stderr } = await run(['push', '--layout', layoutDir(), '--registry', target.host, '--ca-file', target.caFile, '--credentials-file', credentialsFile]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('restored 3 referrer(s)');
    const repository = `${target.host}/${REPOSITORY}`;
    const creds = ['--cert-dir', target.certDir, '--creds', `ag:${target.users['ag']}`];
    const tagged = async (subject: string): Promise<Descriptor[]> => {
      const { stdout } = await target.skopeo(['inspect', '--raw', ...creds, `docker://${repository}:sha256-${subject.slice(7)}`]);
      return (JSON.parse(stdout) as { manifests: Descriptor[] }).manifests;
    };
    expect((await tagged(image.digest)).map((d) => [d.digest, d.artifactType]).sort()).toEqual(
      [
        [artifacts.sig.digest, COSIGN_SIG],
        [artifacts.sbom.digest, SPDX],
      ].sort(),
    );
    expect((await tagged(artifacts.sbom.digest)).map((d) => d.digest)).toEqual([artifacts.sbomSig.digest]);
    // The signature arrived byte for byte, subject intact.
    const { stdout } = await target.skopeo(['inspect', '--raw', ...creds, `docker://${repository}@${artifacts.sig.digest}`]);
    expect(sha256Digest(stdout)).toBe(artifacts.sig.digest);
    expect((JSON.parse(stdout) as { subject: Descriptor }).subject.digest).toBe(image.digest);
    // A second push adds nothing to the tag (no duplicate entries).
    const again = await run(['push', '--layout', layoutDir(), '--registry', target.host, '--ca-file', target.caFile, '--credentials-file', credentialsFile]);
    expect(again.code, again.stderr).toBe(0);
    expect(await tagged(image.digest)).toHaveLength(2);
  });

  it('gc drops the referrers with their image', async () => {
    const layout = await OciLayout.open(layoutDir());
    expect(await layout.removeEntries([REF])).toBe(1);
    const gc = await gcLayout(layout);
    expect(gc.orphanReferrers.sort()).toEqual([artifacts.sig.digest, artifacts.sbom.digest, artifacts.sbomSig.digest].sort());
    expect(await referrerIndexEntries(layoutDir())).toEqual([]);
    expect(await layout.hasBlob(artifacts.sig)).toBe(false);
    expect(await layout.hasBlob(EMPTY)).toBe(false);
  });
});
