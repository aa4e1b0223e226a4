import {
  childDescriptors,
  CONTAINERD_NAME_ANNOTATION,
  formatBytes,
  isManifestDescriptor,
  parseManifest,
  REF_NAME_ANNOTATION,
  validateDocument,
  type AgDocument,
  type Descriptor,
  type ParsedManifest,
} from '@ag/core';
import { normaliseEntryPath } from './entry-path.js';
import { seekableChunks, type BundleInput } from './input.js';
import { blobHexOf } from './known-hashes.js';
import { layoutDirs } from './layouts.js';
import { SBOM_FILE } from './sbom.js';
import { DOCUMENT_FILE, MAX_SUMS_BYTES } from './sums.js';
import { TarReader } from './tar/reader.js';

/** Small blobs are read in passing, to find manifests, indexes and configs among them. */
const MAX_JSON_BLOB = 1 << 20;

export interface InspectedImage {
  ref: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  /** Bytes of every distinct blob the image reaches (in the bundle). */
  bytes: number;
}

export interface InspectedBlob {
  path: string;
  size: number;
  /** The images that reach it. */
  images: string[];
}

export interface InspectReport {
  archive: string;
  archiveBytes: number;
  entries: number;
  categories: Record<string, { files: number; bytes: number }>;
  images: InspectedImage[];
  topBlobs: InspectedBlob[];
  document: AgDocument | undefined;
  signed: boolean;
  /** Files a delta leaves for the far side to supply. */
  reused: number;
  /** The CycloneDX SBOM the bundle carries (sbom.cdx.json), as text. */
  sbom: string | undefined;
}

function platformOf(descriptor: Descriptor, config: unknown): string | undefined {
  const from = descriptor.platform ?? (config as { os?: string; architecture?: string; variant?: string } | undefined);
  if (from?.os === undefined || from.architecture === undefined) return undefined;
  return [from.os, from.architecture, from.variant].filter(Boolean).join('/');
}

/**
 * Summarises a bundle without unpacking or verifying it: sizes per top-level
 * directory, the images with their platforms, the largest blobs and which
 * images share them, and the carried document. Reads only headers and small
 * blobs of a file or parts (it seeks past the layers); stdin is read
 * through. Deliberately not a check: run verify for that.
 */
export async function inspectBundle(input: BundleInput, top = 10): Promise<InspectReport> {
  const reader = new TarReader(seekableChunks(input));
  const sizes = new Map<string, number>();
  const json = new Map<string, Buffer>();
  const categories: InspectReport['categories'] = {};
  let document: AgDocument | undefined;
  let sbom: string | undefined;
  let signed = false;
  let entries = 0;
  try {
    for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
      if (entry.kind !== 'file') continue;
      entries += 1;
      const path = normaliseEntryPath(entry.path, false);
      sizes.set(path, entry.size);
      if (path === 'SHA256SUMS.sig') signed = true;
      const slash = path.indexOf('/');
      const category = (categories[slash < 0 ? '.' : path.slice(0, slash)] ??= { files: 0, bytes: 0 });
      category.files += 1;
      category.bytes += entry.size;
      const wanted = path === DOCUMENT_FILE || path === SBOM_FILE ? MAX_SUMS_BYTES : path.endsWith('index.json') || blobHexOf(path) !== undefined ? MAX_JSON_BLOB : 0;
      if (entry.size > 0 && entry.size <= wanted) {
        const chunks: Buffer[] = [];
        await reader.body((chunk) => {
          chunks.push(Buffer.from(chunk));
        });
        const bytes = Buffer.concat(chunks);
        if (path === DOCUMENT_FILE) {
          try {
            document = validateDocument(JSON.parse(bytes.toString('utf8')), DOCUMENT_FILE);
          } catch {
            document = undefined;
          }
        } else if (path === SBOM_FILE) sbom = bytes.toString('utf8');
        else if (bytes[0] === 0x7b /* { */) json.set(path, bytes);
      }
    }
  } finally {
    await reader.bytes.close();
  }

  const images: InspectedImage[] = [];
  const users = new Map<string, Set<string>>();
  const reused = new Set((document?.bundle?.delta?.reused ?? []).map((entry) => entry.path));
  for (const layout of layoutDirs([...sizes.keys(), ...reused])) {
    const prefix = layout === '' ? '' : `${layout}/`;
    const blobPath = (digest: string): string => `${prefix}blobs/sha256/${digest.slice('sha256:'.length)}`;
    const parse = (descriptor: Descriptor): ParsedManifest | undefined => {
      const bytes = json.get(blobPath(descriptor.digest));
      if (bytes === undefined) return undefined;
      try {
        return parseManifest(bytes, descriptor.mediaType);
      } catch {
        return undefined;
      }
    };
    const indexBytes = json.get(`${prefix}index.json`);
    if (indexBytes === undefined) continue;
    let roots: Descriptor[] = [];
    try {
      const parsed = parseManifest(indexBytes, undefined, `${prefix}index.json`);
      roots = parsed.kind === 'index' ? parsed.index.manifests : [];
    } catch {
      continue;
    }
    for (const root of roots) {
      const ref = root.annotations?.[CONTAINERD_NAME_ANNOTATION] ?? root.annotations?.[REF_NAME_ANNOTATION] ?? root.digest;
      const reached = new Set<string>();
      const platforms: string[] = [];
      const queue: Descriptor[] = [root];
      while (queue.length > 0) {
        const descriptor = queue.shift()!;
        if (reached.has(descriptor.digest)) continue;
        reached.add(descriptor.digest);
        if (!isManifestDescriptor(descriptor)) continue;
        const parsed = parse(descriptor);
        if (parsed === undefined) continue;
        if (parsed.kind === 'manifest') {
          const configBytes = json.get(blobPath(parsed.manifest.config.digest));
          let config: unknown;
          try {
            config = configBytes === undefined ? undefined : JSON.parse(configBytes.toString('utf8'));
          } catch {
            config = undefined;
          }
          const platform = platformOf(descriptor, config);
          if (platform !== undefined && !platforms.includes(platform)) platforms.push(platform);
        }
        queue.push(...childDescriptors(parsed));
      }
      let bytes = 0;
      for (const digest of reached) {
        const path = blobPath(digest);
        bytes += sizes.get(path) ?? 0;
        let set = users.get(path);
        if (set === undefined) users.set(path, (set = new Set()));
        set.add(ref);
      }
      images.push({ ref, digest: root.digest, mediaType: root.mediaType, platforms, bytes });
    }
  }
  const topBlobs = [...sizes.entries()]
    .filter(([path]) => blobHexOf(path) !== undefined)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([path, size]) => ({ path, size, images: [...(users.get(path) ?? [])].sort() }));
  return {
    archive: input.label,
    archiveBytes: reader.offset,
    entries,
    categories,
    images,
    topBlobs,
    document,
    signed,
    reused: reused.size,
    sbom,
  };
}

/** The human summary inspect writes on stderr. */
export function renderInspectReport(report: InspectReport): string {
  const lines: string[] = [];
  const bundle = report.document?.bundle;
  lines.push(`${report.archive}: ${report.entries} files, ${formatBytes(report.archiveBytes)}${report.signed ? `, signed${bundle?.keyFingerprint ? ` (key ${bundle.keyFingerprint.slice(0, 16)}…)` : ''}` : ', not signed'}`);
  if (bundle?.packedAt !== undefined) lines.push(`packed ${bundle.packedAt}`);
  if (bundle?.delta !== undefined) {
    lines.push(`delta of inventory ${bundle.delta.inventory}: ${report.reused} file(s), ${formatBytes(bundle.delta.reusedBytes)} left for the far side to supply`);
  }
  lines.push('', 'by directory:');
  for (const [name, category] of Object.entries(report.categories).sort((a, b) => b[1].bytes - a[1].bytes)) {
    lines.push(`  ${name.padEnd(12)} ${String(category.files).padStart(7)} files  ${formatBytes(category.bytes).padStart(10)}`);
  }
  if (report.images.length > 0) {
    lines.push('', 'images:');
    for (const image of report.images) {
      lines.push(`  ${image.ref}  ${image.platforms.join(', ') || '(platform unknown)'}  ${formatBytes(image.bytes)}  ${image.digest.slice(0, 19)}`);
    }
  }
  if (report.topBlobs.length > 0) {
    lines.push('', `largest blobs:`);
    for (const blob of report.topBlobs) {
      lines.push(`  ${formatBytes(blob.size).padStart(10)}  ${blob.path.split('/').pop()!.slice(0, 12)}  ${blob.images.join(', ') || '(no image in this bundle)'}`);
    }
  }
  if (bundle?.tools !== undefined && bundle.tools.length > 0) lines.push('', `tools: ${bundle.tools.filter((tool) => !tool.path.startsWith('tools/share/')).map((tool) => tool.name).join(', ')}`);
  lines.push('', 'not verified: run ag-bundle verify for that');
  return `${lines.join('\n')}\n`;
}
