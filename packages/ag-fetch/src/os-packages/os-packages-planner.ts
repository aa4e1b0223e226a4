import type { Planner } from '../plan/context.js';
import { planOsPackages } from './plan-os-packages.js';

/**
 * The OS packages of the plan: the `packages` section, by the OS's own
 * names (`--package` / `--no-package` adjust it). Reads no network: the
 * closure is resolved by `ag-fetch download`.
 */
export const osPackagesPlanner: Planner = {
  name: 'os-packages',
  async plan({ request }) {
    const packages = planOsPackages({
      os: request.os,
      architectures: request.architectures,
      add: request.osPackages?.add ?? [],
      remove: request.osPackages?.remove ?? [],
    });
    return { sections: { packages } };
  },
};
