import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCommand, MissingError, runProgram, UsageError, type InventoryPackage, type Io, type Logger, type PackagesSection } from '@ag/core';
import { parseOsRelease } from '../os-release.js';
import { readNodeText } from '../root-fs.js';
import { installedPackages } from './installed-packages.js';
import { openRootSession, type RootSession } from './root-session.js';

/** The repository id dnf gives the bundle's repository, and the sources.list line apt gets. */
export const BUNDLE_REPO_ID = 'ag-bundle';

export interface InstallOsPackagesOptions {
  /** `/` for this host, or the top of another OS tree (installed into with chroot apt-get / dnf --installroot). */
  root: string;
  /** The bundle's repository on this host (absolute): `<bundle>/packages`. */
  repoDir: string;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
  /** Put before every command, e.g. `['ip', 'netns', 'exec', 'gap']` to prove nothing reaches the network. */
  wrap?: readonly string[];
}

export interface PackageChange {
  name: string;
  arch: string;
  version: string;
  /** The version before, for an upgrade. */
  from?: string;
}

export interface InstallReport {
  /** Requested packages that were not yet installed as carried (empty: nothing was run). */
  pending: string[];
  installed: PackageChange[];
  upgraded: PackageChange[];
  /** The package-manager commands run, as argv. */
  commands: string[][];
}

/**
 * The requested packages the root does not have as the bundle carries them:
 * missing, or installed at another version than the closure holds. A
 * requested package the closure does not hold (the baseline had it) counts
 * as present at any version.
 */
export function pendingPackages(section: PackagesSection, installed: readonly InventoryPackage[]): string[] {
  const have = new Map(installed.map((p) => [p.name, p.version]));
  return section.requested.filter((name) => {
    const version = have.get(name);
    if (version === undefined) return true;
    const carried = (section.closure ?? []).filter((c) => c.name === name).map((c) => c.version);
    return carried.length > 0 && !carried.includes(version);
  });
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * apt with the bundle's flat repository as its only source: a private
 * sources.list, no sources.list.d, private lists and archive directories
 * (the host's apt state is untouched), no date checks (a far-side clock may
 * lag the connected side's), no Recommends (the closure has none).
 */
export function aptOptions(session: Pick<RootSession, 'work'>): string[] {
  const options: Record<string, string> = {
    'Dir::Etc::sourcelist': `${session.work}/sources.list`,
    'Dir::Etc::sourceparts': `${session.work}/sources.list.d`,
    'Dir::State::lists': `${session.work}/lists`,
    'Dir::Cache::archives': `${session.work}/archives`,
    'Dir::Cache::pkgcache': '',
    'Dir::Cache::srcpkgcache': '',
    'APT::Get::List-Cleanup': 'false',
    'Acquire::Check-Date': 'false',
    'Acquire::Check-Valid-Until': 'false',
    'Acquire::Languages': 'none',
    'APT::Install-Recommends': 'false',
    'APT::Install-Suggests': 'false',
    'Dpkg::Options::': '--force-confold',
    'Dpkg::Use-Pty': 'false',
  };
  return Object.entries(options).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

export function aptSourcesLine(repo: string): string {
  return `deb [trusted=yes] file:${repo} ./\n`;
}

/**
 * The dnf command that installs from the bundle's repository alone
 * (`--installroot` for a root other than /). With the signing keys the
 * bundle carries, dnf checks every package's signature again; without them
 * it relies on the connected side's rpmkeys check and the bundle's signature.
 */
export function dnfInstallCommand(repo: string, requested: readonly string[], root: string, releasever?: string, keyFiles: readonly string[] = []): string[] {
  return [
    'dnf',
    'install',
    '--assumeyes',
    // No plugins: subscription-manager, product-id and local reach for the network or the host's repositories.
    '--noplugins',
    '--disablerepo=*',
    `--repofrompath=${BUNDLE_REPO_ID},file://${repo}`,
    `--enablerepo=${BUNDLE_REPO_ID}`,
    ...(keyFiles.length > 0
      ? [`--setopt=${BUNDLE_REPO_ID}.gpgcheck=1`, `--setopt=${BUNDLE_REPO_ID}.gpgkey=${keyFiles.map((k) => `file://${k}`).join(',')}`]
      : [`--setopt=${BUNDLE_REPO_ID}.gpgcheck=0`]),
    '--setopt=install_weak_deps=False',
    ...(root === '/' ? [] : [`--installroot=${root}`, ...(releasever ? [`--releasever=${releasever}`] : [])]),
    ...requested,
  ];
}

async function run(argv: readonly string[], options: InstallOsPackagesOptions, what: string): Promise<void> {
  const [program, ...args] = [...(options.wrap ?? []), ...argv] as [string, ...string[]];
  options.log.debug(formatCommand(program, args));
  await runProgram(program, args, {
    env: { ...options.io.env, PATH, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
    stderr: options.io.stderr,
    streamStdout: options.log.level === 'debug',
    hint: `${what} failed; the output above says why. The bundle's repository is the only one used, so a missing package means the closure lacks it: run ag-nodeprep inventory here and carry it to ag-fetch download --inventory`,
  });
}

function changes(before: readonly InventoryPackage[], after: readonly InventoryPackage[]): { installed: PackageChange[]; upgraded: PackageChange[] } {
  const was = new Map(before.map((p) => [`${p.name}:${p.arch}`, p.version]));
  const installed: PackageChange[] = [];
  const upgraded: PackageChange[] = [];
  for (const p of after) {
    const from = was.get(`${p.name}:${p.arch}`);
    if (from === undefined) installed.push({ name: p.name, arch: p.arch, version: p.version });
    else if (from !== p.version) upgraded.push({ name: p.name, arch: p.arch, version: p.version, from });
  }
  return { installed, upgraded };
}

/**
 * Installs the section's requested packages from the bundle's local
 * repository with every other repository disabled, so the package manager
 * never tries the network. Idempotent: when every requested package is
 * already installed as carried, nothing runs. Reports what it installed and
 * upgraded (from the package database before and after).
 *
 * Does not add the repository to the host's configuration, and does not
 * start services when installing into a root other than /.
 */
export async function installOsPackages(section: PackagesSection, options: InstallOsPackagesOptions): Promise<InstallReport> {
  const { root, log } = options;
  if (section.repository === undefined || section.closure === undefined) {
    throw new UsageError('the packages section has no repository: ag-fetch download has not resolved the closure', {
      hint: 'run ag-fetch download on the connected side, or skip this step with --skip packages',
    });
  }
  const before = await installedPackages(root, section.format, options.io);
  const pending = pendingPackages(section, before);
  if (pending.length === 0) {
    log.info(`packages: all ${section.requested.length} requested packages are installed as carried`);
    return { pending, installed: [], upgraded: [], commands: [] };
  }
  log.info(`packages: installing ${pending.join(', ')} from ${options.repoDir} (every other repository disabled)`);
  const session = await openRootSession({ root, repoDir: options.repoDir, io: options.io, log, chroot: section.format === 'deb' });
  const commands: string[][] = [];
  try {
    if (section.format === 'deb') {
      await writeFile(join(session.workOnHost, 'sources.list'), aptSourcesLine(session.repo));
      for (const dir of ['sources.list.d', 'lists/partial', 'archives/partial']) await mkdir(join(session.workOnHost, dir), { recursive: true });
      const apt = [...session.prefix, 'apt-get', ...aptOptions(session)];
      commands.push([...apt, 'update', '-q'], [...apt, 'install', '--yes', '-q', '--no-install-recommends', ...section.requested]);
    } else {
      const releasever = parseOsRelease((await readNodeText(root, '/etc/os-release')) ?? '')['VERSION_ID'];
      // Keys are named relative to the bundle root (packages/keys/…); the repository is <bundle>/packages.
      const keyFiles = (section.keys ?? []).map((k) => join(session.repo, k.slice(section.repository!.length + 1)));
      commands.push(dnfInstallCommand(session.repo, section.requested, root, releasever, keyFiles));
    }
    for (const command of commands) await run(command, options, `${command[session.prefix.length]} (${section.manager})`);
  } catch (error) {
    if (error instanceof MissingError) {
      throw new MissingError(`installing OS packages: ${error.message}`, {
        hint: section.format === 'deb' ? 'this node needs apt and dpkg' : 'this node needs dnf',
        cause: error,
      });
    }
    throw error;
  } finally {
    await session.close();
  }
  const after = await installedPackages(root, section.format, options.io);
  const result = changes(before, after);
  const left = pendingPackages(section, after);
  if (left.length > 0) throw new MissingError(`after installing, ${left.join(', ')} still not installed as carried`);
  log.info(`packages: ${result.installed.length} installed, ${result.upgraded.length} upgraded`);
  return { pending, ...result, commands };
}
