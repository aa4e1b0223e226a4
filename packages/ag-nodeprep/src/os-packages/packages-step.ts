import { bundleRoot, resolveInRoot, type PackagesSection } from '@ag/core';
import type { Action } from '../actions/types.js';
import type { Step } from '../context.js';
import { aptSourcesLine, dnfInstallCommand, installOsPackages, pendingPackages } from './install-os-packages.js';
import { installedPackages } from './installed-packages.js';

function describePending(section: PackagesSection, pending: readonly string[], installed: ReadonlyMap<string, string>): string[] {
  return pending.map((name) => {
    const have = installed.get(name);
    const carried = section.closure?.find((c) => c.name === name)?.version;
    return have === undefined ? `${name} is not installed` : `${name} is ${have}, the bundle carries ${carried}`;
  });
}

/** One action: every requested package installed from the bundle's repository, nothing else enabled. */
function installAction(section: PackagesSection, repoDir: string): Action {
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
    async inspect(env) {
      const installed = await installedPackages(env.root, section.format, env.io);
      const pending = pendingPackages(section, installed);
      return describePending(section, pending, new Map(installed.map((p) => [p.name, p.version])));
    },
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
 * The OS packages step: installs the packages the plan requested from the
 * bundle's local repository (written by ag-fetch download), with every other
 * repository disabled, so the package manager never tries the network. It
 * runs first: later steps look for what it installs (containerd, conntrack,
 * iptables). Nothing to do without a packages section; with --root it
 * installs into that tree (chroot apt-get, dnf --installroot).
 */
export const packagesStep: Step = {
  name: 'packages',
  summary: "OS packages (containerd, runc, conntrack, socat, iptables…) from the bundle's local repository, offline",
  async plan(context) {
    const section = context.document?.packages;
    if (section === undefined || section.requested.length === 0) return [];
    if (section.repository === undefined || section.closure === undefined) {
      context.log.warn('the document plans OS packages but ag-fetch download has not resolved them: the packages step has nothing to install from');
      return [];
    }
    const root = bundleRoot(context.document, context.bundleRoot);
    return [installAction(section, resolveInRoot(root, section.repository))];
  },
};
