import { readdir, readlink, rename, rm, symlink, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import { MissingError, runProgram, systemdUnitActive, tempPathFor } from '@ag/core';
import { runAction } from './actions/run-command.js';
import type { Action, ActionEnv, PreviewEnv } from './actions/types.js';
import { firstExisting, inRoot, lstatNode, readNodeText } from './root-fs.js';

/**
 * systemd units handled on disk, the way `systemctl enable/disable/mask`
 * lay them out (systemd.unit(5), "[Install] Section Options"), so the same
 * steps work on a live host, in a chroot and in an image being built. On a
 * live host a `systemctl daemon-reload` follows (see daemonReloadAction).
 */

/**
 * The system unit directories, highest precedence first (systemd.unit(5),
 * "Unit File Load Path"): the administrator's, then /usr/local/lib (where
 * containerd's release archive puts containerd.service), then the packages'.
 */
export const UNIT_DIRS = ['/etc/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'] as const;

/** Where a unit file is on the node, or undefined. */
export function findUnit(root: string, name: string): Promise<string | undefined> {
  return firstExisting(
    root,
    UNIT_DIRS.map((dir) => `${dir}/${name}`),
  );
}

export interface InstallSection {
  wantedBy: string[];
  requiredBy: string[];
  alias: string[];
}

/** The [Install] section of a unit file. */
export function parseInstallSection(text: string): InstallSection {
  const result: InstallSection = { wantedBy: [], requiredBy: [], alias: [] };
  let inInstall = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inInstall = line === '[Install]';
      continue;
    }
    if (!inInstall || line.startsWith('#') || line.startsWith(';')) continue;
    const match = /^(WantedBy|RequiredBy|Alias)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const values = match[2]!.split(/\s+/).filter(Boolean);
    if (match[1] === 'WantedBy') result.wantedBy.push(...values);
    else if (match[1] === 'RequiredBy') result.requiredBy.push(...values);
    else result.alias.push(...values);
  }
  return result;
}

/** Whether a unit is masked (linked to /dev/null in /etc). */
export async function isMasked(root: string, name: string): Promise<boolean> {
  const info = await lstatNode(root, `/etc/systemd/system/${name}`);
  return info?.isSymbolicLink() === true && (await readlink(inRoot(root, `/etc/systemd/system/${name}`))) === '/dev/null';
}

interface WantedLink {
  path: string;
  linkTo: string;
}

/** The links `systemctl enable` would make for a unit: its .wants/.requires entries and aliases. */
async function enableLinks(root: string, name: string): Promise<{ unit?: string; links: WantedLink[] }> {
  const unit = await findUnit(root, name);
  if (unit === undefined) return { links: [] };
  const install = parseInstallSection((await readNodeText(root, unit)) ?? '');
  const links: WantedLink[] = [
    ...install.wantedBy.map((target) => ({ path: `/etc/systemd/system/${target}.wants/${name}`, linkTo: unit })),
    ...install.requiredBy.map((target) => ({ path: `/etc/systemd/system/${target}.requires/${name}`, linkTo: unit })),
    ...install.alias.filter((alias) => alias !== name).map((alias) => ({ path: `/etc/systemd/system/${alias}`, linkTo: unit })),
  ];
  return { unit, links };
}

async function linkProblems(root: string, link: WantedLink): Promise<string | undefined> {
  const info = await lstatNode(root, link.path);
  if (info === undefined) return `${link.path} is missing`;
  if (!info.isSymbolicLink()) return `${link.path} is not a link`;
  const to = await readlink(inRoot(root, link.path));
  return to === link.linkTo ? undefined : `${link.path} points to ${to}, wanted ${link.linkTo}`;
}

/**
 * Enables a unit on disk. The unit file is looked up when the action runs,
 * not when it is planned: an earlier step (OS packages) may install it.
 */
export function enableUnitAction(step: string, name: string, why: string): Action {
  return {
    record: { step, action: 'enable-unit', target: name, why },
    async inspect(env: ActionEnv): Promise<string[]> {
      if (await isMasked(env.root, name)) return [`${name} is masked (/etc/systemd/system/${name} -> /dev/null)`];
      const { unit, links } = await enableLinks(env.root, name);
      if (unit === undefined) return [`${name} is not installed (no unit file in ${UNIT_DIRS.join(', ')})`];
      if (links.length === 0) return [];
      const problems: string[] = [];
      for (const link of links) {
        const problem = await linkProblems(env.root, link);
        if (problem !== undefined) problems.push(`${name} is not enabled: ${problem}`);
      }
      return problems;
    },
    change: async () => ({ summary: `enable ${name}` }),
    async blockers(env: PreviewEnv) {
      if (await isMasked(env.root, name)) {
        return [new MissingError(`cannot enable ${name}: it is masked (/etc/systemd/system/${name} -> /dev/null)`, { hint: `unmask it (systemctl unmask ${name}) if it should run, then run again` })];
      }
      if ((await findUnit(env.root, name)) !== undefined) return [];
      for (const dir of UNIT_DIRS) if (env.upcoming.paths.has(`${dir}/${name}`) || (await env.upcoming.packagesProvide(`${dir}/${name}`))) return [];
      return [
        new MissingError(`cannot enable ${name}: no unit file in ${UNIT_DIRS.join(', ')}, and no OS package of this run provides one`, {
          hint: 'carry the package that provides it with the OS packages (ag-fetch download), or install it with the package manager, then run again',
        }),
      ];
    },
    // Where the enable links go, so that a preview knows a daemon-reload follows.
    provides: async (env: ActionEnv) => ({ paths: (await enableLinks(env.root, name)).links.map((l) => l.path).concat(`/etc/systemd/system/${name}`) }),
    async apply(env: ActionEnv) {
      if (await isMasked(env.root, name)) {
        throw new MissingError(`cannot enable ${name}: it is masked`, { hint: `unmask it (systemctl unmask ${name}) if it should run, then run apply again` });
      }
      const { unit, links } = await enableLinks(env.root, name);
      if (unit === undefined) {
        throw new MissingError(`cannot enable ${name}: no unit file in ${UNIT_DIRS.join(', ')}`, {
          hint: 'install the package that provides it (the OS packages step, or your package manager) and run apply again',
        });
      }
      let backup: string | undefined;
      for (const link of links) {
        if ((await linkProblems(env.root, link)) === undefined) continue;
        const full = inRoot(env.root, link.path);
        await mkdir(posix.dirname(full), { recursive: true });
        backup ??= await env.backup(link.path);
        const temp = tempPathFor(full);
        await symlink(link.linkTo, temp);
        await rename(temp, full).catch(async (error: unknown) => {
          await rm(temp, { force: true });
          throw error;
        });
        env.changed.add(link.path);
      }
      return { backup, detail: `linked ${links.map((l) => l.path).join(', ')} -> ${unit}` };
    },
  };
}

/** The links that enable a unit now: any .wants/.requires entry in /etc/systemd/system, and its aliases. */
async function enabledLinks(root: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const base = '/etc/systemd/system';
  const entries = await readdir(inRoot(root, base)).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!entry.endsWith('.wants') && !entry.endsWith('.requires')) continue;
    const path = `${base}/${entry}/${name}`;
    if ((await lstatNode(root, path)) !== undefined) found.push(path);
  }
  const unit = await findUnit(root, name);
  if (unit !== undefined) {
    for (const alias of parseInstallSection((await readNodeText(root, unit)) ?? '').alias) {
      const path = `${base}/${alias}`;
      if (alias !== name && (await lstatNode(root, path))?.isSymbolicLink()) found.push(path);
    }
  }
  return found.sort();
}

/** Disables a unit on disk: removes the links that start it at boot. Nothing to do when it is not installed. */
export function disableUnitAction(step: string, name: string, why: string): Action {
  return {
    record: { step, action: 'disable-unit', target: name, why },
    async inspect(env: ActionEnv): Promise<string[]> {
      return (await enabledLinks(env.root, name)).map((path) => `${name} is enabled (${path})`);
    },
    change: async () => ({ summary: `disable ${name}` }),
    provides: async (env: ActionEnv) => ({ paths: await enabledLinks(env.root, name) }),
    async apply(env: ActionEnv) {
      const links = await enabledLinks(env.root, name);
      let backup: string | undefined;
      for (const path of links) {
        backup ??= await env.backup(path);
        await rm(inRoot(env.root, path), { force: true });
        env.changed.add(path);
      }
      return { backup, detail: `removed ${links.join(', ')}` };
    },
  };
}

/** Whether systemd on the live host reports the unit active. */
export async function unitIsActive(env: ActionEnv, name: string): Promise<boolean> {
  return systemdUnitActive(name, env.io);
}

/** Whether anything under systemd's unit directories changed in this run (a daemon-reload is due). */
export function unitsChanged(env: ActionEnv): boolean {
  return [...env.changed].some((path) => path.startsWith('/etc/systemd/') || path.startsWith('/usr/lib/systemd/') || path.startsWith('/lib/systemd/'));
}

const RELOADED = 'systemd:daemon-reload';

/** `systemctl daemon-reload`, due when a unit file or link changed since the last reload in this run. */
export function daemonReloadAction(step: string): Action {
  return {
    record: { step, action: 'run', target: 'systemctl daemon-reload', command: ['systemctl', 'daemon-reload'], hostOnly: true, why: 'make systemd read the unit files and links changed above' },
    async inspect(env: ActionEnv): Promise<string[]> {
      const order = [...env.changed];
      const since = order.slice(order.lastIndexOf(RELOADED) + 1);
      return since.some((path) => unitsChanged({ changed: new Set([path]) } as ActionEnv)) ? ['unit files changed since systemd last read them'] : [];
    },
    change: async () => ({ summary: 'run systemctl daemon-reload' }),
    // A preview's reload resets what counts as changed since, as the real one does.
    provides: async () => ({ paths: [RELOADED] }),
    async apply(env: ActionEnv) {
      await runProgram('systemctl', ['daemon-reload'], { env: env.io.env, stderr: env.io.stderr });
      env.changed.delete(RELOADED);
      env.changed.add(RELOADED);
      return {};
    },
  };
}

/** Disabled at boot (on disk) and stopped now (host only): firewalld, systemd-resolved. */
export function disableAndStopActions(step: string, name: string, why: string): Action[] {
  const label = name.replace(/\.service$/, '');
  return [
    disableUnitAction(step, name, `${why}; disable it at boot`),
    runAction({
      step,
      command: ['systemctl', 'stop', name],
      why: `stop ${label} now`,
      async due(env) {
        return (await unitIsActive(env, name)) ? `${label} is running` : undefined;
      },
    }),
  ];
}
