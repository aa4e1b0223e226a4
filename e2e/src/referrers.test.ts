import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFERRER_SUBJECT_ANNOTATION, type Descriptor } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import {
  COSIGN_SIG_ARTIFACT,
  createTestCa,
  echoImage,
  generatedLayout,
  LINUX_AMD64,
  SPDX_ARTIFACT,
  startRegistry,
  writeReferrerArtifact,
  type RegistryFixture,
} from '@ag/fixtures';
import { main as agImages } from 'ag-images';
import type { EmbeddedServer } from 'ag-registry';
import { startTestEmbeddedServer } from 'ag-registry/testing';

// Referrers through the referrers API, across ag's own parts: ag-registry's
// embedded registry serves a layout holding an image, its signature and its
// SBOM (and the SBOM's signature) through GET /v2/<name>/referrers/<digest>;
// it has no `sha256-<hex>` tag, so only the API can find them. ag-images pull
// --with-referrers takes them into a new layout, and push hands them to
// Debian's docker-registry, which has no referrers API: push writes the tag.

const REF = 'example.org/demo/signed:1.0';

let dir: string;
let embedded: EmbeddedServer;
let embeddedCa: string;
let embeddedCreds: string;
let target: RegistryFixture;
let targetCreds: string;
let image: Descriptor;
const artifacts: Record<string, Descriptor> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-e2e-referrers-'));
  const served = await generatedLayout(join(dir, 'served'));
  image = await served.writeImageSpec({ ref: REF, platforms: [echoImage('signed', LINUX_AMD64)], index: true });
  artifacts['sig'] = await writeReferrerArtifact(served, COSIGN_SIG_ARTIFACT, '{"critical":"image"}', image);
  artifacts['sbom'] = await writeReferrerArtifact(served, SPDX_ARTIFACT, '{"spdxVersion":"SPDX-2.3"}', image);
  artifacts['sbomSig'] = await writeReferrerArtifact(served, COSIGN_SIG_ARTIFACT, '{"critical":"sbom"}', artifacts['sbom']);
  const started = await startTestEmbeddedServer(dir, served.dir);
  embedded = started.server;
  embeddedCa = started.paths.caCert;
  embeddedCreds = join(dir, 'embedded-credentials');
  await writeFile(embeddedCreds, `${started.creds}\n`, { mode: 0o600 });
  target = await startRegistry({ auth: 'htpasswd', ca: await createTestCa(join(dir, 'ca')) });
  targetCreds = join(dir, 'target-credentials');
  await writeFile(targetCreds, `${target.credentials!.username}:${target.credentials!.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all([embedded?.close(), target?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

async function images(argv: string[]): Promise<{ code: number; stderr: string }> {
  const io = createTestIo({ env: { HOME: dir, PATH: process.env['PATH'] }, cwd: dir });
  const code = await agImages(argv, io);
  return { code, stderr: io.stderrText() };
}

describe('referrers through the referrers API (ag-registry embedded) and on to docker-registry', () => {
  const layoutDir = (): string => join(dir, 'pulled');

  it('pull --with-referrers finds them through the API', async () => {
    const host = `127.0.0.1:${embedded.address.port}`;
    const { code, stderr } = await images(['pull', REF, '--with-referrers', '--layout', layoutDir(), '--platform', 'linux/amd64', '--mirror', host, '--ca-file', embeddedCa, '--credentials-file', embeddedCreds]);
    expect(code, stderr).toBe(0);
    const index = JSON.parse(await readFile(join(layoutDir(), 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const referrers = index.manifests.filter((d) => d.annotations?.[REFERRER_SUBJECT_ANNOTATION] !== undefined);
    expect(referrers.map((d) => [d.annotations![REFERRER_SUBJECT_ANNOTATION], d.digest]).sort()).toEqual(
      [
        [image.digest, artifacts['sig']!.digest],
        [image.digest, artifacts['sbom']!.digest],
        [artifacts['sbom']!.digest, artifacts['sbomSig']!.digest],
      ].sort(),
    );
  });

  it('push restores them on a registry without the API, under the referrers tag', async () => {
    const { code, stderr } = await images(['push', '--layout', layoutDir(), '--registry', target.host, '--ca-file', target.caFile, '--credentials-file', targetCreds]);
    expect(code, stderr).toBe(0);
    const { stdout } = await target.skopeo([
      'inspect', '--raw', '--cert-dir', target.certDir, '--creds', `ag:${target.users['ag']}`,
      `docker://${target.host}/example.org/demo/signed:sha256-${image.digest.slice(7)}`,
    ]);
    const listed = (JSON.parse(stdout) as { manifests: Descriptor[] }).manifests;
    expect(listed.map((d) => [d.digest, d.artifactType]).sort()).toEqual(
      [
        [artifacts['sig']!.digest, COSIGN_SIG_ARTIFACT],
        [artifacts['sbom']!.digest, SPDX_ARTIFACT],
      ].sort(),
    );
  });
});
