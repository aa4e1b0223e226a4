import type { Io } from '../io.js';

/** One thing a dry run would do: a verb and what it acts on, and whatever else says it best. */
export interface PlannedAction {
  action: string;
}

function target(action: PlannedAction): string {
  for (const key of ['target', 'path', 'ref', 'image', 'url', 'runner']) {
    const value = (action as unknown as Record<string, unknown>)[key];
    if (typeof value === 'string') return value;
  }
  return '';
}

/**
 * Every stage's dry run says what it would do the same way, on stderr
 * (stdout carries the document, passed through, so a whole pipeline can be
 * dry-run): one JSON object `{"dryRun":true, …extra, "actions":[…]}` for a
 * script or a log collector, or, when stderr is a terminal and logs are
 * text, one line per action for a person.
 */
export function reportPlannedActions<A extends PlannedAction>(io: Pick<Io, 'stderr'>, tool: string, actions: readonly A[], extra: Record<string, unknown> = {}, logFormat: unknown = 'text'): void {
  if (io.stderr.isTTY === true && logFormat !== 'json') {
    const lines = actions.map((a) => `${tool}: dry run: would ${a.action} ${target(a)}`.trimEnd());
    if (lines.length === 0) lines.push(`${tool}: dry run: nothing to do`);
    io.stderr.write(`${lines.join('\n')}\n`);
    return;
  }
  io.stderr.write(`${JSON.stringify({ dryRun: true, ...extra, actions })}\n`);
}
