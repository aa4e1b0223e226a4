import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { MissingError, OciLayout, parseReference, sha256File, tempPathFor, withContext, writeFileAtomic, type Descriptor } from '@ag/core';
import { readOptional } from './files.js';
import { entryName, platformManifest } from './layout-reader.js';

/** Repositories that hold the distribution registry (Docker Hub's official image and the CNCF project's). */
const REGISTRY_REPOSITORIES = ['library/registry', 'distribution/distribution', 'distribution/registry'];

/** Where registry images keep the binary, most usual first (the official image: /bin/registry). */
const BINARY_CANDIDATES = ['bin/registry', 'usr/bin/registry', 'usr/local/bin/registry', 'usr/bin/docker-registry', 'registry'];

export interface RegistryImage {
  ref: string;
  descriptor: Descriptor;
}

/**
 * The registry image in a layout: the one named `ref` when given, else the
 * first entry whose name is a distribution registry image. Undefined when
 * there is none (and no `ref` was asked for).
 */
export async function findRegistryImage(layout: OciLayout, ref?: string): Promise<RegistryImage | undefined> {
  const index = await layout.readIndex();
  const wanted = ref === undefined ? undefined : normalize(ref);
  for (const descriptor of index.manifests) {
    const name = entryName(descriptor);
    if (name === undefined) continue;
    const normalized = normalize(name);
    if (normalized === undefined) continue;
    if (wanted !== undefined ? normalized === wanted : REGISTRY_REPOSITORIES.includes(parseReference(normalized).repository)) {
      return { ref: normalized, descriptor };
    }
  }
  if (ref !== undefined) {
    throw new MissingError(`the image ${ref} is not in the layout ${layout.dir}`, { hint: 'check the name (ag-images list), or pull it first' });
  }
  return undefined;
}

function normalize(ref: string): string | undefined {
  try {
    const parsed = parseReference(ref);
    return `${parsed.registry}/${parsed.repository}${parsed.tag ? `:${parsed.tag}` : ''}${parsed.digest ? `@${parsed.digest}` : ''}`;
  } catch {
    return undefined;
  }
}

interface FileRecord {
  layer: number;
  type: string;
  linkpath?: string;
}

function cleanPath(path: string): string {
  return posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
}

async function scanLayer(path: string, onEntry: (entry: ReadEntry) => Promise<void> | void): Promise<void> {
  // node-tar's parser recognises gzip by its magic bytes; zstd layers are not expected in registry images.
  const parser = new Parser({
    onReadEntry: (entry) => {
      const done = onEntry(entry);
      if (done === undefined) entry.resume();
    },
  });
  await pipeline(createReadStream(path), parser);
}

/** The registry binary's path inside an image (resolving symlinks), and which layer holds it. */
export async function locateRegistryBinary(layout: OciLayout, image: RegistryImage): Promise<{ path: string; layer: Descriptor; manifest: Descriptor }> {
  const { descriptor, manifest } = await platformManifest(layout, image.descriptor);
  const files = new Map<string, FileRecord>();
  for (const [layerIndex, layer] of manifest.layers.entries()) {
    await scanLayer(layout.blobPath(layer.digest), (entry) => {
      const path = cleanPath(entry.path);
      const base = posix.basename(path);
      if (base.startsWith('.wh.')) {
        const removed = posix.join(posix.dirname(path), base.slice(4));
        for (const key of [...files.keys()]) if (key === removed || key.startsWith(`${removed}/`)) files.delete(key);
        return;
      }
      files.set(path, { layer: layerIndex, type: entry.type, ...(entry.linkpath ? { linkpath: entry.linkpath } : {}) });
    });
  }
  for (const candidate of BINARY_CANDIDATES) {
    let path = candidate;
    for (let hops = 0; hops < 10; hops++) {
      const record = files.get(path);
      if (record === undefined) break;
      if (record.type === 'SymbolicLink' && record.linkpath !== undefined) {
        path = cleanPath(record.linkpath.startsWith('/') ? record.linkpath : posix.join(posix.dirname(path), record.linkpath));
        continue;
      }
      if (record.type === 'Link' && record.linkpath !== undefined) {
        path = cleanPath(record.linkpath);
        continue;
      }
      if (record.type === 'File' || record.type === 'OldFile' || record.type === 'ContiguousFile') {
        return { path, layer: manifest.layers[record.layer]!, manifest: descriptor };
      }
      break;
    }
  }
  throw new MissingError(`no registry binary in ${image.ref} (looked for /${BINARY_CANDIDATES.join(', /')})`, {
    hint: 'pass --registry-binary PATH, or --registry-image with a distribution registry image',
  });
}

export interface ExtractedBinary {
  /** Where the binary now is on this host. */
  path: string;
  /** Its path inside the image. */
  imagePath: string;
  image: string;
  manifestDigest: string;
  sha256: string;
  action: 'extracted' | 'kept';
}

/**
 * Copies the registry binary out of the image's layers into `destDir`
 * (streamed, written to a temporary name, renamed once complete). Skips the
 * work when the same image's binary is already there, unchanged.
 */
export async function extractRegistryBinary(layout: OciLayout, image: RegistryImage, destDir: string): Promise<ExtractedBinary> {
  const dest = posix.join(destDir, 'registry');
  const recordPath = posix.join(destDir, 'registry.json');
  try {
    const { path: imagePath, layer, manifest } = await locateRegistryBinary(layout, image);
    const previous = await readOptional(recordPath);
    if (previous !== undefined) {
      const record = JSON.parse(previous) as { manifestDigest?: string; sha256?: string; imagePath?: string };
      if (record.manifestDigest === manifest.digest && record.imagePath === imagePath) {
        const current = await sha256File(dest).catch(() => undefined);
        if (current?.sha256 === record.sha256) {
          return { path: dest, imagePath, image: image.ref, manifestDigest: manifest.digest, sha256: record.sha256!, action: 'kept' };
        }
      }
    }
    await mkdir(destDir, { recursive: true });
    const temp = tempPathFor(dest);
    let found = false;
    try {
      await scanLayer(layout.blobPath(layer.digest), async (entry) => {
        if (found || cleanPath(entry.path) !== imagePath) {
          entry.resume();
          return;
        }
        found = true;
        await pipeline(entry, createWriteStream(temp, { mode: 0o755 }));
      });
      if (!found) throw new MissingError(`the layer ${layer.digest} no longer holds /${imagePath}`);
      await chmod(temp, 0o755);
      await rename(temp, dest);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const { sha256 } = await sha256File(dest);
    await writeFileAtomic(recordPath, `${JSON.stringify({ image: image.ref, manifestDigest: manifest.digest, imagePath, sha256 }, null, 2)}\n`);
    return { path: dest, imagePath, image: image.ref, manifestDigest: manifest.digest, sha256, action: 'extracted' };
  } catch (error) {
    throw withContext(`extracting the registry binary from ${image.ref}`, error);
  }
}
