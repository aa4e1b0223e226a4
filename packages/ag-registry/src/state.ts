import { rm } from 'node:fs/promises';
import { writeFileAtomic, type RegistryMode, type RegistryRunner } from '@ag/core';
import type { RuntimeTarget } from './container-runtime.js';
import { readOptional } from './files.js';
import type { RegistryPaths } from './paths.js';

/** What `up` started, kept in DIR/run/state.json so that status, down and the next up find it. */
export interface RegistryState {
  mode: RegistryMode;
  runner: RegistryRunner;
  endpoint: string;
  listen: string;
  /** SHA-256 over everything that defines the running registry (config, certificate, credentials, command). */
  configDigest: string;
  startedAt: string;
  /** Embedded mode: the layout served. */
  layout?: string;
  /** Container modes: where the container runs. */
  container?: RuntimeTarget;
  /** systemd runner: the directory the unit was written to. */
  unitDir?: string;
  server?: { binary?: string; binarySha256?: string; image?: string; imageDigest?: string };
}

export async function readState(paths: RegistryPaths): Promise<RegistryState | undefined> {
  const text = await readOptional(paths.stateFile);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as RegistryState;
  } catch {
    return undefined;
  }
}

export async function writeState(paths: RegistryPaths, state: RegistryState): Promise<void> {
  await writeFileAtomic(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export async function clearState(paths: RegistryPaths): Promise<void> {
  await rm(paths.stateFile, { force: true });
}
