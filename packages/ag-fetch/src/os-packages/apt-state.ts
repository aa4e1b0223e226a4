import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ExternalError,
  MissingError,
  runProgram,
  UnreachableError,
  VerificationError,
  type Io,
  type Logger,
  type PackageSource,
  type ProgramResult,
} from '@ag/core';
import type { AptRepository, OsRelease } from './os-releases.js';

/** Where output goes and how it is logged; children never write to our stdout. */
export interface OsPackagesContext {
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
}

/**
 * A private apt: its own sources.list, keyrings, package lists, archive cache
 * and dpkg status, all under one directory, so resolving a closure for
 * another release changes nothing on the connected host and reads none of
 * its apt configuration (APT_CONFIG is read before /etc/apt/apt.conf.d, and
 * points every Dir:: at the private tree).
 */
export interface AptState {
  dir: string;
  /** The dpkg architecture it resolves for. */
  arch: string;
  configFile: string;
  sources: PackageSource[];
}

export function repositoryUri(repository: AptRepository, arch: string): string {
  return repository.portsUri !== undefined && arch !== 'amd64' && arch !== 'i386' ? repository.portsUri : repository.uri;
}

/** The apt repositories of a release as the document records them. */
export function aptSources(release: OsRelease, arch: string): PackageSource[] {
  return (release.aptRepositories ?? []).map((r) => ({
    name: r.name,
    uri: repositoryUri(r, arch),
    suite: r.suite,
    components: r.components,
    keyring: r.keyring,
  }));
}

/** One-line sources.list; `signed-by` makes apt check each InRelease against that keyring alone. */
export function renderSourcesList(sources: readonly PackageSource[], arch: string): string {
  return sources
    .map((s) => `deb [arch=${arch} signed-by=${s.keyring}] ${s.uri} ${s.suite} ${(s.components ?? []).join(' ')}\n`)
    .join('');
}

/** APT_CONFIG for the private tree. The status file is chosen per run (`-o Dir::State::status`). */
export function renderAptConfig(dir: string, arch: string, runningAsRoot: boolean): string {
  const lines = [
    `Dir "/";`,
    `Dir::State "${dir}/state/";`,
    `Dir::State::lists "${dir}/lists/";`,
    `Dir::State::status "${dir}/state/status";`,
    `Dir::State::extended_states "${dir}/state/extended_states";`,
    `Dir::Cache "${dir}/cache/";`,
    `Dir::Cache::archives "${dir}/archives/";`,
    // apt checks its binary caches against every index and the status file, and rebuilds them when one changed.
    `Dir::Cache::pkgcache "pkgcache.bin";`,
    `Dir::Cache::srcpkgcache "srcpkgcache.bin";`,
    `Dir::Etc "${dir}/etc/";`,
    `Dir::Etc::main "apt.conf";`,
    `Dir::Etc::parts "apt.conf.d";`,
    `Dir::Etc::sourcelist "sources.list";`,
    `Dir::Etc::sourceparts "sources.list.d";`,
    `Dir::Etc::preferences "preferences";`,
    `Dir::Etc::preferencesparts "preferences.d";`,
    `Dir::Etc::trusted "trusted.gpg";`,
    `Dir::Etc::trustedparts "trusted.gpg.d";`,
    `Dir::Log "${dir}/log/";`,
    `APT::Architecture "${arch}";`,
    `APT::Architectures { "${arch}"; };`,
    // The far side installs with --no-install-recommends too: the closure is exactly Depends and Pre-Depends.
    `APT::Install-Recommends "false";`,
    `APT::Install-Suggests "false";`,
    `Acquire::Languages "none";`,
    `Acquire::Retries "3";`,
  ];
  // apt drops to the _apt user to download; a private tree under a 0700 home
  // directory is out of its reach, so downloads stay with the invoking user.
  if (runningAsRoot) lines.push(`APT::Sandbox::User "root";`);
  return `${lines.join('\n')}\n`;
}

/** Refuses to resolve when a keyring that signatures are checked against is missing. */
export async function requireKeyrings(sources: readonly PackageSource[], release: OsRelease): Promise<void> {
  for (const keyring of new Set(sources.map((s) => s.keyring).filter((k): k is string => k !== undefined))) {
    try {
      await access(keyring);
    } catch {
      const pkg = release.family === 'ubuntu' ? 'ubuntu-keyring' : 'debian-archive-keyring';
      throw new MissingError(`resolving ${release.os} packages: the archive keyring ${keyring} is not on this host, so signatures cannot be checked`, {
        hint: `install ${pkg} (or copy ${keyring} from a ${release.os} host); ag never resolves without checking signatures`,
      });
    }
  }
}

/**
 * Creates (or re-uses) a private apt tree in `dir` for one architecture.
 * `sourcesList` defaults to `sources` rendered with their keyrings.
 */
export async function prepareAptState(dir: string, arch: string, sources: readonly PackageSource[], sourcesList?: string): Promise<AptState> {
  for (const sub of ['state', 'lists/partial', 'cache', 'archives/partial', 'etc/apt.conf.d', 'etc/sources.list.d', 'etc/preferences.d', 'etc/trusted.gpg.d', 'log', 'runs']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, 'etc/sources.list'), sourcesList ?? renderSourcesList(sources, arch));
  const configFile = join(dir, 'apt.conf');
  await writeFile(configFile, renderAptConfig(dir, arch, process.getuid?.() === 0));
  await writeFile(join(dir, 'state/status'), '', { flag: 'a' });
  return { dir, arch, configFile, sources: [...sources] };
}

/** A per-run scratch directory inside the state (for that run's dpkg status); removed by `done`. */
export async function aptRun(state: AptState): Promise<{ dir: string; done(): Promise<void> }> {
  const dir = await mkdtemp(join(state.dir, 'runs', 'run-'));
  return { dir, done: () => rm(dir, { recursive: true, force: true }) };
}

export interface AptCommandOptions {
  /** The dpkg status file this command resolves against. */
  status?: string;
  /** Extra `-o` options. */
  options?: Record<string, string>;
  /** Copy apt's stdout to stderr (progress of long downloads). */
  stream?: boolean;
}

/** Runs apt-get or apt-cache against the private tree; LC_ALL=C so its output can be parsed. */
export async function runApt(
  state: AptState,
  context: OsPackagesContext,
  program: 'apt-get' | 'apt-cache',
  args: readonly string[],
  options: AptCommandOptions = {},
): Promise<ProgramResult> {
  const overrides = { ...(options.status === undefined ? {} : { 'Dir::State::status': options.status }), ...options.options };
  const argv = [...Object.entries(overrides).flatMap(([k, v]) => ['-o', `${k}=${v}`]), ...args];
  context.log.debug(`APT_CONFIG=${state.configFile} ${program} ${argv.join(' ')}`);
  try {
    return await runProgram(program, argv, {
      env: { ...context.io.env, APT_CONFIG: state.configFile, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      stderr: context.io.stderr,
      streamStdout: options.stream === true,
      streamStderr: false,
      allowFailure: true,
    });
  } catch (error) {
    if (error instanceof MissingError) {
      throw new MissingError(`resolving deb packages needs ${program}, which is not on this host's PATH`, {
        hint: 'run ag-fetch download on a Debian or Ubuntu host, or in a container of one (docker run -v "$PWD:/work" -w /work debian:12 …)',
        cause: error,
      });
    }
    throw error;
  }
}

function lines(text: string, pattern: RegExp): string[] {
  return text.split('\n').filter((line) => pattern.test(line));
}

/**
 * Fetches the release's package indexes into the private tree, checking each
 * InRelease against its keyring. A bad or missing signature is a
 * verification error; an archive that cannot be reached is an unreachable
 * error (apt-get update reports some of these as warnings and exits 0).
 */
export async function updateAptIndexes(state: AptState, context: OsPackagesContext, what: string): Promise<void> {
  const result = await runApt(state, context, 'apt-get', ['update', '-q'], { stream: context.log.level === 'debug' });
  const said = `${result.stdout}\n${result.stderr}`;
  const signature = lines(said, /NO_PUBKEY|BADSIG|EXPKEYSIG|is not signed|signatures couldn't be verified|signature.*invalid/i);
  if (signature.length > 0) {
    throw new VerificationError(`updating ${what} package indexes: signature check failed:\n${signature.join('\n')}`, {
      hint: `make sure the keyring named in the document's packages.sources is the distribution's own and current; ag does not resolve from unsigned indexes`,
    });
  }
  const failed = lines(said, /^(Err:|E: Failed to fetch|W: Failed to fetch)/);
  if (failed.length > 0) {
    throw new UnreachableError(`updating ${what} package indexes: ${failed.join('\n')}`, {
      hint: `check that ${state.sources.map((s) => s.uri).join(' and ')} can be reached from this host (or its proxy: http_proxy)`,
    });
  }
  if (result.exitCode !== 0) {
    throw new ExternalError(`updating ${what} package indexes: apt-get update failed (exit ${result.exitCode}):\n${lines(said, /^[EW]: /).join('\n')}`);
  }
  for (const warning of lines(result.stderr, /^W: /)) context.log.warn(`apt: ${warning.slice(3)}`);
}

/** The Packages index files apt holds for the private tree. */
export async function aptPackagesFiles(state: AptState, context: OsPackagesContext): Promise<string[]> {
  const result = await runApt(state, context, 'apt-get', ['indextargets', '--format', '$(FILENAME)', 'Identifier: Packages']);
  if (result.exitCode !== 0) throw new ExternalError(`listing apt's index files failed: ${result.stderr.trim()}`);
  const files: string[] = [];
  for (const file of result.stdout.split('\n').filter(Boolean)) {
    if (await access(file).then(() => true, () => false)) files.push(file);
  }
  return files;
}
