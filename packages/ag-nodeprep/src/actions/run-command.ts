import { MissingError, runProgram, whichProgram, type AgError } from '@ag/core';
import { nodeExists } from '../root-fs.js';
import type { Action, ActionEnv, PreviewEnv } from './types.js';

export interface RunSpec {
  step: string;
  command: [string, ...string[]];
  why: string;
  /**
   * Whether the command is due, read from the live host (/proc, /sys,
   * systemctl is-active…): the reason, or undefined when the host is already
   * as wanted. Makes a re-run change nothing and lets check report the state.
   */
  due(env: ActionEnv): Promise<string | undefined>;
  /** What to do when the command fails. */
  hint?: string;
  /** Node paths the command needs (update-alternatives: the backend it selects); missing ones block the run unless an earlier action provides them. */
  needs?: readonly string[];
}

/** The PATH directories a program would be found in (for "will the packages step provide it?"). */
function pathDirs(env: Pick<ActionEnv, 'io'>): string[] {
  return (env.io.env['PATH'] ?? '').split(':').filter((dir) => dir.startsWith('/'));
}

/**
 * What stops a host command before anything is written: its program not on
 * PATH, or a node path it needs missing, unless an earlier action of the
 * run (the OS packages) puts it there.
 */
export async function commandBlockers(env: PreviewEnv, command: readonly string[], needs: readonly string[], hint: string | undefined): Promise<AgError[]> {
  const blockers: AgError[] = [];
  const program = command[0]!;
  if ((await whichProgram(program, env.io.env)) === undefined) {
    let provided = false;
    for (const dir of pathDirs(env)) if (!provided && (await env.upcoming.packagesProvide(`${dir}/${program}`))) provided = true;
    if (!provided) {
      blockers.push(new MissingError(`${command.join(' ')}: ${program} is not on this host's PATH`, { hint: hint ?? `install the package that provides ${program} and run again` }));
    }
  }
  for (const path of needs) {
    if ((await nodeExists(env.root, path)) || env.upcoming.paths.has(path) || (await env.upcoming.packagesProvide(path))) continue;
    blockers.push(new MissingError(`${command.join(' ')}: ${path} is not installed`, { hint: hint ?? `install the package that provides ${path} and run again` }));
  }
  return blockers;
}

/**
 * A command that changes the running host (modprobe, sysctl -p, swapoff,
 * setenforce, systemctl restart). Host-only by nature: with --root it is
 * recorded as skipped and never run, since it would change the build machine.
 */
export function runAction(spec: RunSpec): Action {
  return {
    record: { step: spec.step, action: 'run', target: spec.command.join(' '), command: [...spec.command], hostOnly: true, why: spec.why },
    async inspect(env: ActionEnv): Promise<string[]> {
      const reason = await spec.due(env);
      return reason === undefined ? [] : [reason];
    },
    change: async () => ({ summary: `run ${spec.command.join(' ')}` }),
    blockers: (env) => commandBlockers(env, spec.command, spec.needs ?? [], spec.hint),
    async apply(env: ActionEnv) {
      const [program, ...args] = spec.command;
      await runProgram(program, args, { env: env.io.env, stderr: env.io.stderr, hint: spec.hint });
      return {};
    },
  };
}

export interface RequireSpec {
  step: string;
  target: string;
  why: string;
  /** The problems found; none when the node has it. */
  problems(env: ActionEnv): Promise<string[]>;
  /** Host-only: needs the live host (a running service), skipped with --root. */
  hostOnly?: boolean;
  hint: string;
  /** What apply does when it is missing: fail (default), or warn and go on (something another tool provides later). */
  onApply?: 'fail' | 'warn';
  /**
   * When it can be judged. `before` (default): from the node as it is, so a
   * problem blocks the run before anything is written, unless an earlier
   * action provides `providedBy`. `after`: it verifies what the actions
   * before it did (containerd's CRI plugin after the restart), so it is only
   * judged when apply gets there.
   */
  judged?: 'before' | 'after';
  /** OS packages or node paths whose arrival earlier in the run resolves the problem. */
  providedBy?: { packages?: readonly string[]; paths?: readonly string[] };
}

/** Whether an earlier action of the run provides what a requirement names. */
async function provided(env: PreviewEnv, by: RequireSpec['providedBy']): Promise<boolean> {
  if (by === undefined) return false;
  if ((by.packages ?? []).some((name) => env.upcoming.installsPackage(name))) return true;
  for (const path of by.paths ?? []) if (env.upcoming.paths.has(path) || (await env.upcoming.packagesProvide(path))) return true;
  return false;
}

/**
 * Something ag-nodeprep verifies but cannot provide itself (a package it
 * does not carry, a binary the document does not name): check reports it,
 * apply fails on it with what to do next, before its first write when it
 * can be known then.
 */
export function requireAction(spec: RequireSpec): Action {
  const warnOnly = spec.onApply === 'warn';
  return {
    record: { step: spec.step, action: 'require', target: spec.target, why: spec.why, ...(spec.hostOnly ? { hostOnly: true } : {}) },
    inspect: (env) => spec.problems(env),
    async change(env) {
      if (!warnOnly) return { summary: `verify ${spec.target} once the changes above are made` };
      return { summary: `leave ${spec.target} as it is`, warning: `${(await spec.problems(env)).join('; ')} (next: ${spec.hint})` };
    },
    async blockers(env) {
      if (warnOnly || spec.judged === 'after' || (await provided(env, spec.providedBy))) return [];
      return [new MissingError((await spec.problems(env)).join('; '), { hint: spec.hint })];
    },
    async apply(env: ActionEnv) {
      const problems = await spec.problems(env);
      if (warnOnly) {
        env.log.warn(`${spec.target}: ${problems.join('; ')}; next: ${spec.hint}`);
        return { skipped: `${problems.join('; ')} (${spec.hint})` };
      }
      throw new MissingError(problems.join('; '), { hint: spec.hint });
    },
  };
}
