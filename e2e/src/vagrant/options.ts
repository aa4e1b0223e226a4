import type { VagrantOptions } from '../trip/world.js';

/** The boxes the Vagrantfile offers (AG_BOX) and the OS name ag-fetch plans for each. */
export const BOXES = {
  fedora: { box: 'fedora/37-cloud-base', os: 'fedora-37' },
  ubuntu: { box: 'generic/ubuntu2204', os: 'ubuntu-22.04' },
} as const;

export interface DriverOptions extends VagrantOptions {
  provider?: string;
  skipUp: boolean;
}

/** The driver's settings from the environment the Vagrantfile reads too, so that both agree on the machines. */
export function vagrantOptionsFromEnv(env: NodeJS.ProcessEnv): DriverOptions {
  const boxName = env['AG_BOX'] ?? 'fedora';
  if (!(boxName in BOXES)) throw new Error(`AG_BOX=${boxName}: it must be one of ${Object.keys(BOXES).join(', ')}`);
  const workers = Number(env['AG_WORKERS'] ?? '1');
  if (!Number.isInteger(workers) || workers < 1 || workers > 9) throw new Error(`AG_WORKERS=${env['AG_WORKERS']}: give a whole number of workers from 1 to 9`);
  const labNet = env['AG_LAB_NET'] ?? '192.168.56';
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(labNet)) throw new Error(`AG_LAB_NET=${labNet}: give the first three octets of a /24, e.g. 192.168.56`);
  return {
    os: BOXES[boxName as keyof typeof BOXES].os,
    labNet,
    ha: env['AG_HA'] === '1',
    workers,
    ...(env['AG_PROVIDER'] ? { provider: env['AG_PROVIDER'] } : {}),
    skipUp: env['AG_SKIP_UP'] === '1',
  };
}
