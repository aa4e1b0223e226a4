import { open } from 'node:fs/promises';
import type { Io } from '@ag/core';
import { stopOrphan } from './child-record.js';
import { containerRunning, removeContainer } from './container-runtime.js';
import type { RegistryPaths } from './paths.js';
import type { RegistryState } from './state.js';
import { stopSupervised, supervisorPid } from './supervisor.js';
import { stopAndRemove, unitIsActive } from './systemd.js';

/** Whether what `state` describes runs now (the process, unit or container; not whether it answers). */
export async function isRunning(paths: RegistryPaths, state: RegistryState | undefined, io: Pick<Io, 'env' | 'stderr'>): Promise<boolean> {
  switch (state?.runner) {
    case undefined:
    case 'process':
      return (await supervisorPid(paths)) !== undefined;
    case 'systemd':
      return unitIsActive({ io, ...(state?.unitDir ? { unitDir: state.unitDir } : {}) });
    default:
      return state?.container ? containerRunning(state.container, io) : false;
  }
}

/** Stops whatever runs the registry of `paths`; returns whether something was running. */
export async function stopRunning(paths: RegistryPaths, state: RegistryState | undefined, io: Pick<Io, 'env' | 'stderr'>): Promise<boolean> {
  // A supervisor can be there without a state file (a crash between start and state write): always check it.
  let stopped = await stopSupervised(paths);
  // The registry a killed supervisor left behind (when the parent-death signal could not be set).
  stopped = (await stopOrphan(paths)) || stopped;
  if (state?.runner === 'systemd') stopped = (await stopAndRemove({ io, ...(state.unitDir ? { unitDir: state.unitDir } : {}) })) || stopped;
  if (state?.container) stopped = (await removeContainer(state.container, io)) || stopped;
  return stopped;
}

/** The last lines of the registry's log, for error messages. */
export async function logTail(path: string, lines = 15): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}
