import { UsageError } from '@ag/core';
import componentsTable from '../../data/components.json' with { type: 'json' };
import controlPlaneTable from '../../data/control-plane-images.json' with { type: 'json' };
import flannelTable from '../../data/flannel.json' with { type: 'json' };
import { minorOf, type PlanRequest } from './request.js';

/** Where the tables live in the repository, for the document's notes. */
export const DATA_FILES = {
  components: 'packages/ag-fetch/data/components.json',
  controlPlane: 'packages/ag-fetch/data/control-plane-images.json',
  flannel: 'packages/ag-fetch/data/flannel.json',
} as const;

/** The components a plan always names (besides kubernetes), each overridable with --component. */
export const COMPONENT_NAMES = ['crictl', 'cni-plugins', 'helm', 'k9s', 'kubernetes-release', 'flannel', 'registry'] as const;
/** Components that only change images; they override what kubeadm or the table says. */
export const IMAGE_COMPONENTS = ['pause', 'etcd', 'coredns', 'flannel-cni-plugin'] as const;

function compare(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map(Number);
  const pb = b.replace(/^v/, '').split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The version of every component for this request: the table's defaults for
 * the Kubernetes minor, then `--cni flannel@V`, then `--component` overrides.
 */
export function resolveComponents(request: PlanRequest): Record<string, string> {
  const minor = minorOf(request.kubernetesVersion);
  const defaults = (componentsTable.minors as Record<string, Record<string, string> | undefined>)[minor];
  const known = Object.keys(componentsTable.minors).join(', ');
  const resolved: Record<string, string> = { kubernetes: request.kubernetesVersion };
  for (const name of COMPONENT_NAMES) {
    const value = request.components[name] ?? (name === 'flannel' ? request.cni.version : undefined) ?? defaults?.[name];
    if (value === undefined) {
      throw new UsageError(`no default ${name} version for Kubernetes ${minor} (${DATA_FILES.components} knows ${known})`, {
        hint: `pass --component ${name}=VERSION (and the others this message names on the next run)`,
      });
    }
    resolved[name] = value;
  }
  for (const [name, value] of Object.entries(request.components)) {
    if (!(name in resolved) && !(IMAGE_COMPONENTS as readonly string[]).includes(name)) {
      throw new UsageError(`--component ${name}: unknown component`, {
        hint: `known: ${[...COMPONENT_NAMES, ...IMAGE_COMPONENTS].join(', ')}`,
      });
    }
    resolved[name] = value;
  }
  return resolved;
}

export interface TableImages {
  pause: string;
  etcd: string;
  coredns: string;
  /** e.g. "control-plane-images.json v1.27.0–v1.27.3 (REFERENCE.md …)" */
  detail: string;
}

/** kubeadm's pause/etcd/coredns for an exact release from the table, or undefined when it has no row. */
export function tableImages(kubernetesVersion: string): TableImages | undefined {
  const row = controlPlaneTable.ranges.find((r) => compare(r.from, kubernetesVersion) <= 0 && compare(kubernetesVersion, r.to) <= 0);
  if (row === undefined) return undefined;
  const source = (controlPlaneTable.sources as Record<string, string>)[row.source] ?? row.source;
  return {
    pause: row.pause,
    etcd: row.etcd,
    coredns: row.coredns,
    detail: `${DATA_FILES.controlPlane}, row ${row.from}–${row.to} (source: ${source})`,
  };
}

/** The images a flannel release's manifest uses, from the table. */
export function flannelTableImages(version: string): { flannel: string; cniPlugin: string } | undefined {
  return (flannelTable.releases as Record<string, { flannel: string; cniPlugin: string } | undefined>)[version];
}

export const FLANNEL_MANIFEST_URL = (version: string): string => flannelTable.manifestUrl.replace('{version}', version);
