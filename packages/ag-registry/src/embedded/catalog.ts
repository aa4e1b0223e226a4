import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { internalReference, isManifestDescriptor, isReferrerEntry, OciLayout, parseReference, walkImages, type Descriptor } from '@ag/core';
import { entryName } from '../layout-reader.js';
import { addReferrersToCatalog } from './referrers.js';

/** What one repository of the embedded registry can serve. */
export interface Repository {
  /** tag -> the top descriptor (index or manifest) index.json names. */
  tags: Map<string, Descriptor>;
  /** digest -> media type of every manifest and index reachable from the repository's images. */
  manifests: Map<string, string>;
  /** Digests of every config and layer reachable (and present in the layout). */
  blobs: Set<string>;
  /** subject digest -> the referrers (signatures, SBOMs) the layout holds for it, as the referrers API lists them. */
  referrers: Map<string, Descriptor[]>;
}

export interface Catalog {
  layout: OciLayout;
  repositories: Map<string, Repository>;
  /** index.json entries skipped, with why (no full name, a missing blob…). */
  skipped: string[];
}

/**
 * Reads a layout's index.json and walks every named image down to its
 * layers, so the server answers only for content that is there and belongs
 * to the repository asked (a registry must not serve repository A's blobs
 * under B's name). Names come from the entries' annotations: the full
 * upstream reference `registry.k8s.io/pause:3.9` becomes repository
 * `registry.k8s.io/pause`, tag `3.9` (`registry.corp:5000/app:1` becomes
 * `registry.corp_5000/app`: see internalReference), which is what containerd
 * asks for through a hosts.toml mirror with override_path.
 *
 * Only what is stored is served: manifests of platforms that were not kept
 * (partial images) and foreign layers left as references give
 * MANIFEST_UNKNOWN or BLOB_UNKNOWN, as a registry would; foreign layers the
 * layout stores (pulled with --allow-nondistributable-artifacts) are served
 * like any layer, so a Windows node finds them here.
 */
export async function buildCatalog(dir: string): Promise<Catalog> {
  const layout = await OciLayout.open(dir);
  const index = await layout.readIndex();
  const repositories = new Map<string, Repository>();
  const skipped: string[] = [];
  for (const descriptor of index.manifests) {
    if (isReferrerEntry(descriptor)) continue;
    const name = entryName(descriptor);
    if (name === undefined) {
      skipped.push(`${descriptor.digest}: no full image name in its annotations`);
      continue;
    }
    let repositoryName: string;
    let tag: string | undefined;
    try {
      const ref = parseReference(name);
      repositoryName = internalReference(ref, '').repository;
      // A reference by digest only names no tag (parseReference adds `latest` only when both are absent).
      tag = ref.tag;
    } catch (error) {
      skipped.push(`${descriptor.digest}: ${(error as Error).message}`);
      continue;
    }
    if ((await layout.blobSize(descriptor.digest)) === undefined) {
      skipped.push(`${name}: its ${descriptor.mediaType} ${descriptor.digest} is not in the layout`);
      continue;
    }
    let walked;
    try {
      walked = await walkImages(layout, [descriptor], { missing: [] });
    } catch (error) {
      skipped.push(`${name}: ${(error as Error).message}`);
      continue;
    }
    let repository = repositories.get(repositoryName);
    if (repository === undefined) {
      repository = { tags: new Map(), manifests: new Map(), blobs: new Set(), referrers: new Map() };
      repositories.set(repositoryName, repository);
    }
    if (tag !== undefined) repository.tags.set(tag, descriptor);
    for (const [digest, parsed] of walked.manifests) repository.manifests.set(digest, parsed.mediaType);
    for (const [digest, reached] of walked.descriptors) {
      if (isManifestDescriptor(reached)) continue;
      if ((await layout.blobSize(digest)) !== undefined) repository.blobs.add(digest);
    }
  }
  await addReferrersToCatalog(layout, index.manifests, repositories, skipped);
  return { layout, repositories, skipped };
}

/**
 * A catalog that rebuilds itself when index.json changes (a later bundle
 * unpacked over the same layout), checked at most every `intervalMs`.
 */
export class LiveCatalog {
  private current: Catalog | undefined;
  private mtimeMs = -1;
  private checkedAt = 0;
  private pending: Promise<Catalog> | undefined;

  constructor(
    readonly layout: string,
    private readonly intervalMs = 2_000,
    private readonly onReload: (catalog: Catalog) => void = () => undefined,
  ) {}

  async get(): Promise<Catalog> {
    if (this.current !== undefined && Date.now() - this.checkedAt < this.intervalMs) return this.current;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(): Promise<Catalog> {
    this.checkedAt = Date.now();
    const mtimeMs = (await stat(join(this.layout, 'index.json'))).mtimeMs;
    if (this.current !== undefined && mtimeMs === this.mtimeMs) return this.current;
    const catalog = await buildCatalog(this.layout);
    this.current = catalog;
    this.mtimeMs = mtimeMs;
    this.onReload(catalog);
    return catalog;
  }
}
