import { join } from 'node:path';
import type { PackageSource, PackagesSection } from '@ag/core';
import type { DnfRepository, OsRelease } from './os-releases.js';

/** One command of the dnf path, with why it runs (for --dry-run and the logs). */
export interface PlannedCommand {
  argv: [string, ...string[]];
  why: string;
}

export interface DnfDownloadPlan {
  arch: string;
  /** The private dnf tree: config, repository files, cache and an empty install root. */
  stateDir: string;
  installRoot: string;
  /** File name (inside stateDir) -> content, written before the commands run. */
  files: Record<string, string>;
  /** GPG keys to import into the install root before signatures are checked (file paths or URLs). */
  keys: string[];
  /** Up to and including the download; `verifyCommand` and `createrepoCommand` follow. */
  commands: PlannedCommand[];
  /** Where dnf puts the rpms (inside stateDir) until their signatures are checked; then they are copied into the repository. */
  destDir: string;
  repoDir: string;
  sources: PackageSource[];
}

function expand(text: string, release: OsRelease, arch: string): string {
  return text.replaceAll('$releasever', release.releasever ?? '').replaceAll('$basearch', arch);
}

/** A .repo file for the release's repositories; every repository checks package signatures. */
export function renderRepoFile(repositories: readonly DnfRepository[]): string {
  return repositories
    .map((r) =>
      [
        `[${r.id}]`,
        `name=${r.name}`,
        ...(r.baseurl === undefined ? [] : [`baseurl=${r.baseurl}`]),
        ...(r.metalink === undefined ? [] : [`metalink=${r.metalink}`]),
        'enabled=1',
        'gpgcheck=1',
        `gpgkey=${r.gpgkey}`,
        'skip_if_unavailable=False',
        '',
      ].join('\n'),
    )
    .join('\n');
}

/**
 * The dnf commands that resolve and download a closure for one release and
 * architecture without touching the connected host: a private config and
 * repository directory, an empty `--installroot` (so every dependency is
 * resolved as on a host with nothing installed: `--alldeps`), `--forcearch`
 * for another architecture, no weak dependencies (the far side installs
 * without them too). Pure: nothing runs here.
 */
export function planDnfDownload(release: OsRelease, section: PackagesSection, arch: string, stateDir: string, repoDir: string): DnfDownloadPlan {
  const installRoot = join(stateDir, 'root');
  const reposDir = join(stateDir, 'repos.d');
  const configFile = join(stateDir, 'dnf.conf');
  const reposdirs = release.useSystemRepositories ? `/etc/yum.repos.d,${reposDir}` : reposDir;
  const dnfConf = [
    '[main]',
    'gpgcheck=1',
    'install_weak_deps=False',
    'best=True',
    'skip_if_unavailable=False',
    `cachedir=${join(stateDir, 'cache')}`,
    'keepcache=True',
    `reposdir=${reposdirs}`,
    '',
  ].join('\n');
  const common = [
    `--config=${configFile}`,
    `--installroot=${installRoot}`,
    `--releasever=${release.releasever ?? ''}`,
    `--forcearch=${arch}`,
    `--setopt=reposdir=${reposdirs}`,
    // Only the download plugin: others act on the host (Debian and Fedora enable `local`, which copies
    // every package it sees into /var/lib/dnf/plugins/local and serves them back as a repository).
    '--disableplugin=*',
    '--enableplugin=download',
    '--assumeyes',
  ];
  const destDir = join(stateDir, 'download');
  const repositories = release.dnfRepositories ?? [];
  return {
    arch,
    stateDir,
    installRoot,
    files: { 'dnf.conf': dnfConf, 'repos.d/ag.repo': renderRepoFile(repositories) },
    keys: [...new Set(repositories.map((r) => expand(r.gpgkey, release, arch)))],
    commands: [
      { argv: ['dnf', ...common, 'makecache'], why: 'fetch the repositories\' metadata (repomd checksums) into the private cache' },
      {
        argv: ['dnf', ...common, 'download', '--resolve', '--alldeps', `--destdir=${destDir}`, ...section.requested],
        why: 'download the requested packages and every dependency, as for a host with nothing installed',
      },
    ],
    destDir,
    repoDir,
    sources: [
      ...(release.useSystemRepositories ? [{ name: 'system', uri: '/etc/yum.repos.d (the subscribed BaseOS and AppStream)' }] : []),
      ...repositories.map((r) => ({ name: r.id, uri: expand(r.baseurl ?? r.metalink ?? '', release, arch), keyring: expand(r.gpgkey, release, arch) })),
    ],
  };
}

/** Checks every downloaded rpm's signature against the keys imported into the install root (dnf download does not). */
export function verifyCommand(plan: DnfDownloadPlan, files: readonly string[]): PlannedCommand {
  return {
    argv: ['rpmkeys', `--root=${plan.installRoot}`, '--checksig', '--define=_pkgverify_level all', ...files],
    why: 'check each package\'s signature against the distribution keys (dnf download itself does not)',
  };
}

export function importKeyCommand(plan: DnfDownloadPlan, keyFile: string): PlannedCommand {
  return { argv: ['rpmkeys', `--root=${plan.installRoot}`, '--import', keyFile], why: 'trust the repository\'s signing key inside the private install root' };
}

/** Writes `repodata/` for the bundle's repository. */
export function createrepoCommand(repoDir: string): PlannedCommand {
  return { argv: ['createrepo_c', '--no-database', '--simple-md-filenames', repoDir], why: 'write the local repository\'s repodata' };
}
