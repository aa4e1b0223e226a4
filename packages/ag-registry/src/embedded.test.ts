import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoImage, generatedLayout, LINUX_AMD64, LINUX_ARM64, pauseStandIn, writeWindowsImage, type Descriptor, type GeneratedLayout } from '@ag/fixtures';
import type { EmbeddedServer } from './embedded/server.js';
import { startTestEmbeddedServer } from './testing/embedded-server.js';
import { skopeo } from './testing/run.js';


let dir: string;
let layoutDir: string;
let layout: GeneratedLayout;
let server: EmbeddedServer;
let agent: Agent;
let base: string;
let creds: string;
let auth: string;
let certDir: string;
const images: Record<string, Descriptor> = {};

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function get(path: string, options: { method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; headers?: Record<string, string>; anonymous?: boolean } = {}) {
  const res = await request(`${base}${path}`, {
    method: options.method ?? 'GET',
    dispatcher: agent,
    headers: { ...(options.anonymous ? {} : { authorization: auth }), ...options.headers },
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers as Record<string, string>, body };
}

async function blobJson<T>(digest: string): Promise<T> {
  return JSON.parse(await readFile(layout.blobPath(digest), 'utf8')) as T;
}


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-emb-'));
  layoutDir = join(dir, 'images');
  layout = await generatedLayout(layoutDir);
  images['pause'] = await layout.writeImageSpec({ ref: 'registry.k8s.io/pause:3.9', mediaTypes: 'oci', platforms: [pauseStandIn(LINUX_AMD64), pauseStandIn(LINUX_ARM64)] });
  images['hello'] = await layout.writeImageSpec({ ref: 'docker.io/library/hello:1', mediaTypes: 'docker', platforms: [echoImage('hello', LINUX_AMD64), echoImage('hello', LINUX_ARM64)] });
  images['single'] = await layout.writeImageSpec({ ref: 'quay.io/team/single:v1', mediaTypes: 'docker', index: false, platforms: [echoImage('single', LINUX_AMD64)] });
  // A partial image: the arm64 manifest was not kept.
  images['partial'] = await layout.writeImageSpec({ ref: 'ghcr.io/org/partial:2', mediaTypes: 'oci', platforms: [echoImage('partial', LINUX_AMD64), echoImage('partial', LINUX_ARM64)] });
  const partialIndex = await blobJson<{ manifests: Descriptor[] }>(images['partial'].digest);
  await unlink(layout.blobPath(partialIndex.manifests[1]!.digest));
  // Windows images with a foreign base layer: one layout stores it (pulled with --allow-nondistributable-artifacts),
  // the other leaves it a reference to its URL.
  for (const [name, stored] of [['nanoserver', true], ['servercore', false]] as const) {
    const foreignDir = join(dir, `foreign-${name}`);
    images[name] = await writeWindowsImage(layout, { ref: `mcr.microsoft.com/windows/${name}:1809`, foreignBlobDir: foreignDir, urlPrefix: 'http://127.0.0.1:9/blobs' });
    if (stored) for (const hex of await readdir(foreignDir)) await copyFile(join(foreignDir, hex), layout.blobPath(`sha256:${hex}`));
  }

  let paths;
  ({ server, paths, creds } = await startTestEmbeddedServer(dir, layoutDir));
  auth = `Basic ${Buffer.from(creds).toString('base64')}`;
  base = `https://127.0.0.1:${server.address.port}`;
  agent = new Agent({ connect: { ca: await readFile(paths.caCert, 'utf8') } });
  // The registry directory's certs/ is a client's --cert-dir as it is.
  certDir = paths.certsDir;
});

afterAll(async () => {
  await server?.close();
  await agent?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the embedded registry', () => {
  it('asks for credentials, and answers /v2/ as a registry once given', async () => {
    const anonymous = await get('/v2/', { anonymous: true });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="ag-registry"');
    expect(JSON.parse(anonymous.body.toString()).errors[0].code).toBe('UNAUTHORIZED');
    const wrong = await get('/v2/', { headers: { authorization: `Basic ${Buffer.from('ag:nope').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    const ok = await get('/v2/');
    expect(ok.status).toBe(200);
    expect(ok.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('serves an OCI index and a Docker manifest list under the upstream name, with their type and digest', async () => {
    for (const [path, image, type] of [
      ['/v2/registry.k8s.io/pause/manifests/3.9', images['pause']!, 'application/vnd.oci.image.index.v1+json'],
      ['/v2/docker.io/library/hello/manifests/1', images['hello']!, 'application/vnd.docker.distribution.manifest.list.v2+json'],
      ['/v2/quay.io/team/single/manifests/v1', images['single']!, 'application/vnd.docker.distribution.manifest.v2+json'],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toBe(type);
      expect(res.headers['docker-content-digest']).toBe(image.digest);
      expect(Number(res.headers['content-length'])).toBe(image.size);
      expect(sha256(res.body)).toBe(image.digest);
      const head = await get(path, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['docker-content-digest']).toBe(image.digest);
      expect(head.headers['content-type']).toBe(type);
      expect(head.body.length).toBe(0);
    }
    // A platform's manifest, by digest, with its own (Docker v2) type.
    const list = await blobJson<{ manifests: Descriptor[] }>(images['hello']!.digest);
    const child = await get(`/v2/docker.io/library/hello/manifests/${list.manifests[1]!.digest}`);
    expect(child.status).toBe(200);
    expect(child.headers['content-type']).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(child.headers['docker-content-digest']).toBe(list.manifests[1]!.digest);
  });

  it('serves blobs whole, by range and by HEAD, with their digest', async () => {
    const index = await blobJson<{ manifests: Descriptor[] }>(images['pause']!.digest);
    const manifest = await blobJson<{ layers: Descriptor[] }>(index.manifests[0]!.digest);
    const layer = manifest.layers[0]!;
    const bytes = await readFile(layout.blobPath(layer.digest));
    const whole = await get(`/v2/registry.k8s.io/pause/blobs/${layer.digest}`);
    expect(whole.status).toBe(200);
    expect(whole.headers['docker-content-digest']).toBe(layer.digest);
    expect(whole.headers['content-type']).toBe('application/octet-stream');
    expect(sha256(whole.body)).toBe(layer.digest);
    const part = await get(`/v2/registry.k8s.io/pause/blobs/${layer.digest}`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${bytes.length}`);
    expect(part.body.equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await get(`/v2/registry.k8s.io/pause/blobs/${layer.digest}`, { headers: { range: `bytes=${bytes.length - 10}-` } });
    expect(tail.body.equals(bytes.subarray(bytes.length - 10))).toBe(true);
    const beyond = await get(`/v2/registry.k8s.io/pause/blobs/${layer.digest}`, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    const head = await get(`/v2/registry.k8s.io/pause/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(bytes.length);
  });

  it('answers with OCI error bodies for what is not there, including another repository\'s blob', async () => {
    const missing = await get(`/v2/registry.k8s.io/pause/blobs/sha256:${'0'.repeat(64)}`);
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(missing.body.toString())).toEqual({
      errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: { digest: `sha256:${'0'.repeat(64)}` } }],
    });
    const single = await blobJson<{ config: Descriptor }>(images['single']!.digest);
    const foreign = await get(`/v2/registry.k8s.io/pause/blobs/${single.config.digest}`);
    expect(JSON.parse(foreign.body.toString()).errors[0].code).toBe('BLOB_UNKNOWN');
    expect((await get(`/v2/quay.io/team/single/blobs/${single.config.digest}`)).status).toBe(200);

    expect(JSON.parse((await get('/v2/registry.k8s.io/nothing/manifests/1')).body.toString()).errors[0].code).toBe('NAME_UNKNOWN');
    const noTag = await get('/v2/registry.k8s.io/pause/manifests/9.9');
    expect(noTag.status).toBe(404);
    expect(JSON.parse(noTag.body.toString()).errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(JSON.parse((await get('/v2/registry.k8s.io/pause/blobs/sha256:xyz')).body.toString()).errors[0].code).toBe('DIGEST_INVALID');
    // The platform that was not kept is unknown; the one kept is served.
    const partial = await blobJson<{ manifests: Descriptor[] }>(images['partial']!.digest);
    expect((await get(`/v2/ghcr.io/org/partial/manifests/${partial.manifests[1]!.digest}`)).status).toBe(404);
    expect((await get(`/v2/ghcr.io/org/partial/manifests/${partial.manifests[0]!.digest}`)).status).toBe(200);
  });

  it('serves a foreign layer the layout stores (a Windows node pulls it from here), and not one it left a reference', async () => {
    const foreignOf = async (image: Descriptor): Promise<Descriptor> => {
      const index = await blobJson<{ manifests: Descriptor[] }>(image.digest);
      const windows = index.manifests.find((m) => m.platform?.os === 'windows')!;
      return (await blobJson<{ layers: Descriptor[] }>(windows.digest)).layers.find((l) => l.mediaType.includes('foreign'))!;
    };
    const stored = await foreignOf(images['nanoserver']!);
    const served = await get(`/v2/mcr.microsoft.com/windows/nanoserver/blobs/${stored.digest}`);
    expect(served.status).toBe(200);
    expect(served.headers['docker-content-digest']).toBe(stored.digest);
    expect(sha256(served.body)).toBe(stored.digest);
    expect(served.body.length).toBe(stored.size);
    const reference = await foreignOf(images['servercore']!);
    const notStored = await get(`/v2/mcr.microsoft.com/windows/servercore/blobs/${reference.digest}`);
    expect(notStored.status).toBe(404);
    expect(JSON.parse(notStored.body.toString()).errors[0].code).toBe('BLOB_UNKNOWN');
  });

  it('refuses pushes and deletes with a clear error', async () => {
    const upload = await get('/v2/registry.k8s.io/pause/blobs/uploads/', { method: 'POST' });
    expect(upload.status).toBe(405);
    const error = JSON.parse(upload.body.toString()).errors[0];
    expect(error.code).toBe('UNSUPPORTED');
    expect(error.message).toContain('read-only');
    expect((await get('/v2/registry.k8s.io/pause/manifests/3.9', { method: 'PUT' })).status).toBe(405);
    expect((await get(`/v2/registry.k8s.io/pause/manifests/${images['pause']!.digest}`, { method: 'DELETE' })).status).toBe(405);
    // Without credentials, the answer is 401 first: nothing is revealed to anonymous clients.
    expect((await get('/v2/registry.k8s.io/pause/blobs/uploads/', { method: 'POST', anonymous: true })).status).toBe(401);
  });

  it('lists repositories and tags, page by page', async () => {
    const catalog = JSON.parse((await get('/v2/_catalog')).body.toString());
    expect(catalog.repositories).toEqual([
      'docker.io/library/hello',
      'ghcr.io/org/partial',
      'mcr.microsoft.com/windows/nanoserver',
      'mcr.microsoft.com/windows/servercore',
      'quay.io/team/single',
      'registry.k8s.io/pause',
    ]);
    const page = await get('/v2/_catalog?n=2');
    expect(JSON.parse(page.body.toString()).repositories).toHaveLength(2);
    expect(page.headers['link']).toBe('</v2/_catalog?last=ghcr.io%2Forg%2Fpartial&n=2>; rel="next"');
    expect(JSON.parse((await get('/v2/_catalog?n=2&last=ghcr.io/org/partial')).body.toString()).repositories).toEqual([
      'mcr.microsoft.com/windows/nanoserver',
      'mcr.microsoft.com/windows/servercore',
    ]);
    expect(JSON.parse((await get('/v2/registry.k8s.io/pause/tags/list')).body.toString())).toEqual({ name: 'registry.k8s.io/pause', tags: ['3.9'] });
  });

  it('is read by skopeo: inspect, copy of a multi-arch Docker manifest list with digests kept, and a refused push', async () => {
    const raw = await skopeo(['inspect', '--raw', '--cert-dir', certDir, '--creds', creds, `docker://127.0.0.1:${server.address.port}/docker.io/library/hello:1`]);
    expect(raw.ok, raw.output).toBe(true);
    expect(sha256(Buffer.from(raw.output))).toBe(images['hello']!.digest);
    const target = join(dir, 'copied');
    const copy = await skopeo(['copy', '--all', '--preserve-digests', '--src-cert-dir', certDir, '--src-creds', creds, `docker://127.0.0.1:${server.address.port}/docker.io/library/hello:1`, `dir:${target}`]);
    expect(copy.ok, copy.output).toBe(true);
    expect(sha256(await readFile(join(target, 'manifest.json')))).toBe(images['hello']!.digest);
    const push = await skopeo(['copy', '--src-cert-dir', certDir, '--src-creds', creds, '--dest-cert-dir', certDir, '--dest-creds', creds, `docker://127.0.0.1:${server.address.port}/docker.io/library/hello:1`, `docker://127.0.0.1:${server.address.port}/docker.io/library/hello:2`]);
    expect(push.ok).toBe(false);
    expect(push.output).toContain('this registry is read-only');
  });

  it('serves images added to the layout after it started', async () => {
    const added = await layout.writeImageSpec({ ref: 'registry.k8s.io/later:1', mediaTypes: 'oci', index: false, platforms: [echoImage('later', LINUX_AMD64)] });
    const res = await get('/v2/registry.k8s.io/later/manifests/1');
    expect(res.status).toBe(200);
    expect(res.headers['docker-content-digest']).toBe(added.digest);
  });
});
