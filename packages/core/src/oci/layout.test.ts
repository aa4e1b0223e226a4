import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MissingError, VerificationError } from '../errors.js';
import { descriptorOf, sha256Digest, type Descriptor } from './descriptor.js';
import { gcLayout } from './gc.js';
import { CONTAINERD_NAME_ANNOTATION, OciLayout, REF_NAME_ANNOTATION } from './layout.js';
import { MediaType } from './media-types.js';
import { assertVerified, removeCorruptBlobs, verifyLayout } from './verify.js';
import { walkImages } from './walk.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-layout-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Streams `size` random bytes in chunks, the way a network body arrives. */
function chunks(bytes: Buffer, size = 64 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

/** Writes a one-layer image (config, layer, manifest) and names it; returns its parts. */
async function writeImage(layout: OciLayout, ref: string, layerBytes = randomBytes(300_000)) {
  const layer = { mediaType: MediaType.ociLayerGzip, ...(await layout.writeBlob(chunks(layerBytes), { digest: sha256Digest(layerBytes), size: layerBytes.length })) };
  const config = await layout.writeBytes(Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } })), MediaType.ociConfig);
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] }));
  const manifest = await layout.writeBytes(manifestBytes, MediaType.ociManifest);
  await layout.setEntry(ref, manifest);
  return { layer, config, manifest, layerBytes };
}

async function blobNames(layout: OciLayout): Promise<string[]> {
  return (await readdir(layout.blobDir)).sort();
}

describe('OciLayout', () => {
  it('creates a layout that skopeo reads by its full reference, with both name annotations', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const { manifest } = await writeImage(layout, 'registry.k8s.io/pause:3.9');
    const index = JSON.parse(await readFile(join(layout.dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.annotations).toEqual({
      [REF_NAME_ANNOTATION]: 'registry.k8s.io/pause:3.9',
      [CONTAINERD_NAME_ANNOTATION]: 'registry.k8s.io/pause:3.9',
    });
    const inspect = spawnSync('skopeo', ['inspect', '--raw', `oci:${layout.dir}:registry.k8s.io/pause:3.9`], { encoding: 'utf8' });
    expect(inspect.stderr).toBe('');
    expect(sha256Digest(inspect.stdout)).toBe(manifest.digest);
    // skopeo copies it out whole: every blob it needs is where the layout says.
    const copy = spawnSync('skopeo', ['copy', '--insecure-policy', `oci:${layout.dir}:registry.k8s.io/pause:3.9`, `dir:${join(dir, 'copy')}`], { encoding: 'utf8' });
    expect(copy.status, copy.stderr).toBe(0);
  });

  it('replaces an entry of the same reference and keeps the others', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    await writeImage(layout, 'registry.k8s.io/pause:3.9');
    await writeImage(layout, 'registry.k8s.io/etcd:3.5.7-0');
    const { manifest } = await writeImage(layout, 'registry.k8s.io/pause:3.9');
    const entries = await layout.entries();
    expect(entries.map((e) => e.ref)).toEqual(['registry.k8s.io/etcd:3.5.7-0', 'registry.k8s.io/pause:3.9']);
    expect(await layout.resolve('registry.k8s.io/pause:3.9')).toMatchObject({ digest: manifest.digest });
    expect(await layout.removeEntries(['registry.k8s.io/etcd:3.5.7-0'])).toBe(1);
    expect((await layout.entries()).map((e) => e.ref)).toEqual(['registry.k8s.io/pause:3.9']);
  });

  it('refuses to name a descriptor whose blob is not stored', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const ghost: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256Digest('nothing'), size: 7 };
    await expect(layout.setEntry('example.com/ghost:1', ghost)).rejects.toBeInstanceOf(MissingError);
  });

  it('says clearly when a directory is not a layout', async () => {
    await expect(OciLayout.open(dir)).rejects.toThrow(/not an OCI image layout/);
  });

  it('never names a blob whose content or size is wrong, and leaves nothing behind', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const bytes = randomBytes(100_000);
    const wrong = { digest: sha256Digest('something else'), size: bytes.length };
    await expect(layout.writeBlob(chunks(bytes), wrong)).rejects.toThrow(/content hashes to sha256:/);
    await expect(layout.writeBlob(chunks(bytes), { digest: sha256Digest(bytes), size: bytes.length - 1 })).rejects.toThrow(/more bytes than its size/);
    await expect(layout.writeBlob(chunks(bytes.subarray(0, 10)), { digest: sha256Digest(bytes), size: bytes.length })).rejects.toThrow(/10 bytes instead of 100000/);
    expect(await blobNames(layout)).toEqual([]);
    expect(await readdir(layout.ingestDir)).toEqual([]);
  });

  it('refuses wrong bytes of a large blob, and after a reset names the right ones', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const bytes = randomBytes(2 * 1024 * 1024 + 5);
    const expected = { digest: sha256Digest(bytes), size: bytes.length };
    const other = Buffer.from(bytes);
    other[bytes.length - 1] = other[bytes.length - 1]! ^ 1;
    await expect(layout.writeBlob(chunks(other), expected)).rejects.toThrow(/content hashes to sha256:/);
    expect(await blobNames(layout)).toEqual([]);
    const writer = await layout.openBlobWriter(expected);
    await writer.append(chunks(other.subarray(0, 1024 * 1024)));
    // What a server that ignores Range makes the client do: start over.
    writer.reset();
    await writer.append(chunks(bytes));
    expect(await writer.commit()).toEqual(expected);
    // Unknown size: taken as it hashes.
    const unsized = randomBytes(300_000);
    expect(await layout.writeBlob(chunks(unsized), { digest: sha256Digest(unsized) })).toEqual({ digest: sha256Digest(unsized), size: unsized.length });
    expect(await blobNames(layout)).toEqual([expected.digest, sha256Digest(unsized)].map((d) => d.slice(7)).sort());
  });

  it('resumes a blob from the bytes that arrived before a failure', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const expected = { digest: sha256Digest(bytes), size: bytes.length };
    const writer = await layout.openBlobWriter(expected);
    // A body that breaks after 1.5 MiB, like a reset connection.
    async function* broken(): AsyncGenerator<Buffer> {
      yield bytes.subarray(0, 1024 * 1024);
      yield bytes.subarray(1024 * 1024, 1536 * 1024);
      throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    }
    await expect(writer.append(broken())).rejects.toThrow('other side closed');
    expect(writer.written).toBe(1536 * 1024);
    await writer.append(chunks(bytes.subarray(writer.written)));
    expect(await writer.commit()).toEqual(expected);
    expect((await readFile(layout.blobPath(expected.digest))).equals(bytes)).toBe(true);
  });

  it('adopts the partial blob of a process that died, and re-hashes it', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const bytes = randomBytes(2_000_000);
    const expected = { digest: sha256Digest(bytes), size: bytes.length };
    // What a killed pull leaves: a partial named with a pid that no longer runs.
    const dead = spawnSync('true').pid!;
    await mkdir(layout.ingestDir, { recursive: true });
    await writeFile(join(layout.ingestDir, `${expected.digest.slice(7)}.${dead}.abcd1234.partial`), bytes.subarray(0, 1_234_567));
    const writer = await layout.openBlobWriter(expected);
    expect(writer.written).toBe(1_234_567);
    await writer.append(chunks(bytes.subarray(writer.written)));
    await writer.commit();
    expect((await readFile(layout.blobPath(expected.digest))).equals(bytes)).toBe(true);
    expect(await readdir(layout.ingestDir)).toEqual([]);
  });

  it('streams a blob and fails the stream when the stored bytes are wrong', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const { layer, layerBytes } = await writeImage(layout, 'example.com/a:1');
    const read: Buffer[] = [];
    for await (const chunk of await layout.openBlob(layer)) read.push(chunk as Buffer);
    expect(Buffer.concat(read).equals(layerBytes)).toBe(true);
    const damaged = Buffer.from(layerBytes);
    damaged[1000] = damaged[1000]! ^ 0xff;
    await writeFile(layout.blobPath(layer.digest), damaged);
    const consume = async (): Promise<void> => {
      for await (const _ of await layout.openBlob(layer)) void _;
    };
    await expect(consume()).rejects.toBeInstanceOf(VerificationError);
    await expect(layout.openBlob({ digest: sha256Digest('absent'), size: 1 })).rejects.toBeInstanceOf(MissingError);
  });
});

describe('verifyLayout', () => {
  it('passes a sound layout and names the digest of a damaged, a missing and a mis-sized blob', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const a = await writeImage(layout, 'example.com/a:1');
    const b = await writeImage(layout, 'example.com/b:1');
    const c = await writeImage(layout, 'example.com/c:1');
    const sound = await verifyLayout(layout);
    expect(sound.problems).toEqual([]);
    expect(sound.blobs).toBe(7); // 3 layers, 3 manifests, 1 shared config
    expect(sound.images).toBe(3);

    const damaged = await readFile(layout.blobPath(a.layer.digest));
    damaged[0] = damaged[0]! ^ 1;
    await writeFile(layout.blobPath(a.layer.digest), damaged);
    await rm(layout.blobPath(b.layer.digest));
    await writeFile(layout.blobPath(c.layer.digest), Buffer.concat([c.layerBytes, Buffer.from('x')]));
    const report = await verifyLayout(layout);
    const byDigest = Object.fromEntries(report.problems.map((p) => [p.digest, p.problem]));
    expect(byDigest[a.layer.digest]).toMatch(/^content hashes to sha256:/);
    expect(byDigest[b.layer.digest]).toMatch(/is missing/);
    expect(byDigest[c.layer.digest]).toMatch(/content hashes to|stored size/);
    expect(() => assertVerified(report, 'verifying')).toThrow(VerificationError);
    try {
      assertVerified(report, 'verifying');
    } catch (error) {
      expect((error as VerificationError).exitCode).toBe(3);
      // Every bad blob by name, one line each: nothing summed up as "and N more".
      const lines = (error as VerificationError).message.split('\n');
      expect(lines[0]).toBe(`verifying: ${report.problems.length} problems:`);
      for (const digest of [a.layer.digest, b.layer.digest, c.layer.digest]) expect(lines.some((line) => line.includes(`blob ${digest} `))).toBe(true);
      expect((error as VerificationError).message).not.toMatch(/more problem/);
    }
    // repair deletes what does not match its name, so a pull can fetch it again.
    const removed = await removeCorruptBlobs(layout, report);
    expect(removed).toEqual(expect.arrayContaining([a.layer.digest, c.layer.digest]));
    expect(await layout.hasBlob(a.layer)).toBe(false);
  });

  it('checks that a manifest is referenced with its own media type', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const { manifest } = await writeImage(layout, 'example.com/a:1');
    await layout.setEntry('example.com/a:1', { ...manifest, mediaType: MediaType.dockerManifest });
    const report = await verifyLayout(layout, { rehash: false });
    expect(report.problems).toEqual([expect.objectContaining({ digest: manifest.digest, problem: expect.stringMatching(/referenced as/) })]);
  });
});

describe('gcLayout and walkImages', () => {
  it('deletes only what no image reaches, and partials of dead writers', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const kept = await writeImage(layout, 'example.com/kept:1');
    const dropped = await writeImage(layout, 'example.com/dropped:1');
    await layout.removeEntries(['example.com/dropped:1']);
    const dead = spawnSync('true').pid!;
    await mkdir(layout.ingestDir, { recursive: true });
    await writeFile(join(layout.ingestDir, `${'a'.repeat(64)}.${dead}.0.partial`), 'half');
    const dry = await gcLayout(layout, { dryRun: true });
    expect(dry.removed.map((r) => r.digest).sort()).toEqual([dropped.layer.digest, dropped.manifest.digest].sort());
    expect(await layout.hasBlob(dropped.layer)).toBe(true);
    const result = await gcLayout(layout);
    expect(result.freedBytes).toBe(dropped.layer.size + dropped.manifest.size);
    expect(result.partials).toHaveLength(1);
    expect(await layout.hasBlob(dropped.layer)).toBe(false);
    expect(await layout.hasBlob(kept.config)).toBe(true); // shared with the dropped image
    expect((await verifyLayout(layout)).problems).toEqual([]);
    const graph = await walkImages(layout, [kept.manifest]);
    expect([...graph.descriptors.keys()].sort()).toEqual([kept.manifest.digest, kept.config.digest, kept.layer.digest].sort());
  });

  it('refuses to collect a layout whose manifest is missing', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const { manifest } = await writeImage(layout, 'example.com/a:1');
    await rm(layout.blobPath(manifest.digest));
    await expect(gcLayout(layout)).rejects.toThrow(new RegExp(`manifest ${manifest.digest} is missing`));
  });

  it('treats an absent non-distributable layer as a reference, not a hole', async () => {
    const layout = await OciLayout.open(join(dir, 'images'), { create: true });
    const foreign: Descriptor = { mediaType: MediaType.dockerForeignLayer, digest: sha256Digest('windows base'), size: 12, urls: ['https://example.invalid/base'] };
    const config = await layout.writeBytes(Buffer.from('{"os":"windows","architecture":"amd64"}'), MediaType.dockerConfig);
    const manifest = await layout.writeBytes(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config, layers: [foreign] })), MediaType.dockerManifest);
    await layout.setEntry('example.com/win:1', manifest);
    const report = await verifyLayout(layout);
    expect(report.problems).toEqual([]);
    expect(report.foreign).toBe(1);
    expect((await walkImages(layout, [manifest])).foreign).toEqual([foreign]);
    expect(descriptorOf(Buffer.from('x'), 'm').size).toBe(1);
    expect((await stat(layout.blobPath(manifest.digest))).size).toBe(manifest.size);
  });
});
