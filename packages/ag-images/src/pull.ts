import {
  AgError,
  MissingError,
  OciLayout,
  createLimiter,
  descriptorOf,
  formatPlatform,
  formatReference,
  isManifestDescriptor,
  isNondistributable,
  noProgress,
  parseManifest,
  parseReference,
  selectPlatforms,
  silentLogger,
  withContext,
  type Descriptor,
  type ImagePlatform,
  type ImageReference,
  type Logger,
  type ParsedManifest,
  type PlatformSpec,
  type Progress,
  type StoredImage,
} from '@ag/core';
import type { Connections } from './connection.js';
import { pullReferrers, type ReferrerRecord } from './referrers.js';
import { sourceFor, type MirrorRule } from './sources.js';

/** Annotation on a layout entry that keeps only some platforms: the digest of the index upstream served. */
export const UPSTREAM_DIGEST_ANNOTATION = 'ag.upstream.digest';

export interface PullOptions {
  /** Image references (`registry.k8s.io/pause:3.9`, `nginx:1.25`, `…@sha256:…`). */
  refs: string[];
  /** The OCI layout to write (created when missing). */
  layoutDir: string;
  /** The platforms to keep; ignored with `allPlatforms`. */
  platforms: PlatformSpec[];
  /** Keep every platform: the stored index is then the upstream index, byte for byte. */
  allPlatforms?: boolean;
  /**
   * Keep only `platforms` of an image pinned by its index digest too. By
   * default such an index is kept whole, so that the far side serves the
   * digest the operator pinned; a subset is stored under a new digest.
   */
  subsetPinned?: boolean;
  /** Fetch non-distributable (foreign) layers from their URLs instead of leaving them as references. */
  allowNondistributable?: boolean;
  mirrors?: MirrorRule[];
  /** Also fetch the images' referrers (signatures, SBOMs) and their referrers (see referrers.ts). */
  withReferrers?: boolean;
  connections: Connections;
  /** Blobs fetched at once (default 4). */
  concurrency?: number;
  /** Resolve manifests and report what would be fetched, but write nothing. */
  dryRun?: boolean;
  /** fsync each blob before naming it (default true). */
  fsync?: boolean;
  log?: Logger;
  progress?: Progress;
}

/** One action of a pull, for `--dry-run` and the summary. */
export interface PullAction {
  action: 'fetch-blob' | 'fetch-foreign-layer' | 'leave-foreign-layer' | 'store-manifest' | 'name-image';
  ref: string;
  digest: string;
  size: number;
}

export interface PullResult {
  images: StoredImage[];
  actions: PullAction[];
  /** Blobs (and bytes) fetched, and found already stored. */
  fetched: { blobs: number; bytes: number };
  present: { blobs: number; bytes: number };
  /** Foreign layers left as references. */
  foreignLeft: number;
  /** Referrers stored with the images (withReferrers). */
  referrers: ReferrerRecord[];
}

/** What one reference resolved to, before anything is stored. */
interface ResolvedImage {
  ref: ImageReference;
  name: string;
  source: { registry: string; repository: string };
  top: { bytes: Buffer; descriptor: Descriptor; parsed: ParsedManifest };
  upstreamDigest: string;
  partial: boolean;
  /** How many manifests upstream's index holds (1 for a single manifest). */
  upstreamCount: number;
  /** Platforms asked for that the image does not have (it keeps those it has). */
  lacking: PlatformSpec[];
  /** The platform manifests kept, with their bytes and platform. */
  manifests: Array<{ bytes: Buffer; descriptor: Descriptor; parsed: ParsedManifest & { kind: 'manifest' }; platform: ImagePlatform | undefined }>;
}

/**
 * Copies images from their registries into one OCI image layout, keeping
 * digests exact. For an index, either every platform (the stored index is
 * upstream's, byte for byte) or the platforms asked for: then a new index
 * holding upstream's platform manifests unchanged is stored, and both the
 * upstream index digest and each platform manifest digest are returned (so the
 * far side can pin by digest). Docker v2 and OCI media types pass through
 * unchanged. Blobs already in the layout are never fetched again; blobs
 * shared by several images are fetched once; at most `concurrency` at a time,
 * streamed to disk and verified before they are named. An image is named in
 * index.json only once everything it needs is stored.
 *
 * Non-distributable layers stay references unless `allowNondistributable`.
 * Does not push, convert, compress or sign anything.
 */
export async function pullImages(options: PullOptions): Promise<PullResult> {
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const refs = [...new Set(options.refs.map((r) => formatReference(parseReference(r))))].map(parseReference);
  const dryRun = options.dryRun === true;
  const layout = dryRun ? await OciLayout.open(options.layoutDir).catch(() => undefined) : await OciLayout.open(options.layoutDir, { create: true, fsync: options.fsync ?? true });
  const result: PullResult = { images: [], actions: [], fetched: { blobs: 0, bytes: 0 }, present: { blobs: 0, bytes: 0 }, foreignLeft: 0, referrers: [] };
  const task = progress.task(`pulling ${refs.length} image(s)`, 0, 'bytes');
  let total = 0;
  const limit = createLimiter(Math.max(1, options.concurrency ?? 4));
  const resolveLimit = createLimiter(4);

  // Each blob once, however many images share it; started as soon as the first image needing it is
  // resolved, so fetching overlaps resolving the next images.
  const blobTasks = new Map<string, Promise<void>>();
  // Configs fetched while resolving (to learn a single manifest's platform): fetched now, not found stored.
  const storedWhileResolving = new Set<string>();
  const ensureBlob = (descriptor: Descriptor, image: ResolvedImage): Promise<void> => {
    const known = blobTasks.get(descriptor.digest);
    if (known !== undefined) return known;
    const pending = (async () => {
      const foreign = isNondistributable(descriptor.mediaType);
      if (storedWhileResolving.has(descriptor.digest)) {
        result.actions.push({ action: 'fetch-blob', ref: image.name, digest: descriptor.digest, size: descriptor.size });
        result.fetched.blobs += 1;
        result.fetched.bytes += descriptor.size;
        return;
      }
      if (layout !== undefined && (await layout.hasBlob(descriptor))) {
        result.present.blobs += 1;
        result.present.bytes += descriptor.size;
        return;
      }
      if (foreign && !options.allowNondistributable) {
        result.foreignLeft += 1;
        result.actions.push({ action: 'leave-foreign-layer', ref: image.name, digest: descriptor.digest, size: descriptor.size });
        return;
      }
      result.actions.push({ action: foreign ? 'fetch-foreign-layer' : 'fetch-blob', ref: image.name, digest: descriptor.digest, size: descriptor.size });
      if (dryRun || layout === undefined) {
        result.fetched.blobs += 1;
        result.fetched.bytes += descriptor.size;
        return;
      }
      total += descriptor.size;
      task.setTotal(total);
      await limit(async () => {
        const client = options.connections.client(image.source.registry);
        const writer = await layout.openBlobWriter(descriptor);
        try {
          if (foreign) await client.fetchUrl(descriptor.urls ?? [], descriptor, writer, (n) => task.advance(n));
          else await client.fetchBlob(image.source.repository, descriptor, writer, (n) => task.advance(n));
          result.fetched.blobs += 1;
          result.fetched.bytes += descriptor.size;
        } catch (error) {
          // Keep what arrived (unless it was wrong): the next run resumes from it.
          await writer.abort(!(error instanceof AgError && error.kind === 'verification'));
          throw withContext(`pulling ${image.name}`, error, { reference: image.name });
        }
      });
    })();
    blobTasks.set(descriptor.digest, pending);
    return pending;
  };

  const pullOne = async (ref: ImageReference): Promise<ResolvedImage> => {
    const image = await resolveLimit(() => resolveImage(ref, options, layout, log, storedWhileResolving));
    const blobs = image.manifests.flatMap((m) => [m.parsed.manifest.config, ...m.parsed.manifest.layers]);
    const waits = await Promise.allSettled(blobs.map((d) => ensureBlob(d, image)));
    const failed = waits.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    for (const m of image.manifests) result.actions.push({ action: 'store-manifest', ref: image.name, digest: m.descriptor.digest, size: m.descriptor.size });
    if (image.manifests.length !== 1 || image.top.descriptor.digest !== image.manifests[0]!.descriptor.digest) {
      result.actions.push({ action: 'store-manifest', ref: image.name, digest: image.top.descriptor.digest, size: image.top.descriptor.size });
    }
    result.actions.push({ action: 'name-image', ref: image.name, digest: image.top.descriptor.digest, size: image.top.descriptor.size });
    if (!dryRun && layout !== undefined) {
      // Manifests after their blobs: a stored manifest never points at nothing.
      for (const m of image.manifests) await layout.writeBytes(m.bytes, m.descriptor.mediaType);
      await layout.writeBytes(image.top.bytes, image.top.descriptor.mediaType);
    }
    return image;
  };

  const complete = await Promise.allSettled(refs.map(pullOne));
  task.done();
  const ready = complete.filter((c): c is PromiseFulfilledResult<ResolvedImage> => c.status === 'fulfilled').map((c) => c.value);
  if (!dryRun && layout !== undefined) {
    // One index.json write for all (none at all when nothing changed).
    await layout.setEntries(
      ready.map((image) => ({
        ref: image.name,
        descriptor: image.top.descriptor,
        ...(image.partial ? { annotations: { [UPSTREAM_DIGEST_ANNOTATION]: image.upstreamDigest } } : {}),
      })),
    );
    // After the images are named: a referrer records its subject, which must be there.
    if (options.withReferrers) {
      for (const image of ready) {
        // What the layout stores (a partial pull's upstream index is not: its signature could not be checked here).
        const subjects = [image.top.descriptor.digest, ...image.manifests.map((m) => m.descriptor.digest)];
        const client = options.connections.client(image.source.registry);
        result.referrers.push(...(await pullReferrers(layout, client, image.source.repository, subjects, log)));
      }
    }
    for (const image of ready) {
      log.info(
        `${image.name}: ${image.manifests.map((m) => platformText(m.platform)).join(', ')} (${image.top.descriptor.digest.slice(0, 19)}` +
          `${image.partial ? `, kept ${image.manifests.length} of upstream's ${image.upstreamCount}` : ''}` +
          `${image.lacking.length > 0 ? `; it has no ${image.lacking.map(formatPlatform).join(', ')}` : ''})`,
      );
    }
  }
  const rejected = complete.filter((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (rejected.length > 0) {
    const first = rejected[0]!.reason as unknown;
    const error = first instanceof AgError ? first : withContext('pulling images', first);
    throw new AgError(error.kind, rejected.length > 1 ? `${error.message} (${rejected.length} of ${refs.length} images failed)` : error.message, {
      ...(error.kind === 'unreachable' || error.kind === 'system'
        ? { hint: `${error.hint ? `${error.hint}; then ` : ''}run the same command again: what arrived is kept and only the rest is fetched` }
        : error.hint
          ? { hint: error.hint }
          : {}),
      cause: error,
      ...(error.details ? { details: error.details } : {}),
    });
  }
  result.images = ready.map(storedImage);
  return result;
}

/** Fetches a manifest from the layout when it is there (by digest), else from the registry. */
async function manifestBytes(
  options: PullOptions,
  layout: OciLayout | undefined,
  source: { registry: string; repository: string },
  reference: string,
  expected?: Descriptor,
): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
  if (expected !== undefined && layout !== undefined && (await layout.hasBlob(expected))) {
    return { bytes: await layout.readBytes(expected), mediaType: expected.mediaType, digest: expected.digest };
  }
  return options.connections.client(source.registry).getManifest(source.repository, reference);
}

async function resolveImage(
  ref: ImageReference,
  options: PullOptions,
  layout: OciLayout | undefined,
  log: Logger,
  storedWhileResolving: Set<string>,
): Promise<ResolvedImage> {
  const name = formatReference(ref);
  const source = sourceFor(ref, options.mirrors ?? []);
  try {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const pinned = ref.digest !== undefined ? ({ digest: ref.digest, mediaType: '', size: -1 } as Descriptor) : undefined;
    // A digest-pinned image already stored needs no registry at all.
    const storedTop = pinned && layout ? await layout.blobSize(pinned.digest) : undefined;
    const top =
      storedTop !== undefined && layout !== undefined
        ? await (async () => {
            const bytes = await layout.readBytes({ digest: pinned!.digest, size: storedTop });
            return { bytes, mediaType: parseManifest(bytes, undefined, name).mediaType, digest: pinned!.digest };
          })()
        : await manifestBytes(options, layout, source, reference);
    const parsedTop = parseManifest(top.bytes, top.mediaType, name);
    const topDescriptor: Descriptor = { mediaType: parsedTop.mediaType, digest: top.digest, size: top.bytes.length };
    if (parsedTop.kind === 'manifest') {
      const platform = await platformOfManifest(options, layout, source, parsedTop, storedWhileResolving);
      let lacking: PlatformSpec[] = [];
      if (!options.allPlatforms && options.platforms.length > 0 && platform !== undefined) {
        const { selected, unmatched } = selectPlatforms([{ ...topDescriptor, platform }], options.platforms);
        if (selected.length === 0) {
          throw new MissingError(`${name} is a single-platform image for ${formatPlatform(platform)}, not ${options.platforms.map(formatPlatform).join(', ')}`, {
            hint: 'pull it with --platform matching its platform, or --all-platforms',
          });
        }
        lacking = unmatched;
      }
      return {
        ref,
        name,
        source,
        top: { bytes: top.bytes, descriptor: topDescriptor, parsed: parsedTop },
        upstreamDigest: top.digest,
        partial: false,
        upstreamCount: 1,
        lacking,
        manifests: [{ bytes: top.bytes, descriptor: topDescriptor, parsed: parsedTop, platform }],
      };
    }
    const all = parsedTop.index.manifests.filter(isManifestDescriptor);
    let kept: Descriptor[];
    let lacking: PlatformSpec[] = [];
    if (options.allPlatforms) {
      kept = all;
    } else {
      // Each image keeps the asked platforms it has (a Linux image in a run that also asks for Windows);
      // only an image with none of them fails.
      const { selected, unmatched } = selectPlatforms(all, options.platforms);
      if (selected.length === 0) {
        const available = all.map((d) => (d.platform ? formatPlatform(d.platform) : '(none)')).join(', ');
        throw new MissingError(`${name} has no image for ${unmatched.map(formatPlatform).join(', ')} (it has ${available})`, {
          hint: 'choose --platform from those it has, or drop that architecture',
        });
      }
      lacking = unmatched;
      kept = selected;
      if (ref.digest !== undefined && selected.length < all.length) {
        if (options.subsetPinned) {
          log.warn(
            `${name} is pinned by its index digest, and only ${selected.length} of its ${all.length} platforms are kept (--subset-pinned): ` +
              `it is stored and pushed under a new digest, and the far side cannot serve ${top.digest}; both digests are in the document (digest, upstreamDigest)`,
          );
        } else {
          log.info(`${name} is pinned by its index digest: keeping all ${all.length} platforms, so that the far side serves that digest (--subset-pinned keeps only those asked for, under a new digest)`);
          kept = all;
        }
      }
    }
    const partial = !options.allPlatforms && kept.length !== parsedTop.index.manifests.length;
    const manifests: ResolvedImage['manifests'] = [];
    for (const descriptor of kept) {
      if (!isManifestDescriptor(descriptor)) continue;
      const fetched = await manifestBytes(options, layout, source, descriptor.digest, descriptor);
      if (fetched.digest !== descriptor.digest || fetched.bytes.length !== descriptor.size) {
        throw new AgError('verification', `${name}: platform manifest ${descriptor.digest} came back as ${fetched.digest} (${fetched.bytes.length} bytes)`);
      }
      const parsed = parseManifest(fetched.bytes, descriptor.mediaType, `${name} ${descriptor.digest}`);
      if (parsed.kind !== 'manifest') {
        throw new AgError('usage', `${name}: nested index ${descriptor.digest} is not supported`, { hint: 'pull the nested index by its digest instead' });
      }
      manifests.push({ bytes: fetched.bytes, descriptor, parsed, platform: descriptor.platform });
    }
    let stored = { bytes: top.bytes, descriptor: topDescriptor, parsed: parsedTop as ParsedManifest };
    if (partial) {
      // A new index with upstream's platform manifests, unchanged; same media type family as upstream's.
      const index = { schemaVersion: 2, mediaType: parsedTop.mediaType, manifests: kept };
      const bytes = Buffer.from(JSON.stringify(index));
      stored = { bytes, descriptor: descriptorOf(bytes, parsedTop.mediaType), parsed: parseManifest(bytes, parsedTop.mediaType) };
      log.debug(`${name}: keeping ${kept.length} of ${parsedTop.index.manifests.length} platform(s) of ${top.digest}`);
    }
    return { ref, name, source, top: stored, upstreamDigest: top.digest, partial, upstreamCount: parsedTop.index.manifests.length, lacking, manifests };
  } catch (error) {
    throw withContext(`pulling ${name}${source.registry !== ref.registry ? ` (from ${source.registry}/${source.repository})` : ''}`, error, { reference: name });
  }
}

/**
 * A single-platform manifest's platform, from its config (small, and needed
 * anyway: it is stored right away unless this is a dry run).
 */
async function platformOfManifest(
  options: PullOptions,
  layout: OciLayout | undefined,
  source: { registry: string; repository: string },
  parsed: ParsedManifest & { kind: 'manifest' },
  storedWhileResolving: Set<string>,
): Promise<ImagePlatform | undefined> {
  const config = parsed.manifest.config;
  if (config.size > 1024 * 1024) return undefined;
  let bytes: Buffer;
  if (layout !== undefined && (await layout.hasBlob(config))) {
    bytes = await layout.readBytes(config);
  } else {
    bytes = await options.connections.client(source.registry).getBlobBytes(source.repository, config);
    if (layout !== undefined && !options.dryRun) {
      await layout.writeBytes(bytes, config.mediaType);
      storedWhileResolving.add(config.digest);
    }
  }
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { os?: string; architecture?: string; variant?: string; 'os.version'?: string };
    if (typeof json.os !== 'string' || typeof json.architecture !== 'string') return undefined;
    const platform: ImagePlatform = { os: json.os, architecture: json.architecture };
    if (json.variant) platform.variant = json.variant;
    if (json['os.version']) platform['os.version'] = json['os.version'];
    return platform;
  } catch {
    return undefined;
  }
}

function platformText(platform: ImagePlatform | undefined): string {
  return platform === undefined ? 'unknown/unknown' : formatPlatform(platform);
}

/** The document's record of one pulled image. */
export function storedImage(image: ResolvedImage): StoredImage {
  return {
    ref: image.name,
    digest: image.top.descriptor.digest,
    mediaType: image.top.descriptor.mediaType,
    upstreamDigest: image.upstreamDigest,
    partial: image.partial,
    manifests: image.manifests.map((m) => ({
      platform: platformText(m.platform),
      digest: m.descriptor.digest,
      mediaType: m.descriptor.mediaType,
      size: m.descriptor.size,
    })),
  };
}
