import { MissingError, bundleRoot, resolveInRoot, whichProgram, type AgError, type PackagesSection } from '@ag/core';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Action, ActionEnv, Provision } from '../actions/types.js';
import type { StepCode } from '../context.js';
import { aptSourcesLine, dnfInstallCommand, installOsPackages, pendingPackages } from './install-os-packages.js';
import { installedPackages } from './installed-packages.js';
import { packageFiles } from './package-contents.js';

async function pendingOn(env: ActionEnv, section: PackagesSection): Promise<{ pending: string[]; described: string[] }> {
  const installed = await installedPackages(env.root, section.format, env.io);
  const pending = pendingPackages(section, installed);
  const have = new Map(installed.map((p) => [p.name, p.version]));
  const described = pending.map((name) => {
    const version = have.get(name);
    const carried = section.closure?.find((c) => c.name === name)?.version;
    return version === undefined ? `${name} is not installed` : `${name} is ${version}, the bundle carries ${carried}`;
  });
  return { pending, described };
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** The file a repository must hold for the package manager to read it (written by ag-fetch download). */
function repositoryIndex(section: PackagesSection, repoDir: string): string {
  return section.format === 'deb' ? join(repoDir, 'Packages') : join(repoDir, 'repodata', 'repomd.xml');
}

/** What the closure's packages put on the node, listed from the package files once, when a later step first asks. */
function closureProvision(section: PackagesSection, root: string, env: ActionEnv): Provision['packages'] {
  let files: Promise<Set<string>> | undefined;
  const list = async (): Promise<Set<string>> => {
    const all = new Set<string>();
    for (const carried of section.closure ?? []) {
      for (const path of await packageFiles(resolveInRoot(root, carried.path), section.format, env.io)) all.add(path);
    }
    return all;
  };
  return {
    names: (section.closure ?? []).map((c) => c.name),
    async provide(path) {
      files ??= list().catch((error: unknown) => {
        env.log.debug(`cannot list what the OS packages install (${(error as Error).message}); taking it that they provide what later steps need`);
        return new Set<string>(['*']);
      });
      const known = await files;
      // usrmerge: Debian packages still name /lib, /bin and /sbin, which are links into /usr on the node.
      return known.has('*') || known.has(path) || known.has(path.replace(/^\/usr\/(lib|bin|sbin)\//, '/$1/')) || known.has(path.replace(/^\/(lib|bin|sbin)\//, '/usr/$1/'));
    },
  };
}

/** One action: every requested package installed from the bundle's repository, nothing else enabled. */
function installAction(section: PackagesSection, bundle: string): Action {
  const repoDir = resolveInRoot(bundle, section.repository!);
  const command =
    section.format === 'deb'
      ? ['apt-get', 'install', '--no-install-recommends', ...section.requested]
      : dnfInstallCommand(repoDir, section.requested, '/');
  return {
    record: {
      step: 'packages',
      action: 'install-packages',
      target: section.requested.join(' '),
      why: `what kubeadm, kubelet and containerd need on ${section.os}, from the bundle's ${section.format} repository ${section.repository} (every other repository disabled)`,
      source: section.repository,
      command,
      ...(section.format === 'deb' ? { content: aptSourcesLine(repoDir) } : {}),
    },
    inspect: async (env) => (await pendingOn(env, section)).described,
    change: async (env) => ({ summary: `install ${(await pendingOn(env, section)).pending.join(' ')} (${section.manager}, from the bundle's ${section.repository})` }),
    async blockers(env) {
      const blockers: AgError[] = [];
      if (!(await exists(repositoryIndex(section, repoDir)))) {
        blockers.push(
          new MissingError(`the bundle's OS package repository is not there: no ${repositoryIndex(section, repoDir)}`, {
            hint: 'unpack the whole bundle (ag-bundle unpack), or pass --dir with the bundle root',
          }),
        );
      }
      const manager = section.format === 'deb' ? 'apt-get' : 'dnf';
      if (env.hostMode && (await whichProgram(manager, env.io.env)) === undefined) {
        blockers.push(new MissingError(`installing OS packages needs ${manager}, which is not on this host's PATH`, { hint: `this node needs ${section.manager}; or install the packages yourself and run with --skip packages` }));
      }
      return blockers;
    },
    provides: async (env) => ({ packages: closureProvision(section, bundle, env) }),
    async apply(env) {
      const report = await installOsPackages(section, { root: env.root, repoDir, io: env.io, log: env.log });
      const list = (changes: typeof report.installed) => changes.map((c) => `${c.name} ${c.version}`).join(', ');
      return {
        detail: `installed ${report.installed.length}${report.installed.length > 0 ? ` (${list(report.installed)})` : ''}; upgraded ${report.upgraded.length}${report.upgraded.length > 0 ? ` (${list(report.upgraded)})` : ''}`,
      };
    },
  };
}

/**
 * The packages the plan asked for when the bundle carries none (ag-fetch
 * download ran with --no-os-packages): nothing to do when the node has them
 * all, a blocker naming those it lacks otherwise.
 */
function uncarriedAction(section: PackagesSection): Action {
  const missing = async (env: ActionEnv): Promise<string[]> => (await pendingOn(env, section)).pending;
  const refusal = async (env: ActionEnv): Promise<AgError> =>
    new MissingError(`this node lacks ${(await missing(env)).join(', ')}, and the bundle carries no OS packages`, {
      hint: 'carry them (ag-fetch download without --no-os-packages), or install them with the package manager, or leave this step out with --skip packages',
    });
  return {
    record: {
      step: 'packages',
      action: 'install-packages',
      target: section.requested.join(' '),
      why: `what kubeadm, kubelet and containerd need on ${section.os}; the bundle carries no OS packages (ag-fetch download has not resolved them)`,
    },
    inspect: async (env) => (await pendingOn(env, section)).described,
    change: async (env) => ({ summary: `install ${(await missing(env)).join(' ')} (not carried in the bundle)` }),
    blockers: async (env) => [await refusal(env)],
    async apply(env) {
      throw await refusal(env);
    },
  };
}

/**
 * The OS packages step: installs the packages the plan requested from the
 * bundle's local repository (written by ag-fetch download), with every other
 * repository disabled, so the package manager never tries the network. It
 * runs first: later steps look for what it installs (containerd, conntrack,
 * iptables), and their blockers count what its packages bring. Nothing to do
 * without a packages section; with --root it installs into that tree
 * (chroot apt-get, dnf --installroot).
 */
export const packagesStep: StepCode = {
  async plan(context) {
    const section = context.document?.packages;
    if (section === undefined || section.requested.length === 0) return [];
    if (section.repository === undefined || section.closure === undefined) return [uncarriedAction(section)];
    return [installAction(section, bundleRoot(context.document, context.bundleRoot))];
  },
};
