import { UsageError, type PackagesSection } from '@ag/core';
import { findOsRelease, knownOsReleases, type OsRelease } from './os-releases.js';

export interface PlanOsPackagesOptions {
  /** `debian-12`, `ubuntu-22.04`, `fedora-37`, `rhel-9`… (the cluster's `os`). */
  os: string;
  /** Kubernetes/Go architecture names of the nodes (amd64, arm64…). */
  architectures: readonly string[];
  /** `--package NAME`: more packages, by the OS's names. */
  add?: readonly string[];
  /** `--no-package NAME`: packages of the default set to leave out. */
  remove?: readonly string[];
}

const PACKAGE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9+._-]*$/;

/** The release for `os`, or a usage error that lists the ones ag knows. */
export function requireOsRelease(os: string): OsRelease {
  const release = findOsRelease(os);
  if (release === undefined) {
    throw new UsageError(`ag does not know the OS packages of ${JSON.stringify(os)}; it knows ${knownOsReleases().join(', ')}`, {
      hint: 'pick one of those with --os, or skip OS packages and install them on the far side by hand',
    });
  }
  return release;
}

/** The OS's names for the node architectures; refuses one the release does not build for. */
export function osArchitectures(release: OsRelease, architectures: readonly string[]): string[] {
  return architectures.map((arch) => {
    const name = release.architectures[arch];
    if (name === undefined) {
      throw new UsageError(`${release.os} has no packages for architecture ${arch}; it has ${Object.keys(release.architectures).join(', ')}`);
    }
    return name;
  });
}

/**
 * The `packages` section of a plan: which of the OS's packages a kubeadm
 * node needs, by that OS's names, with why each is there; `add` and `remove`
 * adjust the default set. Pure: reads no network and no repository (a name
 * that does not exist is found by `download`, which resolves the closure).
 */
export function planOsPackages(options: PlanOsPackagesOptions): PackagesSection {
  const release = requireOsRelease(options.os);
  const architectures = osArchitectures(release, options.architectures);
  const reasons = new Map(release.packages.map((p) => [p.name, p.why]));
  for (const name of options.remove ?? []) {
    if (!reasons.has(name)) {
      throw new UsageError(`--no-package ${name}: not one of the packages planned for ${release.os} (${[...reasons.keys()].join(', ')})`);
    }
    reasons.delete(name);
  }
  for (const name of options.add ?? []) {
    if (!PACKAGE_NAME.test(name)) throw new UsageError(`--package ${JSON.stringify(name)} is not a package name`);
    if (!reasons.has(name)) reasons.set(name, 'asked for with --package');
  }
  return {
    os: release.os,
    format: release.format,
    manager: release.manager,
    architectures: [...new Set(architectures)],
    requested: [...reasons.keys()],
    reasons: Object.fromEntries(reasons),
  };
}
