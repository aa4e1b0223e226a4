import { UsageError, withContext } from '@ag/core';
import type { PlanContext } from './context.js';
import type { VersionSource } from './version-source.js';
import { newestTablePatch, newestTableMinor, TABLES_CHECKED } from './versions.js';

/** What `--kubernetes-version` asked for: an exact release, the newest patch of a minor, or the newest stable release. */
export type KubernetesVersionSpec = { kind: 'exact'; version: string } | { kind: 'minor'; minor: string } | { kind: 'stable' };

/**
 * `v1.27.3` / `1.27.3` (exact), `1.35` / `v1.35` / `stable-1.35` (the newest
 * patch of 1.35), `stable` (the newest stable release): the labels kubeadm
 * itself accepts for stable releases (cmd/kubeadm/app/util/version.go,
 * `stable`, `stable-1.N`). Pre-releases, `latest` and ranges are refused:
 * ag carries released bits only.
 */
export function parseKubernetesVersion(input: string): KubernetesVersionSpec {
  const text = input.trim();
  let match = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (match !== null) return { kind: 'exact', version: `v${match[1]}.${match[2]}.${match[3]}` };
  match = /^(?:stable-)?v?(\d+)\.(\d+)$/.exec(text);
  if (match !== null) return { kind: 'minor', minor: `${match[1]}.${match[2]}` };
  if (text === 'stable') return { kind: 'stable' };
  throw new UsageError(`--kubernetes-version ${JSON.stringify(input)}: expected a release (v1.35.2), a minor (1.35, meaning its newest patch) or "stable"`, {
    hint: 'pre-releases and "latest" are not carried across the gap; the document records the exact release either way',
  });
}

/** A spec as `--kubernetes-version` would take it again: `v1.27.3`, `v1.35`, `stable`. */
export function specText(spec: KubernetesVersionSpec): string {
  return spec.kind === 'exact' ? spec.version : spec.kind === 'minor' ? `v${spec.minor}` : 'stable';
}

/** The stable-release file dl.k8s.io publishes for a spec (the files kubeadm reads for the same labels). */
export function stableTxtUrl(spec: Exclude<KubernetesVersionSpec, { kind: 'exact' }>): string {
  return spec.kind === 'stable' ? 'https://dl.k8s.io/release/stable.txt' : `https://dl.k8s.io/release/stable-${spec.minor}.txt`;
}

/** Reads a stable.txt: one release, `v1.35.9` and a newline; anything else is refused. */
export function parseStableTxt(text: string, url: string, minor?: string): string {
  const version = text.trim();
  const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (match === null) throw new UsageError(`${url} does not name a release (it says ${JSON.stringify(version.slice(0, 40))})`, { hint: 'check the mirror for dl.k8s.io' });
  if (minor !== undefined && `${match[1]}.${match[2]}` !== minor) throw new UsageError(`${url} names ${version}, which is not a ${minor} release`);
  return version;
}

/**
 * The exact release to plan, and where it came from. Connected, minors and
 * `stable` resolve the way upstream publishes them (dl.k8s.io/release/
 * stable-1.N.txt, stable.txt); offline (--no-checksums) to the newest patch
 * the dated table knows, and the source says so.
 */
export async function resolveKubernetesVersion(
  spec: KubernetesVersionSpec,
  context: Pick<PlanContext, 'online' | 'fetchSmall'>,
): Promise<{ version: string; source: VersionSource }> {
  if (spec.kind === 'exact') return { version: spec.version, source: { from: 'flag', detail: `--kubernetes-version ${spec.version}` } };
  const asked = spec.kind === 'stable' ? 'stable' : spec.minor;
  if (context.online) {
    const url = stableTxtUrl(spec);
    const text = (await context.fetchSmall(url, `Kubernetes ${asked}: reading which release is the newest`)).toString('utf8');
    try {
      return { version: parseStableTxt(text, url, spec.kind === 'minor' ? spec.minor : undefined), source: { from: 'stable-txt', detail: url } };
    } catch (error) {
      throw withContext(`resolving --kubernetes-version ${asked}`, error);
    }
  }
  const minor = spec.kind === 'minor' ? spec.minor : newestTableMinor();
  const version = newestTablePatch(minor);
  if (version === undefined) {
    throw new UsageError(`--kubernetes-version ${asked}: without network the newest ${minor} patch can only come from the table, which does not know ${minor}`, {
      hint: 'name the exact release (e.g. v1.35.2), or plan with network so dl.k8s.io/release/stable-1.N.txt can answer',
    });
  }
  return {
    version,
    source: { from: 'table', detail: `the newest ${minor} patch the table knew when checked (no network: dl.k8s.io not asked; newer patches may exist)`, checked: TABLES_CHECKED },
  };
}
