import { containerdSupported, containerdVersionOf, newestMinorSupporting, UsageError } from '@ag/core';
import { minorOf } from '../plan/semver.js';

/** The names containerd goes by: the distributions' own package, and docker-ce's repository's. */
const CONTAINERD_PACKAGES = new Set(['containerd', 'containerd.io']);

/**
 * Refuses OS packages whose containerd the cluster's Kubernetes release does
 * not support (containerd's RELEASES.md, "Kubernetes Support": the table in
 * @ag/core containerd-support.ts). The far side's `ag-kubeadm preflight`
 * refuses the same containerd, but only after the bundle has crossed: here
 * it costs the operator a flag, there a trip. `packages` are those the
 * closure carries and those the far side already has (an inventory's), in
 * the distribution's spelling (`1.6.20~ds1-1+deb12u1`). Nothing is checked
 * without a Kubernetes release or a containerd among them.
 */
export function refuseUnsupportedContainerd(kubernetesVersion: string | undefined, packages: ReadonlyArray<{ name: string; version: string }>, what: string): void {
  if (kubernetesVersion === undefined) return;
  const minor = minorOf(kubernetesVersion);
  for (const pkg of packages.filter((p) => CONTAINERD_PACKAGES.has(p.name))) {
    const version = containerdVersionOf(pkg.version);
    if (version === undefined) continue;
    const verdict = containerdSupported(minor, version);
    if (!('supported' in verdict) || verdict.supported) continue;
    const newest = newestMinorSupporting(version);
    const choices = [
      'plan again with --containerd upstream (the bundle then carries a supported containerd and runc from their releases instead)',
      ...(newest === undefined ? [] : [`plan Kubernetes ${newest} or earlier with this containerd`]),
      `leave it out (--no-package ${pkg.name}) and install a supported containerd on the nodes before ag-kubeadm runs`,
      'or plan for an OS release whose containerd is newer (--os)',
    ];
    throw new UsageError(`${what}: ${pkg.name} ${pkg.version} cannot run Kubernetes ${kubernetesVersion}: ${verdict.why}`, {
      hint: `the far side's ag-kubeadm preflight would refuse it, after the trip. Either ${choices.join(', ')}`,
    });
  }
}
