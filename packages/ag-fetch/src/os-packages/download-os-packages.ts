import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError, resolveInRoot, type PackagesSection } from '@ag/core';
import type { BaselineInput } from './apt-baseline.js';
import type { OsPackagesContext } from './apt-state.js';
import { downloadDebPackages } from './download-deb-packages.js';
import { downloadRpmPackages } from './download-rpm-packages.js';
import { requireOsRelease } from './plan-os-packages.js';

/** Where the OS packages live in a bundle (DESIGN: `packages/`). */
export const PACKAGES_DIR = 'packages';

export interface DownloadOsPackagesOptions extends OsPackagesContext {
  /** The bundle root (absolute). */
  bundleRoot: string;
  /** Private package-manager state kept between runs (default: $XDG_CACHE_HOME/ag/os-packages or ~/.cache/ag/os-packages). */
  cacheDir?: string;
  /** What the far side already has (default: a minimal install of the release). */
  baseline?: BaselineInput;
  /** Resolve and report only; download nothing, change nothing in the bundle. */
  dryRun?: boolean;
  now?: Date;
  /** The cluster's release: a containerd it does not support is refused before anything is downloaded. */
  kubernetesVersion?: string;
}

/** The default cache for private apt/dnf trees. */
export function defaultOsPackagesCache(env: Record<string, string | undefined>): string {
  return join(env['XDG_CACHE_HOME'] ?? join(env['HOME'] ?? homedir(), '.cache'), 'ag', 'os-packages');
}

/**
 * `ag-fetch download` for OS packages: resolves the full dependency closure
 * of `section.requested` for the section's OS release and architectures
 * against the distribution's own signed repositories, as if on a host with
 * the baseline installed, and writes a local repository into `packages/` of
 * the bundle (apt: flat repository with Packages and Release; dnf:
 * repodata). Nothing on the connected host changes: apt and dnf run with
 * private state under `cacheDir`. Returns the section completed with the
 * sources, baseline, closure and what was left out.
 *
 * Does not install anything, and does not sign the repository (the bundle's
 * signed SHA256SUMS covers it).
 */
export async function downloadOsPackages(section: PackagesSection, options: DownloadOsPackagesOptions): Promise<PackagesSection> {
  const release = requireOsRelease(section.os);
  if (release.format !== section.format || release.manager !== section.manager) {
    throw new UsageError(`packages.format ${section.format}/${section.manager} does not match ${release.os} (${release.format}/${release.manager})`, {
      hint: 'plan again with ag-fetch plan --os, or fix the document',
    });
  }
  if (section.requested.length === 0) {
    options.log.info('no OS packages requested: nothing to resolve');
    return { ...section, closure: [], excluded: [] };
  }
  const common = {
    ...options,
    repoDir: resolveInRoot(options.bundleRoot, PACKAGES_DIR),
    repoPath: PACKAGES_DIR,
    cacheDir: options.cacheDir ?? defaultOsPackagesCache(options.io.env),
    baseline: options.baseline ?? { kind: 'minimal' as const },
    dryRun: options.dryRun ?? false,
    now: options.now ?? new Date(),
  };
  return release.format === 'deb' ? downloadDebPackages(release, section, common) : downloadRpmPackages(release, section, common);
}
