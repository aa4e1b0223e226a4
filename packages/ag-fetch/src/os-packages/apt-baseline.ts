import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PackageInventory as InventorySchema, sha256File, UsageError, withContext, type PackageInventory, type PackagesBaseline } from '@ag/core';
import { Value } from '@sinclair/typebox/value';
import { formatStanzas, parseStanzas, type Stanza } from './deb822.js';
import { simulateInstall, showPackages } from './apt-simulate.js';
import { aptPackagesFiles, type AptState, type OsPackagesContext } from './apt-state.js';
import type { OsRelease } from './os-releases.js';

/** What the far side is taken to have installed: the closure leaves these out. */
export type BaselineInput =
  /** A minimal install of the release (debootstrap's minbase: required packages and apt). The default. */
  | { kind: 'minimal' }
  /** Nothing installed: carry every dependency, libc included. */
  | { kind: 'empty' }
  /** A dpkg status file (`/var/lib/dpkg/status` of a host or root like the far side). */
  | { kind: 'status'; file: string }
  /** `ag-nodeprep inventory` of the far side, carried back. */
  | { kind: 'inventory'; file: string };

export interface InstalledPackage {
  version: string;
  arch: string;
}

export interface AptBaseline {
  /** The dpkg status file apt resolves against. */
  status: string;
  record: PackagesBaseline;
  installed: Map<string, InstalledPackage>;
}

// Fields of an index record that a dpkg status record does not carry.
const INDEX_ONLY = new Set(['Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512', 'Description-md5', 'Tag', 'Task', 'Homepage', 'Built-Using']);

/** An index record turned into the status record of that package, installed. */
export function installedStanza(record: Stanza): Stanza {
  const stanza: Stanza = new Map();
  for (const [name, value] of record) {
    if (INDEX_ONLY.has(name)) continue;
    stanza.set(name, value);
    if (name === 'Package') stanza.set('Status', 'install ok installed');
  }
  return stanza;
}

/** The installed packages of a dpkg status text (config-files and half-installed ones are not installed). */
export function installedPackages(statusText: string): Map<string, InstalledPackage> {
  const installed = new Map<string, InstalledPackage>();
  for (const stanza of parseStanzas(statusText)) {
    const name = stanza.get('Package');
    const state = (stanza.get('Status') ?? '').split(/\s+/)[2];
    if (name === undefined || state !== 'installed') continue;
    installed.set(name, { version: stanza.get('Version') ?? '', arch: stanza.get('Architecture') ?? '' });
  }
  return installed;
}

/** The names of every package of the given priorities in the Packages indexes. */
async function packagesOfPriority(files: readonly string[], priorities: readonly string[]): Promise<string[]> {
  const wanted = new Set(priorities);
  const names = new Set<string>();
  for (const file of files) {
    let name: string | undefined;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.startsWith('Package: ')) name = line.slice(9).trim();
      else if (line.startsWith('Priority: ') && name !== undefined && wanted.has(line.slice(10).trim())) names.add(name);
    }
  }
  return [...names].sort();
}

/**
 * The status of a minimal install, built the way debootstrap's minbase
 * builds the root: every package of the release's minimal priorities plus a
 * few named ones, with their dependencies, at the archive's current
 * versions. A far side installed from older media and never updated has
 * older versions: carry its inventory for an exact closure.
 */
async function minimalStatus(state: AptState, context: OsPackagesContext, release: OsRelease, runDir: string): Promise<Stanza[]> {
  const empty = join(runDir, 'empty-status');
  await writeFile(empty, '');
  const required = await packagesOfPriority(await aptPackagesFiles(state, context), release.minimalPriorities ?? ['required']);
  const simulation = await simulateInstall(state, context, empty, [...required, ...(release.minimalExtra ?? [])]);
  return (await showPackages(state, context, simulation.installs)).map(installedStanza);
}

function inventoryStanzas(inventory: PackageInventory): Stanza[] {
  return inventory.packages.map((p) => {
    const stanza: Stanza = new Map([
      ['Package', p.name],
      ['Status', 'install ok installed'],
      ['Architecture', p.arch],
      ['Version', p.version],
    ]);
    for (const [name, value] of Object.entries(p.fields ?? {})) if (value !== '') stanza.set(name, value);
    return stanza;
  });
}

/** Reads and checks an inventory file written by `ag-nodeprep inventory`. */
export async function readInventory(file: string): Promise<PackageInventory> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw withContext(`reading the inventory ${file}`, error);
  }
  if (!Value.Check(InventorySchema, parsed)) {
    const first = [...Value.Errors(InventorySchema, parsed)][0];
    throw new UsageError(`${file} is not an inventory written by ag-nodeprep inventory (${first?.path ?? ''}: ${first?.message ?? 'invalid'})`, {
      hint: 'on the far side run: ag-nodeprep inventory > inventory.json, and carry that file back',
    });
  }
  return parsed;
}

/** The OS of an inventory in `cluster.os` form (`debian-12`). */
export function inventoryOs(inventory: PackageInventory): string {
  return `${inventory.os.id}-${inventory.os.versionId}`;
}

/**
 * Writes the dpkg status file the closure is resolved against, for one
 * architecture, and says what it holds. An inventory must be of the same OS
 * release and package format as the section.
 */
export async function prepareAptBaseline(
  state: AptState,
  context: OsPackagesContext,
  release: OsRelease,
  input: BaselineInput,
  runDir: string,
): Promise<AptBaseline> {
  const status = join(runDir, 'status');
  let text: string;
  let record: Omit<PackagesBaseline, 'packages'>;
  switch (input.kind) {
    case 'empty':
      text = '';
      record = { kind: 'empty', detail: 'nothing installed: every dependency is carried' };
      break;
    case 'minimal':
      text = formatStanzas(await minimalStatus(state, context, release, runDir));
      record = {
        kind: 'minimal',
        detail: `a minimal ${release.os} install: priority ${(release.minimalPriorities ?? []).join(', ')} packages and ${(release.minimalExtra ?? []).join(', ')}, at the archive's current versions`,
      };
      break;
    case 'status':
      text = await readFile(input.file, 'utf8').catch((error: unknown) => {
        throw withContext(`reading the dpkg status file ${input.file}`, error);
      });
      record = { kind: 'status', detail: input.file, sha256: (await sha256File(input.file)).sha256 };
      break;
    case 'inventory': {
      const inventory = await readInventory(input.file);
      if (inventory.format !== 'deb' || inventoryOs(inventory) !== release.os) {
        throw new UsageError(`the inventory ${input.file} is of ${inventoryOs(inventory)} (${inventory.format}), but the packages are for ${release.os}`, {
          hint: 'give the inventory of a far-side node of the same OS release, or plan for the OS the inventory shows',
        });
      }
      text = formatStanzas(inventoryStanzas(inventory));
      record = {
        kind: 'inventory',
        detail: `${input.file}: ${inventory.os.prettyName ?? inventoryOs(inventory)} at ${inventory.root}, taken ${inventory.takenAt}`,
        sha256: (await sha256File(input.file)).sha256,
      };
      break;
    }
  }
  await writeFile(status, text);
  const installed = installedPackages(text);
  return { status, record: { ...record, packages: installed.size }, installed };
}
