import {
  API_VERSION,
  KIND,
  noProgress,
  silentLogger,
  UsageError,
  type AgDocument,
  type FetchSection,
  type FileArtifact,
  type Logger,
  type PlannedImage,
  type Progress,
} from '@ag/core';
import type { Dispatcher } from 'undici';
import { canonicalFile } from './file-order.js';
import { NO_MIRRORS, type Mirrors } from './mirrors.js';
import { createPlanFetcher, type ImageListMode, type PlanContext, type PlanContribution, type Planner } from './plan/context.js';
import { parseKubernetesVersion, resolveKubernetesVersion } from './plan/kubernetes-version.js';
import { DEFAULT_PLANNERS } from './plan/planners/index.js';
import { createGitHubReleases, type ReleaseListings } from './plan/releases/github.js';
import { resolveFromListings } from './plan/releases/newer-components.js';
import type { PlanRequest } from './plan/request.js';
import { DATA_FILES, newestTableMinor, resolveComponents, TABLES_CHECKED } from './plan/versions.js';
import type { VersionSource } from './plan/version-source.js';

export interface PlanOptions {
  /** The bundle root (absolute): the document's `root`. */
  root: string;
  mirrors?: Mirrors;
  /** False (--no-checksums): plan without any network; download records checksums on first fetch. */
  online?: boolean;
  imageList?: ImageListMode;
  kubeadmPath?: string | undefined;
  dispatcher?: Dispatcher;
  log?: Logger;
  progress?: Progress;
  /** A document to extend (its other sections pass through). */
  base?: AgDocument | undefined;
  planners?: readonly Planner[];
  now?: Date;
  /** Release listings for components newer than the table (default: GitHub's API, with `githubToken` and `listingCacheDir`). */
  listings?: ReleaseListings;
  /** GITHUB_TOKEN, for the release listings. */
  githubToken?: string | undefined;
  /** Where release-listing answers and their ETags are kept (default: no cache between runs). */
  listingCacheDir?: string | undefined;
}

function merge(contributions: PlanContribution[], planners: readonly Planner[]): Required<Omit<PlanContribution, 'imageList' | 'sections'>> & Pick<PlanContribution, 'imageList' | 'sections'> {
  const files: FileArtifact[] = [];
  const images: PlannedImage[] = [];
  const components: Record<string, string> = {};
  const versionSources: Record<string, VersionSource> = {};
  let imageList: FetchSection['imageList'] | undefined;
  let sections: Partial<AgDocument> = {};
  const owners = new Map<string, string>();
  contributions.forEach((contribution, index) => {
    const planner = planners[index]!.name;
    for (const file of contribution.files ?? []) {
      const owner = owners.get(file.path);
      if (owner !== undefined) {
        throw new UsageError(`two files would go to ${file.path} (from ${owner} and ${planner})`, {
          hint: 'an extra --file has the same name as a planned file: rename it upstream or drop the flag',
        });
      }
      owners.set(file.path, planner);
      files.push(canonicalFile(file));
    }
    for (const image of contribution.images ?? []) {
      if (!images.some((known) => known.ref === image.ref)) images.push(image);
    }
    Object.assign(components, contribution.components ?? {});
    Object.assign(versionSources, contribution.versionSources ?? {});
    imageList ??= contribution.imageList;
    sections = { ...sections, ...contribution.sections };
  });
  return { files, images, components, versionSources, imageList, sections };
}

/**
 * Every component's version and where it came from: the Kubernetes release
 * (exact, or resolved from dl.k8s.io's stable files or the dated table), then
 * flags, the table row for its minor, and, for a minor newer than the table,
 * the components' release listings (connected only).
 */
async function resolveVersions(
  request: PlanRequest,
  options: PlanOptions,
  fetchSmall: PlanContext['fetchSmall'],
  online: boolean,
): Promise<{ request: PlanRequest; versions: Record<string, string>; sources: Record<string, VersionSource> }> {
  const kubernetes = await resolveKubernetesVersion(parseKubernetesVersion(request.kubernetesVersion), { online, fetchSmall });
  const resolved = { ...request, kubernetesVersion: kubernetes.version };
  const fromTable = resolveComponents(resolved);
  let versions = { kubernetes: kubernetes.version, ...fromTable.versions };
  let sources: Record<string, VersionSource> = { kubernetes: kubernetes.source, ...fromTable.sources };
  if (fromTable.unresolved.length > 0) {
    if (!online) {
      throw new UsageError(
        `Kubernetes ${kubernetes.version} is newer than the table (${DATA_FILES.components} ends at ${newestTableMinor()}, checked ${TABLES_CHECKED}), and --no-checksums forbids asking the release listings`,
        { hint: `plan with network, or name every version: ${fromTable.unresolved.map((name) => `--component ${name}=VERSION`).join(' ')}` },
      );
    }
    const listings =
      options.listings ??
      createGitHubReleases({
        mirrors: options.mirrors ?? NO_MIRRORS,
        dispatcher: options.dispatcher,
        token: options.githubToken,
        cacheDir: options.listingCacheDir,
        log: options.log ?? silentLogger,
      });
    const listed = await resolveFromListings(fromTable.unresolved, kubernetes.version, listings);
    versions = { ...versions, ...listed.versions };
    sources = { ...sources, ...listed.sources };
  }
  return { request: resolved, versions, sources };
}

/**
 * Plans what a kubeadm cluster of the requested version (exact, a minor's
 * newest patch, or `stable`: resolved first), architectures, OS and CNI needs: every file with its URL, its place in the bundle, where it
 * installs, and the SHA-256 it must have (from upstream's checksum files, a
 * chart index, or pinned at plan time where upstream publishes none); every
 * image by its upstream reference. Returns the document (cluster + fetch
 * sections, plus whatever `base` held).
 *
 * Fetches only small files (checksums, indexes, manifests) and, to ask it for
 * the control-plane images, the release's kubeadm for this host. Downloads
 * nothing else: see `downloadFiles`.
 */
export async function planFetch(asked: PlanRequest, options: PlanOptions): Promise<AgDocument> {
  const log = options.log ?? silentLogger;
  const mirrors = options.mirrors ?? NO_MIRRORS;
  const online = options.online ?? true;
  const fetchSmall = createPlanFetcher({ mirrors, dispatcher: options.dispatcher, log });
  const { request, versions: components, sources } = await resolveVersions(asked, options, fetchSmall, online);
  const context: PlanContext = {
    request,
    components,
    mirrors,
    online,
    root: options.root,
    imageList: options.imageList ?? 'auto',
    kubeadmPath: options.kubeadmPath,
    dispatcher: options.dispatcher,
    log,
    progress: options.progress ?? noProgress,
    fetchSmall,
  };
  const planners = options.planners ?? DEFAULT_PLANNERS;
  const contributions = await Promise.all(planners.map((planner) => planner.plan(context)));
  const merged = merge(contributions, planners);
  if (merged.imageList === undefined) throw new UsageError('no planner listed the control-plane images');
  const fetch: FetchSection = {
    plannedAt: (options.now ?? new Date()).toISOString(),
    components: { ...components, ...merged.components },
    versionSources: { ...sources, ...merged.versionSources },
    imageList: merged.imageList,
    files: merged.files,
    images: merged.images,
  };
  return {
    ...options.base,
    apiVersion: API_VERSION,
    kind: KIND,
    root: options.root,
    cluster: {
      kubernetesVersion: request.kubernetesVersion,
      architectures: request.architectures,
      os: request.os,
      cni: { name: request.cni.name, version: fetch.components['flannel'] ?? request.cni.version ?? '' },
      podSubnet: request.podSubnet,
      serviceSubnet: request.serviceSubnet,
      dnsDomain: request.dnsDomain,
    },
    fetch,
    ...merged.sections,
  };
}
