import { ExternalError, MissingError } from '@ag/core';
import { parseStanzas, type Stanza } from './deb822.js';
import { runApt, type AptState, type OsPackagesContext } from './apt-state.js';

/** One package apt would install (or upgrade) to satisfy a request. */
export interface AptInstall {
  name: string;
  version: string;
  arch: string;
  /** The version installed now, for an upgrade. */
  replaces?: string;
}

export interface AptSimulation {
  installs: AptInstall[];
  /** Installed packages apt would remove (a conflict); the caller warns. */
  removals: string[];
}

// Inst libssl3 [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])
const INST = /^Inst (\S+)(?: \[([^\]]+)\])? \((\S+) .*\[([^\]]+)\]\)/;
const REMV = /^Remv (\S+)/;

/** Parses `apt-get -s install` output (LC_ALL=C). */
export function parseSimulation(stdout: string): AptSimulation {
  const installs: AptInstall[] = [];
  const removals: string[] = [];
  for (const line of stdout.split('\n')) {
    const inst = INST.exec(line);
    if (inst) {
      const [, rawName, replaces, version, arch] = inst as unknown as [string, string, string | undefined, string, string];
      // Single-architecture trees print plain names; keep a `:arch` suffix off either way.
      const name = rawName.replace(/:[a-z0-9]+$/, '');
      installs.push({ name, version, arch, ...(replaces === undefined ? {} : { replaces }) });
      continue;
    }
    const remv = REMV.exec(line);
    if (remv) removals.push(remv[1] as string);
  }
  return { installs, removals };
}

function unmet(said: string): string {
  const start = said.indexOf('The following packages have unmet dependencies');
  const text = start >= 0 ? said.slice(start) : said;
  return text.trim().split('\n').slice(0, 15).join('\n');
}

/**
 * What apt would install for `names` on a host whose dpkg status is
 * `status`: the exact closure (Depends and Pre-Depends; no Recommends),
 * nothing downloaded. An unknown package name is a MissingError; an
 * unsatisfiable dependency is an ExternalError carrying apt's explanation.
 */
export async function simulateInstall(
  state: AptState,
  context: OsPackagesContext,
  status: string,
  names: readonly string[],
): Promise<AptSimulation> {
  const result = await runApt(state, context, 'apt-get', ['install', '--simulate', '--yes', ...names], { status });
  const said = `${result.stdout}\n${result.stderr}`;
  if (result.exitCode !== 0) {
    const unknown = [...said.matchAll(/Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate/g)].map((m) => m[1] ?? m[2]);
    if (unknown.length > 0) {
      throw new MissingError(`resolving ${names.join(' ')} for ${state.arch}: the archive has no package ${unknown.join(', ')}`, {
        hint: 'check the name for this OS release (apt-cache search on a host of it), or drop it with --no-package',
      });
    }
    throw new ExternalError(`resolving ${names.join(' ')} for ${state.arch}: apt cannot satisfy the dependencies:\n${unmet(said)}`, {
      hint: 'an inventory from the far side (ag-nodeprep inventory) may hold a package that conflicts; otherwise drop the package named above',
    });
  }
  return parseSimulation(result.stdout);
}

/** The index stanzas of exact versions (`apt-cache show name=version`), one per package, in request order. */
export async function showPackages(state: AptState, context: OsPackagesContext, packages: readonly AptInstall[]): Promise<Stanza[]> {
  if (packages.length === 0) return [];
  const result = await runApt(state, context, 'apt-cache', ['show', ...packages.map((p) => `${p.name}=${p.version}`)]);
  if (result.exitCode !== 0) throw new ExternalError(`apt-cache show failed: ${result.stderr.trim()}`);
  // The same version in two suites (bookworm and bookworm-security) prints twice: keep the first.
  const byKey = new Map<string, Stanza>();
  for (const stanza of parseStanzas(result.stdout)) {
    const key = `${stanza.get('Package')}=${stanza.get('Version')}=${stanza.get('Architecture')}`;
    if (!byKey.has(key)) byKey.set(key, stanza);
  }
  return packages.map((p) => {
    const stanza = byKey.get(`${p.name}=${p.version}=${p.arch}`);
    if (stanza === undefined) throw new ExternalError(`apt-cache show printed no record for ${p.name} ${p.version} (${p.arch})`);
    return stanza;
  });
}
