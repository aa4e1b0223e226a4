import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listReferrers, RegistryClient, sha256Digest, type Descriptor } from '@ag/core';
import { COSIGN_SIG_ARTIFACT as SIG, echoImage, generatedLayout, LINUX_AMD64, SPDX_ARTIFACT as SPDX, writeReferrerArtifact } from '@ag/fixtures';
import type { EmbeddedServer } from './embedded/server.js';
import { startTestEmbeddedServer } from './testing/embedded-server.js';

// The embedded registry answers the referrers API (distribution-spec 1.1) from
// the referrers a layout holds (as ag-images pull --with-referrers stores
// them), so a client finds an image's signature and SBOM there without the
// referrers tag. Read through ag's registry client, which would fall back to
// the tag on a 404.

const REF = 'example.org/demo/signed:1.0';
const REPOSITORY = 'example.org/demo/signed';

let dir: string;
let server: EmbeddedServer;
let client: RegistryClient;
let image: Descriptor;
const artifacts: Record<string, Descriptor> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-referrers-'));
  const layoutDir = join(dir, 'images');
  const generated = await generatedLayout(layoutDir);
  image = await generated.writeImageSpec({ ref: REF, platforms: [echoImage('signed', LINUX_AMD64)], index: true });
  artifacts['sig'] = await writeReferrerArtifact(generated, SIG, '{"critical":"image"}', image);
  artifacts['sbom'] = await writeReferrerArtifact(generated, SPDX, '{"spdxVersion":"SPDX-2.3"}', image);
  artifacts['sbomSig'] = await writeReferrerArtifact(generated, SIG, '{"critical":"sbom"}', artifacts['sbom']);
  // A referrer of something no image holds is not served.
  const nothing = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest('nothing'), size: 7 };
  artifacts['stray'] = await writeReferrerArtifact(generated, SIG, '{"critical":"stray"}', nothing);

  const started = await startTestEmbeddedServer(dir, layoutDir);
  server = started.server;
  const paths = started.paths;
  const [username, password] = started.creds.split(':') as [string, string];
  client = new RegistryClient({
    registry: `127.0.0.1:${server.address.port}`,
    caFiles: [paths.caCert],
    credentials: { username, password },
    env: {},
  });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded registry serves referrers', () => {
  it('lists an image\'s referrers through the API, with their artifactType and annotations, not ag\'s own', async () => {
    const { descriptors, via } = await listReferrers(client, REPOSITORY, image.digest);
    expect(via).toBe('api');
    expect(descriptors.map((d) => [d.digest, d.artifactType]).sort()).toEqual(
      [
        [artifacts['sig']!.digest, SIG],
        [artifacts['sbom']!.digest, SPDX],
      ].sort(),
    );
    expect(descriptors.every((d) => JSON.stringify(d.annotations) === JSON.stringify({ 'org.opencontainers.image.title': d.artifactType }))).toBe(true);
    // Referrers of referrers, and an empty index for a manifest without any.
    expect((await listReferrers(client, REPOSITORY, artifacts['sbom']!.digest)).descriptors.map((d) => d.digest)).toEqual([artifacts['sbomSig']!.digest]);
    expect(await listReferrers(client, REPOSITORY, artifacts['sig']!.digest)).toEqual({ descriptors: [], via: 'api' });
  });

  it('filters by artifactType, and serves the referrer manifests and blobs by digest', async () => {
    const url = `${client.baseUrl}/v2/${REPOSITORY}/referrers/${image.digest}?artifactType=${encodeURIComponent(SPDX)}`;
    const page = await client.getReferrersPage(REPOSITORY, image.digest, url);
    expect(page).toBeDefined();
    const filtered = JSON.parse(page!.bytes.toString()) as { manifests: Descriptor[] };
    expect(filtered.manifests.map((d) => d.digest)).toEqual([artifacts['sbom']!.digest]);
    const manifest = await client.getManifest(REPOSITORY, artifacts['sig']!.digest);
    expect(manifest.digest).toBe(artifacts['sig']!.digest);
    const config = (JSON.parse(manifest.bytes.toString()) as { config: Descriptor }).config;
    expect(await client.hasBlob(REPOSITORY, config)).toBe(true);
  });

  it('leaves out a referrer whose subject no image holds, naming it', async () => {
    const catalog = await server.catalog();
    expect(catalog.skipped.join('\n')).toContain(artifacts['stray']!.digest);
    expect(catalog.skipped.join('\n')).not.toContain('no full image name');
    expect(await client.headManifest(REPOSITORY, artifacts['stray']!.digest)).toBeUndefined();
  });
});
