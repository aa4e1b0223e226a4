import { mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { tempPathFor } from '@ag/core';
import { inRoot, lstatNode } from '../root-fs.js';
import type { Action, ActionEnv, PlannedChange } from './types.js';

export interface SymlinkSpec {
  step: string;
  path: string;
  linkTo: string;
  why: string;
}

/**
 * Makes `path` a symlink to `linkTo` (what `systemctl enable` and `mask` do
 * on disk, so it works inside an image with no running systemd). Replaces a
 * file or another link there atomically, keeping a backup.
 */
export function symlinkAction(spec: SymlinkSpec): Action {
  return {
    record: { step: spec.step, action: 'symlink', target: spec.path, linkTo: spec.linkTo, why: spec.why },
    async inspect(env: ActionEnv): Promise<string[]> {
      const info = await lstatNode(env.root, spec.path);
      if (info === undefined) return [`${spec.path} is missing (wanted a link to ${spec.linkTo})`];
      if (!info.isSymbolicLink()) return [`${spec.path} is a file, not a link to ${spec.linkTo}`];
      const target = await readlink(inRoot(env.root, spec.path));
      return target === spec.linkTo ? [] : [`${spec.path} points to ${target}, wanted ${spec.linkTo}`];
    },
    async change(): Promise<PlannedChange> {
      // systemctl mask's own words for a unit linked to /dev/null.
      if (spec.linkTo === '/dev/null' && spec.path.startsWith('/etc/systemd/system/')) return { summary: `mask ${posix.basename(spec.path)} (${spec.path} -> /dev/null)` };
      return { summary: `link ${spec.path} -> ${spec.linkTo}` };
    },
    provides: async () => ({ paths: [spec.path] }),
    async apply(env: ActionEnv) {
      const full = inRoot(env.root, spec.path);
      await mkdir(posix.dirname(full), { recursive: true });
      const backup = await env.backup(spec.path);
      const temp = tempPathFor(full);
      await symlink(spec.linkTo, temp);
      try {
        await rename(temp, full);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return { backup };
    },
  };
}

export interface RemoveSpec {
  step: string;
  path: string;
  why: string;
}

/** Removes a node file or link (what `systemctl disable` does to a unit's wants links), keeping a backup. */
export function removeAction(spec: RemoveSpec): Action {
  return {
    record: { step: spec.step, action: 'remove-file', target: spec.path, why: spec.why },
    async inspect(env: ActionEnv): Promise<string[]> {
      return (await lstatNode(env.root, spec.path)) === undefined ? [] : [`${spec.path} is still there`];
    },
    change: async () => ({ summary: `remove ${spec.path}` }),
    async apply(env: ActionEnv) {
      const backup = await env.backup(spec.path);
      await rm(inRoot(env.root, spec.path), { force: true });
      return { backup };
    },
  };
}
