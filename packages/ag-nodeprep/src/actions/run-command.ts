import { MissingError, runProgram } from '@ag/core';
import type { Action, ActionEnv } from './types.js';

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
}

/**
 * Something ag-nodeprep verifies but cannot provide itself (a package it
 * does not carry, a binary the document does not name): check reports it,
 * apply fails on it with what to do next.
 */
export function requireAction(spec: RequireSpec): Action {
  return {
    record: { step: spec.step, action: 'require', target: spec.target, why: spec.why, ...(spec.hostOnly ? { hostOnly: true } : {}) },
    inspect: (env) => spec.problems(env),
    async apply(env: ActionEnv) {
      const problems = await spec.problems(env);
      if (spec.onApply === 'warn') {
        env.log.warn(`${spec.target}: ${problems.join('; ')}; next: ${spec.hint}`);
        return { skipped: `${problems.join('; ')} (${spec.hint})` };
      }
      throw new MissingError(problems.join('; '), { hint: spec.hint });
    },
  };
}
