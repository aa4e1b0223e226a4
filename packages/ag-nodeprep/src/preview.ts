import { AgError, toAgError, type ExitCodeName } from '@ag/core';
import type { Action, PreviewEnv, Provision, Upcoming } from './actions/types.js';
import { actionEnv, type NodePlan } from './plan.js';

/** Something that would make apply fail, found before it writes anything. */
export interface Blocker {
  step: string;
  target?: string | undefined;
  error: AgError;
}

/** What the actions walked so far will put on the node: what `upcoming` answers from. */
function upcomingOf(paths: Set<string>, packages: NonNullable<Provision['packages']>[]): Upcoming {
  return {
    paths,
    installsPackage: (name) => packages.some((p) => p.names.includes(name)),
    async packagesProvide(path) {
      for (const provision of packages) if (await provision.provide(path)) return true;
      return false;
    },
  };
}

async function provisionOf(action: Action, env: PreviewEnv): Promise<Provision> {
  if (action.provides !== undefined) return action.provides(env);
  return { paths: action.record.target?.startsWith('/') ? [action.record.target] : [] };
}

/**
 * Walks every action in the order apply runs them, changing nothing and
 * waiting for nothing: marks each `planned` (with the change it makes and,
 * for a file, the diff) or `unchanged`, host commands under --root
 * `skipped`, and collects every blocker: what would make apply fail, judged
 * from the node as it is and from what the actions before it will provide
 * (the OS packages bring containerd's unit, the kubelet step writes the
 * kubelet's). What `plan` shows, and what `apply` runs before its first write.
 */
export async function previewPlan(plan: NodePlan): Promise<Blocker[]> {
  const { context } = plan;
  const paths = new Set<string>();
  const packages: NonNullable<Provision['packages']>[] = [];
  const env: PreviewEnv = { ...actionEnv(context), preview: true, upcoming: upcomingOf(paths, packages) };
  const blockers: Blocker[] = [...plan.blockers];
  for (const step of plan.steps) {
    for (const action of step.actions) {
      const record = action.record;
      delete record.change;
      delete record.diff;
      if (record.hostOnly && !context.hostMode) {
        record.status = 'skipped';
        record.detail = 'host command: not run with --root';
        continue;
      }
      try {
        const found = await action.inspect(env);
        if (found.length === 0) {
          record.status = 'unchanged';
          delete record.detail;
          continue;
        }
        record.detail = found.join('; ');
        const change = await action.change(env);
        record.change = change.summary;
        if (change.diff !== undefined) record.diff = change.diff;
        if (change.warning !== undefined) {
          record.status = 'skipped';
          record.detail = change.warning;
          continue;
        }
        record.status = 'planned';
        for (const error of (await action.blockers?.(env)) ?? []) blockers.push({ step: step.name, target: record.target, error });
        const provision = await provisionOf(action, env);
        for (const path of provision.paths ?? []) {
          paths.add(path);
          // Re-added at the end, as apply's own record of what changed orders them (daemon-reload counts what came after it).
          env.changed.delete(path);
          env.changed.add(path);
        }
        if (provision.packages !== undefined) packages.push(provision.packages);
      } catch (error) {
        const agError = toAgError(error);
        if (agError.kind === 'internal') throw error;
        record.status = 'failed';
        record.detail = agError.message;
        blockers.push({ step: step.name, target: record.target, error: agError });
      }
    }
  }
  return blockers;
}

/** The worst first: a damaged bundle (3) before anything missing (5), as ag-fetch download orders its failures. */
const ORDER: readonly ExitCodeName[] = ['verification', 'missing', 'unreachable', 'system', 'usage', 'external', 'credentials', 'internal'];

/** One line per blocker: the step, what it is about, what is wrong, and what to do. */
export function blockerLine(blocker: Blocker): string {
  // A node path says where; a unit or package name is already in the message.
  const about = blocker.target?.startsWith('/') === true && !blocker.error.message.startsWith(blocker.target) ? ` ${blocker.target}:` : '';
  return `${blocker.step}:${about} ${blocker.error.message}${blocker.error.hint !== undefined ? ` (next: ${blocker.error.hint})` : ''}`;
}

/** The error a blocked plan or apply ends with: every blocker listed, nothing changed. */
export function blockedError(blockers: readonly Blocker[]): AgError {
  const sorted = [...blockers].sort((a, b) => ORDER.indexOf(a.error.kind) - ORDER.indexOf(b.error.kind));
  const lines = blockers.map((b) => `  ${blockerLine(b)}`);
  return new AgError(sorted[0]!.error.kind, `${blockers.length} thing(s) stand in the way; nothing was changed:\n${lines.join('\n')}`, {
    hint: 'resolve them and run again (ag-nodeprep plan lists them without changing anything)',
    details: { blockers: blockers.map((b) => ({ step: b.step, ...(b.target !== undefined ? { target: b.target } : {}), code: b.error.code, message: b.error.message, ...(b.error.hint !== undefined ? { hint: b.error.hint } : {}) })) },
  });
}
