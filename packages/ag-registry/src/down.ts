import type { Io, Logger } from '@ag/core';
import { registryPaths } from './paths.js';
import { stopRunning } from './runner.js';
import { clearState, readState } from './state.js';

export interface DownOptions {
  dir: string;
  dryRun?: boolean;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
}

export interface DownResult {
  action: 'stopped' | 'not-running' | 'planned';
  runner?: string;
}

/**
 * Stops the registry of DIR, however it was started (supervised process,
 * systemd unit, container), and forgets the run state. Keeps everything
 * else: storage, certificates, credentials, config; `up` starts it again.
 */
export async function down(options: DownOptions): Promise<DownResult> {
  const paths = registryPaths(options.dir);
  const state = await readState(paths);
  if (options.dryRun) return { action: 'planned', ...(state ? { runner: state.runner } : {}) };
  const stopped = await stopRunning(paths, state, options.io);
  await clearState(paths);
  options.log.info(stopped ? `stopped the registry of ${paths.dir}` : `no registry of ${paths.dir} was running; nothing to do`);
  return { action: stopped ? 'stopped' : 'not-running', ...(state ? { runner: state.runner } : {}) };
}
