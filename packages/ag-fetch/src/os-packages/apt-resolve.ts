import { access, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ExternalError, MissingError, type ExcludedPackage } from '@ag/core';
import { field, type Stanza } from './deb822.js';
import type { AptBaseline } from './apt-baseline.js';
import { simulateInstall, showPackages, type AptInstall } from './apt-simulate.js';
import { runApt, type AptState, type OsPackagesContext } from './apt-state.js';

/** One package of a resolved closure, with its index record (which carries Filename, Size, SHA256). */
export interface ResolvedDeb extends AptInstall {
  record: Stanza;
  /** The archive's pool path, e.g. pool/main/c/containerd/containerd_1.6.20~ds1-1+deb12u3_amd64.deb */
  filename: string;
  size: number;
  sha256: string;
}

export interface AptClosure {
  packages: ResolvedDeb[];
  /** Packages of the closure on an empty host that the baseline already has. */
  excluded: ExcludedPackage[];
  /** Baseline packages apt would remove to install the closure. */
  removals: string[];
}

function resolved(install: AptInstall, record: Stanza): ResolvedDeb {
  const sha256 = field(record, 'SHA256');
  return { ...install, record, filename: field(record, 'Filename'), size: Number(field(record, 'Size')), sha256 };
}

/**
 * The dependency closure of `requested` on a host with the baseline
 * installed: what apt would install there, exact versions (the newest the
 * release's suites hold, security updates included). `excluded` says what a
 * host with nothing installed would also need but the baseline already has.
 */
export async function resolveAptClosure(
  state: AptState,
  context: OsPackagesContext,
  baseline: AptBaseline,
  requested: readonly string[],
  runDir: string,
): Promise<AptClosure> {
  const simulation = await simulateInstall(state, context, baseline.status, requested);
  const reinstalls = simulation.installs.filter((p) => p.replaces === p.version);
  if (reinstalls.length > 0) {
    // apt saw the baseline's record of that version differ from the archive's (a hand-made status or an old inventory).
    context.log.warn(`the baseline's records of ${reinstalls.map((p) => p.name).join(', ')} differ from the archive's same versions; they are carried again`);
  }
  const records = await showPackages(state, context, simulation.installs);
  const packages = simulation.installs.map((install, i) => resolved(install, records[i] as Stanza));
  const empty = join(runDir, 'nothing-installed');
  await writeFile(empty, '');
  const everything = await simulateInstall(state, context, empty, requested);
  const carried = new Set(packages.map((p) => p.name));
  const excluded = everything.installs
    .filter((p) => !carried.has(p.name) && baseline.installed.has(p.name))
    .map((p) => {
      const have = baseline.installed.get(p.name)!;
      return { name: p.name, version: have.version, arch: have.arch };
    });
  return { packages, excluded, removals: simulation.removals };
}

/** apt's name for a downloaded archive: `name_version_arch.deb` with `:` (epochs) and `%` escaped, as apt-pkg's QuoteString does. */
export function archiveFileName(name: string, version: string, arch: string): string {
  const quote = (text: string, bad: string): string =>
    [...text].map((c) => (bad.includes(c) || c === '%' || c <= ' ' || c > '~' ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('');
  return `${quote(name, '_:')}_${quote(version, '_:')}_${quote(arch, '_:.')}.deb`;
}

/**
 * Downloads the closure into the private archive cache (apt checks every
 * file against the signed index as it arrives; files already there and
 * matching are not fetched again) and returns where each one is.
 */
export async function downloadAptClosure(
  state: AptState,
  context: OsPackagesContext,
  baseline: AptBaseline,
  requested: readonly string[],
  closure: readonly ResolvedDeb[],
): Promise<Map<ResolvedDeb, string>> {
  if (closure.length > 0) {
    const result = await runApt(state, context, 'apt-get', ['install', '--download-only', '--yes', '-q', ...requested], {
      status: baseline.status,
      stream: context.log.level !== 'error',
    });
    if (result.exitCode !== 0) {
      const said = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-10).join('\n');
      throw new ExternalError(`downloading ${closure.length} packages for ${state.arch} failed:\n${said}`, {
        hint: 'run again: files already downloaded and verified are kept in the cache',
      });
    }
  }
  // Keeps the private archive cache bounded: drops .debs the archive no longer offers (superseded versions).
  await runApt(state, context, 'apt-get', ['autoclean', '-q'], { status: baseline.status });
  const files = new Map<ResolvedDeb, string>();
  for (const deb of closure) {
    const file = join(state.dir, 'archives', archiveFileName(deb.name, deb.version, deb.arch));
    files.set(deb, file);
  }
  for (const [deb, file] of files) {
    await access(file).catch(() => {
      throw new MissingError(`apt reported ${deb.name} ${deb.version} downloaded, but ${file} is not there (pool file ${basename(deb.filename)})`);
    });
  }
  return files;
}
