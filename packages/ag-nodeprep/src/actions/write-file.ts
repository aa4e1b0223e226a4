import { readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { writeFileAtomic } from '@ag/core';
import { formatMode, inRoot, lstatNode, resolveNodePath } from '../root-fs.js';
import { fileDiff } from './file-diff.js';
import type { Action, ActionEnv, PlannedChange } from './types.js';

export interface WriteFileSpec {
  step: string;
  /** The node path (`/etc/sysctl.d/k8s.conf`). */
  path: string;
  why: string;
  /** The whole content, or how to derive it from the current one (edits such as fstab). */
  content: string | ((current: string | undefined) => string);
  /** The file's mode; when absent an existing file keeps its own (edits such as fstab) and a new one gets 0644. */
  mode?: number;
  /** Says, for check, what is wrong with the current content (defaults to "differs"). */
  explain?: (current: string) => string[];
}

/** Where a node file really is: its directory's links resolved inside the root, the file itself not (a link there is replaced). */
async function targetOf(root: string, path: string): Promise<string> {
  return posix.join(await resolveNodePath(root, posix.dirname(path)), posix.basename(path));
}

async function currentText(root: string, path: string): Promise<{ text?: string; link?: string; mode?: number }> {
  const target = await targetOf(root, path);
  const info = await lstatNode(root, target);
  if (info === undefined) return {};
  if (info.isSymbolicLink()) {
    return { link: await readlink(inRoot(root, target)) };
  }
  return { text: await readFile(inRoot(root, target), 'utf8'), mode: Number(info.mode) & 0o777 };
}

/**
 * Writes a whole small text file (a config, a drop-in, an edited fstab):
 * unchanged when the file already holds exactly that content and mode; a link
 * at the path is replaced by a plain file (resolv.conf). Atomic (temp + rename),
 * with the previous version kept by the backup.
 */
export async function writeFileAction(spec: WriteFileSpec, root: string): Promise<Action> {
  const wanted = async (): Promise<{ text: string; current: Awaited<ReturnType<typeof currentText>> }> => {
    const current = await currentText(root, spec.path);
    const text = typeof spec.content === 'string' ? spec.content : spec.content(current.text);
    return { text, current };
  };
  // A content that cannot be made (an existing config that does not parse) is
  // not a reason to stop planning: inspect meets the same error, and plan
  // lists it with every other blocker.
  const planned = await wanted().catch(() => undefined);
  return {
    record: {
      step: spec.step,
      action: 'write-file',
      target: spec.path,
      why: spec.why,
      ...(planned !== undefined ? { content: planned.text } : {}),
      ...(spec.mode !== undefined ? { mode: formatMode(spec.mode) } : {}),
    },
    async inspect(): Promise<string[]> {
      const { text, current } = await wanted();
      if (current.link !== undefined) return [`${spec.path} is a symlink to ${current.link}; a plain file is wanted`];
      if (current.text === undefined) return [`${spec.path} is missing`];
      const problems: string[] = [];
      if (current.text !== text) problems.push(...(spec.explain?.(current.text) ?? [`${spec.path} differs from what ag-nodeprep writes`]));
      if (spec.mode !== undefined && current.mode !== spec.mode) {
        problems.push(`${spec.path} has mode ${formatMode(current.mode ?? 0)}, wanted ${formatMode(spec.mode)}`);
      }
      return problems;
    },
    async change(): Promise<PlannedChange> {
      const { text, current } = await wanted();
      if (current.link !== undefined) return { summary: `replace the link ${spec.path} -> ${current.link} with a file`, diff: fileDiff(spec.path, undefined, text) };
      if (current.text === undefined) return { summary: `create ${spec.path}`, diff: fileDiff(spec.path, undefined, text) };
      const modeTo = spec.mode !== undefined && current.mode !== spec.mode ? formatMode(spec.mode) : undefined;
      if (current.text === text) return { summary: `chmod ${modeTo ?? formatMode(current.mode ?? 0o644)} ${spec.path}` };
      return { summary: `change ${spec.path}${modeTo !== undefined ? ` (and its mode to ${modeTo})` : ''}`, diff: fileDiff(spec.path, current.text, text) };
    },
    provides: async () => ({ paths: [spec.path] }),
    async apply(env: ActionEnv) {
      const { text, current } = await wanted();
      const target = await targetOf(env.root, spec.path);
      const mode = spec.mode ?? current.mode ?? 0o644;
      const backup = await env.backup(target);
      await writeFileAtomic(inRoot(env.root, target), text, { mode });
      return { backup };
    },
  };
}
