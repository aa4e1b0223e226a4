import { rm } from 'node:fs/promises';
import { VerificationError } from '@ag/core';
import { simulateInstall, type AptSimulation } from './apt-simulate.js';
import { prepareAptState, runApt, type OsPackagesContext } from './apt-state.js';

/** The sources.list line of a bundle's flat repository (integrity comes from the bundle's signed SHA256SUMS and the Release hashes). */
export function localSourcesList(repoDir: string, arch: string): string {
  return `deb [trusted=yes arch=${arch}] file:${repoDir} ./\n`;
}

/**
 * Proves the bundle's repository is complete before it is carried: a
 * private apt that knows only that repository resolves `requested` against
 * the baseline's status, exactly as the far side will. Any missing
 * dependency fails here, on the connected side, with apt's explanation.
 */
export async function checkLocalAptRepository(
  repoDir: string,
  arch: string,
  baselineStatus: string,
  requested: readonly string[],
  workDir: string,
  context: OsPackagesContext,
): Promise<AptSimulation> {
  const state = await prepareAptState(workDir, arch, [], localSourcesList(repoDir, arch));
  try {
    // A local repository's Release may be newer than a skewed clock; nothing here is fetched from afar.
    const update = await runApt(state, context, 'apt-get', ['update', '-q'], { options: { 'Acquire::Check-Date': 'false' } });
    if (update.exitCode !== 0 || /^(E|W|Err):/m.test(update.stderr)) {
      throw new VerificationError(`the bundle's repository ${repoDir} cannot be read by apt:\n${update.stderr.trim()}`);
    }
    try {
      return await simulateInstall(state, context, baselineStatus, requested);
    } catch (error) {
      throw new VerificationError(`the bundle's repository ${repoDir} is not a complete closure for ${arch}: ${(error as Error).message}`, {
        hint: 'this is a bug in the closure resolution: report it with the document; as a workaround add the missing package with --package',
        cause: error,
      });
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
