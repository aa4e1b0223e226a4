import { UsageError } from '@ag/core';
import componentsTable from '../../data/components.json' with { type: 'json' };
import controlPlaneTable from '../../data/control-plane-images.json' with { type: 'json' };
import flannelTable from '../../data/flannel.json' with { type: 'json' };
import type { PlanRequest } from './request.js';
import { compareVersions, minorOf } from './semver.js';
import type { VersionSource } from './version-source.js';

/** Where the tables live in the repository, for the document's notes. */
export const DATA_FILES = {
  components: 'packages/ag-fetch/data/components.json',
  controlPlane: 'packages/ag-fetch/data/control-plane-images.json',
  flannel: 'packages/ag-fetch/data/flannel.json',
  containerRuntime: 'packages/ag-fetch/data/container-runtime.json',
} as const;

/** The date the tables were last checked against upstream (every table carries it; they are checked together). */
export const TABLES_CHECKED: string = componentsTable.checked;

/** The components a plan always names (besides kubernetes), each overridable with --component. */
export const COMPONENT_NAMES = ['crictl', 'cni-plugins', 'helm', 'k9s', 'kubernetes-release', 'flannel', 'registry'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];
/** Components that only change images; they override what kubeadm or the table says. */
export const IMAGE_COMPONENTS = ['pause', 'etcd', 'coredns', 'flannel-cni-plugin'] as const;
/** Components planned only with `--containerd upstream` (planners/container-runtime.ts, data/container-runtime.json). */
export const RUNTIME_COMPONENTS = ['containerd', 'runc'] as const;
const KNOWN_COMPONENTS: readonly string[] = [...COMPONENT_NAMES, ...IMAGE_COMPONENTS, ...RUNTIME_COMPONENTS];

type ComponentRow = Record<ComponentName, string> & { sources: Record<ComponentName, string>; note?: string };
const MINORS = componentsTable.minors as Record<string, ComponentRow | undefined>;
const TABLE_MINORS = Object.keys(MINORS).sort(compareVersions);

/** The newest Kubernetes minor the tables know. */
export const newestTableMinor = (): string => TABLE_MINORS.at(-1)!;

/** The newest patch of `minor` the table knew when checked. */
export function newestTablePatch(minor: string): string | undefined {
  return (controlPlaneTable.newestPatches.minors as Record<string, string | undefined>)[minor];
}

/**
 * Where a Kubernetes minor stands against the component table: `table` (a
 * row exists), `newer` (newer than the newest row: "newer than the table",
 * resolved from release listings when connected), `older` (before the first
 * row, which ag does not plan).
 */
export function tableStanding(kubernetesVersion: string): 'table' | 'newer' | 'older' {
  const minor = minorOf(kubernetesVersion);
  if (MINORS[minor] !== undefined) return 'table';
  return compareVersions(minor, newestTableMinor()) > 0 ? 'newer' : 'older';
}

export interface ResolvedComponents {
  versions: Record<string, string>;
  sources: Record<string, VersionSource>;
  /** Components left for the release listings (only when the minor is newer than the table). */
  unresolved: ComponentName[];
}

/**
 * The version of every component for this request and where it came from:
 * `--component` first, then `--cni flannel@V`, then the table's row for the
 * Kubernetes minor. A minor newer than the table leaves the rest unresolved
 * (the caller asks the release listings, or refuses offline); a minor older
 * than the table is refused.
 */
export function resolveComponents(request: PlanRequest): ResolvedComponents {
  const minor = minorOf(request.kubernetesVersion);
  const standing = tableStanding(request.kubernetesVersion);
  if (standing === 'older') {
    throw new UsageError(`Kubernetes ${minor} is older than anything ${DATA_FILES.components} knows (${TABLE_MINORS[0]} to ${newestTableMinor()})`, {
      hint: 'plan a supported release; ag plans Kubernetes 1.27 and newer',
    });
  }
  for (const name of Object.keys(request.components)) {
    if (!KNOWN_COMPONENTS.includes(name)) {
      throw new UsageError(`--component ${name}: unknown component`, { hint: `known: ${KNOWN_COMPONENTS.join(', ')}` });
    }
  }
  const row = MINORS[minor];
  const versions: Record<string, string> = {};
  const sources: Record<string, VersionSource> = {};
  const unresolved: ComponentName[] = [];
  for (const name of COMPONENT_NAMES) {
    const flag = request.components[name];
    const cni = name === 'flannel' ? request.cni.version : undefined;
    if (flag !== undefined) {
      versions[name] = flag;
      sources[name] = { from: 'flag', detail: `--component ${name}=${flag}` };
    } else if (cni !== undefined) {
      versions[name] = cni;
      sources[name] = { from: 'flag', detail: `--cni flannel@${cni}` };
    } else if (row !== undefined) {
      versions[name] = row[name];
      sources[name] = { from: 'table', detail: `${DATA_FILES.components}, Kubernetes ${minor}: ${row.sources[name]}`, checked: TABLES_CHECKED };
    } else {
      unresolved.push(name);
    }
  }
  for (const name of IMAGE_COMPONENTS) {
    const flag = request.components[name];
    if (flag !== undefined) {
      versions[name] = flag;
      sources[name] = { from: 'flag', detail: `--component ${name}=${flag}` };
    }
  }
  return { versions, sources, unresolved };
}

export interface TableImages {
  pause: string;
  etcd: string;
  coredns: string;
  /** e.g. "control-plane-images.json, row v1.27.0–v1.27.3 (source: …), checked 2026-12-02" */
  detail: string;
  /** True when the row was inferred from upstream changes, not checked against that release's kubeadm. */
  inferred: boolean;
}

/** kubeadm's pause/etcd/coredns for an exact release from the table, or undefined when it has no row. */
export function tableImages(kubernetesVersion: string): TableImages | undefined {
  const row = controlPlaneTable.ranges.find((r) => compareVersions(r.from, kubernetesVersion) <= 0 && compareVersions(kubernetesVersion, r.to) <= 0);
  if (row === undefined) return undefined;
  const source = (controlPlaneTable.sources as Record<string, string>)[row.source] ?? row.source;
  return {
    pause: row.pause,
    etcd: row.etcd,
    coredns: row.coredns,
    detail: `${DATA_FILES.controlPlane}, row ${row.from}–${row.to} (source: ${source}), checked ${controlPlaneTable.checked}`,
    inferred: row.source.startsWith('inferred'),
  };
}

/** The images a flannel release's manifest uses, from the table. */
export function flannelTableImages(version: string): { flannel: string; cniPlugin: string } | undefined {
  return (flannelTable.releases as Record<string, { flannel: string; cniPlugin: string } | undefined>)[version];
}

export const FLANNEL_MANIFEST_URL = (version: string): string => flannelTable.manifestUrl.replace('{version}', version);
