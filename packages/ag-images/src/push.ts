import {
  AgError,
  MissingError,
  OciLayout,
  createLimiter,
  formatReference,
  internalReference,
  isNondistributable,
  noProgress,
  parseReference,
  parseRegistryTarget,
  silentLogger,
  walkImages,
  withContext,
  type Descriptor,
  type ImageGraph,
  type Logger,
  type Progress,
} from '@ag/core';
import type { Connections } from './connection.js';
import { pushReferrers, type ReferrerRecord } from './referrers.js';

export interface PushOptions {
  layoutDir: string;
  /** The internal registry, `HOST[:PORT][/PREFIX]`: images go to `<host>/<prefix>/<upstream host>/<path>`. */
  registry: string;
  /** Full references of the images to push (default: every named image in the layout). */
  refs?: string[];
  /** Push non-distributable (foreign) layers too; they must be in the layout (pulled with the same flag). */
  allowNondistributable?: boolean;
  connections: Connections;
  /** Blobs uploaded at once (default 4). */
  concurrency?: number;
  /** Check what the registry has and report what would be sent, but send nothing. */
  dryRun?: boolean;
  log?: Logger;
  progress?: Progress;
}

export interface PushAction {
  action: 'upload-blob' | 'mount-blob' | 'skip-foreign-layer' | 'put-manifest' | 'tag';
  /** The repository in the internal registry. */
  repository: string;
  digest: string;
  size: number;
  tag?: string;
}

export interface PushedImage {
  ref: string;
  /** `<registry>[/<prefix>]/<upstream host>/<path>:<tag>` (or `@digest` for an image without a tag). */
  internalRef: string;
  digest: string;
}

export interface PushResult {
  images: PushedImage[];
  actions: PushAction[];
  uploaded: { blobs: number; bytes: number };
  mounted: number;
  /** Blobs the registry already had. */
  present: number;
  /** Images the registry already had complete under their tag (nothing of them was checked further). */
  imagesPresent: number;
  /** Foreign layers the layout stores that were not pushed (no allowNondistributable), each once. */
  foreignLeftOut: Array<{ digest: string; size: number; refs: string[] }>;
  /** Referrers (signatures, SBOMs) the layout holds for the pushed images, restored after them. */
  referrers: Array<ReferrerRecord & { repository: string; tagged: boolean }>;
}

interface ImageJob {
  ref: string;
  repository: string;
  tag: string | undefined;
  top: Descriptor;
  graph: ImageGraph;
}

/**
 * Pushes images from an OCI layout to the internal registry, each as
 * `<registry>[/<prefix>]/<upstream host>/<path>:<tag>` (what a containerd hosts.toml
 * mirror with `override_path = true` asks for) and so by digest too. Blobs the
 * registry already has are skipped (HEAD); a blob already pushed to another
 * repository in this run is mounted (`POST …/blobs/uploads/?mount=&from=`)
 * instead of sent again; everything else is streamed from the layout in one
 * PUT, verified on the way. Manifests go after their blobs, platform manifests
 * before the index, so a tag never points at something incomplete.
 *
 * Foreign layers are not pushed unless `allowNondistributable` (the registry
 * must then also accept them). Does not pull, rename or re-sign anything.
 */
export async function pushImages(options: PushOptions): Promise<PushResult> {
  const log = options.log ?? silentLogger;
  const progress = options.progress ?? noProgress;
  const layout = await OciLayout.open(options.layoutDir);
  const target = parseRegistryTarget(options.registry);
  const client = options.connections.client(target.host);
  const entries = await layout.entries();
  const wanted = options.refs?.map((r) => formatReference(parseReference(r)));
  const jobs: ImageJob[] = [];
  for (const entry of entries) {
    if (entry.ref === undefined) continue;
    if (wanted !== undefined && !wanted.includes(entry.ref)) continue;
    const upstream = parseReference(entry.ref);
    const internal = internalReference(upstream, target);
    const graph = await walkImages(layout, [entry.descriptor]).catch((error: unknown) => {
      throw withContext(`pushing ${entry.ref}`, error, { reference: entry.ref });
    });
    jobs.push({ ref: entry.ref, repository: internal.repository, tag: upstream.tag, top: entry.descriptor, graph });
  }
  if (wanted !== undefined) {
    const missing = wanted.filter((ref) => !jobs.some((job) => job.ref === ref));
    if (missing.length > 0) {
      throw new MissingError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the layout ${layout.dir}`, {
        hint: 'pull it first (ag-images pull), or check the name with ag-images list',
      });
    }
  }
  if (jobs.length === 0) throw new MissingError(`the layout ${layout.dir} names no images to push`, { hint: 'pull images into it first' });

  const result: PushResult = { images: [], actions: [], uploaded: { blobs: 0, bytes: 0 }, mounted: 0, present: 0, imagesPresent: 0, foreignLeftOut: [], referrers: [] };
  if (!options.allowNondistributable) result.foreignLeftOut = await storedForeignLayers(layout, jobs);
  // Which repositories hold a blob by now (in this run), so later ones can mount it; one push per digest at a time.
  const holders = new Map<string, Promise<string | undefined>>();
  const limit = createLimiter(Math.max(1, options.concurrency ?? 4));
  let total = 0;
  for (const job of jobs) for (const d of blobsOf(job.graph)) total += d.size;
  const task = progress.task(`pushing ${jobs.length} image(s) to ${options.registry}`, total, 'bytes');

  const pushBlob = async (job: ImageJob, blob: Descriptor): Promise<void> => {
    const key = `${job.repository}@${blob.digest}`;
    if (isNondistributable(blob.mediaType) && !options.allowNondistributable) {
      result.actions.push({ action: 'skip-foreign-layer', repository: job.repository, digest: blob.digest, size: blob.size });
      task.advance(blob.size);
      return;
    }
    if (isNondistributable(blob.mediaType) && !(await layout.hasBlob(blob))) {
      throw new MissingError(`foreign layer ${blob.digest} of ${job.ref} is not in the layout`, {
        hint: 'pull with --allow-nondistributable-artifacts to fetch it from its URLs first',
      });
    }
    // Set before any await, so a second image sharing this blob waits for the first push and mounts it.
    const previous = holders.get(blob.digest) ?? Promise.resolve(undefined);
    const run = previous.then((mountFrom) =>
      limit(async (): Promise<string | undefined> => {
        if (await client.hasBlob(job.repository, blob, [`repository:${job.repository}:pull,push`])) {
          result.present += 1;
          task.advance(blob.size);
          return job.repository;
        }
        if (options.dryRun) {
          result.actions.push({ action: mountFrom ? 'mount-blob' : 'upload-blob', repository: job.repository, digest: blob.digest, size: blob.size });
          task.advance(blob.size);
          return job.repository;
        }
        const { mounted } = await client.pushBlob(job.repository, blob, () => layout.openBlob(blob), {
          ...(mountFrom !== undefined ? { mountFrom } : {}),
          onBytes: (n) => task.advance(n),
        });
        if (mounted) {
          result.mounted += 1;
          task.advance(blob.size);
        } else {
          result.uploaded.blobs += 1;
          result.uploaded.bytes += blob.size;
        }
        result.actions.push({ action: mounted ? 'mount-blob' : 'upload-blob', repository: job.repository, digest: blob.digest, size: blob.size });
        log.debug(`${key}: ${mounted ? `mounted from ${mountFrom}` : 'uploaded'}`);
        return job.repository;
      }).catch((error: unknown) => {
        // Let the next image try on its own (it may mount from an earlier holder), then fail this one.
        holders.set(blob.digest, Promise.resolve(mountFrom));
        throw error;
      }),
    );
    holders.set(
      blob.digest,
      run.then(
        (repository) => repository,
        () => undefined,
      ),
    );
    await run;
  };

  const pushImage = async (job: ImageJob): Promise<PushedImage> => {
    const internal = formatReference({
      ...internalReference(parseReference(job.ref), target),
      ...(job.tag !== undefined ? { digest: undefined } : { digest: job.top.digest }),
    });
    try {
      // A registry stores a manifest only once everything it references is there: if the tag already
      // names this digest, the whole image is there (one HEAD instead of one per blob).
      const blobs = blobsOf(job.graph);
      const foreignToPush = options.allowNondistributable === true && blobs.some((b) => isNondistributable(b.mediaType));
      if (!foreignToPush && (await client.headManifest(job.repository, job.tag ?? job.top.digest))?.digest === job.top.digest) {
        result.imagesPresent += 1;
        for (const blob of blobs) task.advance(blob.size);
        log.info(`${job.ref} -> ${internal} (already there)`);
        return { ref: job.ref, internalRef: internal, digest: job.top.digest };
      }
      // Blobs of different images go in parallel; a shared blob is pushed once and then mounted.
      await Promise.all(blobs.map((blob) => pushBlob(job, blob)));
      const manifests = manifestsChildrenFirst(job);
      for (const descriptor of manifests) {
        const isTop = descriptor.digest === job.top.digest;
        const reference = isTop && job.tag !== undefined ? job.tag : descriptor.digest;
        const there = await client.headManifest(job.repository, reference);
        if (there?.digest === descriptor.digest) continue;
        result.actions.push({
          action: isTop && job.tag !== undefined ? 'tag' : 'put-manifest',
          repository: job.repository,
          digest: descriptor.digest,
          size: descriptor.size,
          ...(isTop && job.tag !== undefined ? { tag: job.tag } : {}),
        });
        if (options.dryRun) continue;
        const bytes = await layout.readBytes(descriptor);
        await client.putManifest(job.repository, reference, bytes, descriptor.mediaType);
      }
      log.info(`${job.ref} -> ${internal}${options.dryRun ? ' (dry run)' : ''}`);
      return { ref: job.ref, internalRef: internal, digest: job.top.digest };
    } catch (error) {
      throw withContext(`pushing ${job.ref} to ${options.registry}`, error, { reference: job.ref });
    }
  };

  const settled = await Promise.allSettled(jobs.map(pushImage));
  task.done();
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    const first = failed[0]!.reason as unknown;
    const error = first instanceof AgError ? first : withContext('pushing images', first);
    throw new AgError(error.kind, failed.length > 1 ? `${error.message} (${failed.length} of ${jobs.length} images failed)` : error.message, {
      ...(error.kind === 'unreachable' || error.kind === 'system'
        ? { hint: `${error.hint ? `${error.hint}; then ` : ''}run the same command again: what the registry has is not sent twice` }
        : error.hint
          ? { hint: error.hint }
          : {}),
      cause: error,
      ...(error.details ? { details: error.details } : {}),
    });
  }
  result.images = settled.map((s) => (s as PromiseFulfilledResult<PushedImage>).value);
  // The layout's referrers of these images go after them: a referrer's subject must be there first.
  if (!options.dryRun) {
    for (const job of jobs) {
      const pushed = await pushReferrers(layout, client, job.repository, job.graph.manifests.keys(), log).catch((error: unknown) => {
        throw withContext(`pushing the referrers of ${job.ref}`, error, { reference: job.ref });
      });
      result.referrers.push(...pushed.map((r) => ({ ...r, repository: job.repository })));
    }
  }
  return result;
}

/** The foreign layers of the images that the layout stores, each once with the images that use it. */
async function storedForeignLayers(layout: OciLayout, jobs: ImageJob[]): Promise<PushResult['foreignLeftOut']> {
  const found = new Map<string, { digest: string; size: number; refs: string[] }>();
  for (const job of jobs) {
    for (const blob of blobsOf(job.graph)) {
      if (!isNondistributable(blob.mediaType) || !(await layout.hasBlob(blob))) continue;
      const entry = found.get(blob.digest) ?? { digest: blob.digest, size: blob.size, refs: [] };
      entry.refs.push(job.ref);
      found.set(blob.digest, entry);
    }
  }
  return [...found.values()];
}

/** The blobs (configs and layers) an image graph holds, each once. */
function blobsOf(graph: ImageGraph): Descriptor[] {
  return [...graph.descriptors.values()].filter((d) => !graph.manifests.has(d.digest));
}

/** The image's manifests and indexes, each after everything it points at. */
function manifestsChildrenFirst(job: ImageJob): Descriptor[] {
  const ordered: Descriptor[] = [];
  const seen = new Set<string>();
  const visit = (descriptor: Descriptor): void => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    const parsed = job.graph.manifests.get(descriptor.digest);
    if (parsed === undefined) return;
    if (parsed.kind === 'index') for (const child of parsed.index.manifests) visit(job.graph.descriptors.get(child.digest) ?? child);
    ordered.push(descriptor);
  };
  visit(job.top);
  return ordered;
}
