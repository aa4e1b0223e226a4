import { join } from 'node:path';
import type { PackageSource, PackagesSection } from '@ag/core';
import { aptSources } from './apt-state.js';
import { planDnfDownload, type PlannedCommand } from './dnf-plan.js';
import { defaultOsPackagesCache, PACKAGES_DIR } from './download-os-packages.js';
import { requireOsRelease } from './plan-os-packages.js';

/** What `ag-fetch download` will do for the OS packages, known without network, without apt or dnf, and without writing anything. */
export interface OsPackagesDownloadPlan {
  os: string;
  architectures: string[];
  requested: string[];
  /** The distribution repositories the closure is resolved against (every architecture's, once each). */
  sources: PackageSource[];
  /** The programs resolving needs on this host. */
  programs: string[];
  /** The keyrings signatures are checked against (deb). */
  keyrings: string[];
  /** The private apt/dnf state download keeps between runs. */
  cache: string;
  /** The bundle's repository directory (relative to the bundle root). */
  repository: string;
  /** dnf: the commands it would run, per architecture. */
  commands: PlannedCommand[];
}

/** The programs each path runs (apt-state.ts runApt; download-rpm-packages.ts requirePrograms). */
export const DEB_PROGRAMS = ['apt-get', 'apt-cache'] as const;
export const RPM_PROGRAMS = ['dnf', 'rpmkeys', 'rpm', 'createrepo_c'] as const;

function once(sources: PackageSource[]): PackageSource[] {
  return sources.filter((s, i) => sources.findIndex((t) => t.uri === s.uri && t.suite === s.suite) === i);
}

/**
 * The OS packages half of `ag-fetch download`, planned: for `download
 * --dry-run` (which must not fill the cache with the archive's indexes, as
 * resolving would) and for `ag-fetch check` (which hosts to reach, which
 * programs to find). Pure: reads the release tables only.
 */
export function planOsPackagesDownload(section: PackagesSection, env: Record<string, string | undefined>, cacheDir?: string): OsPackagesDownloadPlan {
  const release = requireOsRelease(section.os);
  const cache = cacheDir ?? defaultOsPackagesCache(env);
  const common = { os: section.os, architectures: [...section.architectures], requested: [...section.requested], cache, repository: PACKAGES_DIR };
  if (release.format === 'deb') {
    const sources = once(section.architectures.flatMap((arch) => aptSources(release, arch)));
    return { ...common, sources, programs: [...DEB_PROGRAMS], keyrings: [...new Set(sources.flatMap((s) => (s.keyring === undefined ? [] : [s.keyring])))], commands: [] };
  }
  const plans = section.architectures.map((arch) => planDnfDownload(release, section, arch, join(cache, `${release.os}-${arch}`), PACKAGES_DIR));
  return { ...common, sources: once(plans.flatMap((p) => p.sources)), programs: [...RPM_PROGRAMS], keyrings: [], commands: plans.flatMap((p) => p.commands) };
}
