import { AgError, fetchBytes, withContext, type AgDocument, type FetchSection, type FileArtifact, type Logger, type PlannedImage, type Progress } from '@ag/core';
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { mirrorUrl, sourceFor, type Mirrors } from '../mirrors.js';
import { parseChecksumFile } from './checksums.js';
import type { PlanRequest } from './request.js';
import type { VersionSource } from './version-source.js';

export type ImageListMode = 'auto' | 'kubeadm' | 'table';

/** What every planner can use: the request, resolved versions, the network (when allowed) and the log. */
export interface PlanContext {
  request: PlanRequest;
  /** Resolved component versions (defaults, then overrides). */
  components: Readonly<Record<string, string>>;
  mirrors: Mirrors;
  /** False with --no-checksums: planners fetch nothing, and download records checksums on first fetch. */
  online: boolean;
  /** The bundle root (absolute). */
  root: string;
  imageList: ImageListMode;
  /** --kubeadm PATH: a kubeadm to ask for the image list. */
  kubeadmPath?: string | undefined;
  dispatcher?: Dispatcher | undefined;
  log: Logger;
  progress: Progress;
  /** GETs a small upstream file (mirrors applied, retried, memoised); errors say what was being planned. */
  fetchSmall(upstreamUrl: string, doing: string): Promise<Buffer>;
}

/** What one planner adds to the plan. */
export interface PlanContribution {
  files?: FileArtifact[];
  images?: PlannedImage[];
  /** Versions it settled (e.g. etcd from kubeadm's list). */
  components?: Record<string, string>;
  /** Where each of those versions came from. */
  versionSources?: Record<string, VersionSource>;
  imageList?: FetchSection['imageList'];
  /** Whole document sections it owns (e.g. `packages`, planned in os-packages/). */
  sections?: Partial<AgDocument>;
}

/**
 * One concern of the plan (the Kubernetes binaries, crictl, the CNI, the
 * control-plane images…). Planners run concurrently and their contributions
 * are merged in the order of the list, so adding a concern is adding a planner.
 */
export interface Planner {
  name: string;
  plan(context: PlanContext): Promise<PlanContribution>;
}

const OFFLINE_HINT = 'to plan on a machine without internet, pass --no-checksums (download then records each checksum on first fetch), or point at a mirror with --mirror URL';

/** A memoised, context-adding fetch for PlanContext. */
export function createPlanFetcher(options: { mirrors: Mirrors; dispatcher?: Dispatcher | undefined; log: Logger }): PlanContext['fetchSmall'] {
  const cache = new Map<string, Promise<Buffer>>();
  return (upstreamUrl, doing) => {
    let pending = cache.get(upstreamUrl);
    if (pending === undefined) {
      const url = mirrorUrl(upstreamUrl, options.mirrors);
      options.log.debug(`fetching ${url}`);
      pending = fetchBytes(url, {
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        onRetry: (event) => options.log.warn(`${event.error.message}; retrying in ${Math.ceil(event.delayMs / 100) / 10} s`),
      });
      cache.set(upstreamUrl, pending);
    }
    return pending.catch((error: unknown) => {
      const wrapped = withContext(`planning ${doing}`, error);
      if (wrapped.kind !== 'unreachable') throw wrapped;
      throw new AgError(wrapped.kind, wrapped.message, { hint: OFFLINE_HINT, cause: error, details: wrapped.details });
    });
  };
}

export interface ChecksummedFile extends Omit<FileArtifact, 'source' | 'sha256' | 'sha256From'> {
  upstreamUrl: string;
  checksumUrl: string;
  /** The asset name to look for in a multi-line checksum file (default: the URL's last segment). */
  assetName?: string;
}

/** A file whose upstream publishes a checksum: the digest is fetched now (unless offline) and pinned. */
export async function checksummedFile(context: PlanContext, file: ChecksummedFile): Promise<FileArtifact> {
  const { upstreamUrl, checksumUrl, assetName, ...rest } = file;
  const artifact: FileArtifact = { ...rest, source: sourceFor(upstreamUrl, context.mirrors, checksumUrl) };
  if (!context.online) return artifact;
  const what = `${file.name}${file.arch ? ` (${file.arch})` : ''}`;
  const text = (await context.fetchSmall(checksumUrl, `${what}: fetching its checksum`)).toString('utf8');
  const asset = assetName ?? new URL(upstreamUrl).pathname.split('/').pop() ?? '';
  let sha256: string;
  try {
    sha256 = parseChecksumFile(text, asset, mirrorUrl(checksumUrl, context.mirrors));
  } catch (error) {
    throw withContext(`planning ${what}`, error);
  }
  return { ...artifact, sha256, sha256From: 'upstream' };
}

/**
 * A small file whose upstream publishes no checksum (a unit file, a
 * manifest): fetched now and pinned to what plan saw, so download and every
 * later run check against the same bytes. Offline, download records it.
 */
export async function pinnedTextFile(
  context: PlanContext,
  file: Omit<FileArtifact, 'source' | 'sha256' | 'sha256From'> & { upstreamUrl: string },
): Promise<{ artifact: FileArtifact; text: string | undefined }> {
  const { upstreamUrl, ...rest } = file;
  const artifact: FileArtifact = { ...rest, source: sourceFor(upstreamUrl, context.mirrors) };
  if (!context.online) return { artifact, text: undefined };
  const bytes = await context.fetchSmall(upstreamUrl, `${file.name}: fetching it to pin its checksum`);
  return {
    artifact: { ...artifact, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, sha256From: 'plan' },
    text: bytes.toString('utf8'),
  };
}
