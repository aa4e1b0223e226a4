import { UsageError } from '@ag/core';
import type { Planner } from '../plan/context.js';
import type { PlanRequest } from '../plan/request.js';
import { planOsPackages, requireOsRelease } from './plan-os-packages.js';

/** The OS's container runtime packages, by the names the distributions and docker-ce's repository give them. */
const RUNTIME_PACKAGES = new Set(['containerd', 'containerd.io', 'runc']);

/**
 * With `--containerd upstream` the bundle carries containerd and runc from
 * their releases (planners/container-runtime.ts): the OS's own are left out
 * of the default set, and asking for one with --package is refused (two
 * containerds on a node fight over one socket).
 */
function runtimeAdjusted(request: PlanRequest): { add: string[]; remove: string[] } {
  const add = request.osPackages?.add ?? [];
  const remove = request.osPackages?.remove ?? [];
  if (request.containerd !== 'upstream') return { add, remove };
  const asked = add.find((name) => RUNTIME_PACKAGES.has(name));
  if (asked !== undefined) {
    throw new UsageError(`--package ${asked} together with --containerd upstream: the bundle would carry two container runtimes`, {
      hint: `leave out --package ${asked}, or plan with --containerd os`,
    });
  }
  const defaults = requireOsRelease(request.os).packages.map((p) => p.name);
  return { add, remove: [...new Set([...remove, ...defaults.filter((name) => RUNTIME_PACKAGES.has(name))])] };
}

/**
 * The OS packages of the plan: the `packages` section, by the OS's own
 * names (`--package` / `--no-package` adjust it). Reads no network: the
 * closure is resolved by `ag-fetch download`.
 */
export const osPackagesPlanner: Planner = {
  name: 'os-packages',
  async plan({ request }) {
    const packages = planOsPackages({ os: request.os, architectures: request.architectures, ...runtimeAdjusted(request) });
    return { sections: { packages } };
  },
};
