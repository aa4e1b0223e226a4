import { summarise, type AgDocument, type DocumentSummary, type NodeAction } from '@ag/core';

/**
 * The mark before each change, by its verb, as terraform plan marks them:
 * `+` something new, `~` something changed in place, `-` something taken
 * away, `>` a command run on the host, `?` a condition verified after the
 * changes.
 */
const MARKS: Record<string, string> = {
  create: '+',
  install: '+',
  link: '+',
  mask: '+',
  enable: '+',
  import: '+',
  change: '~',
  replace: '~',
  chmod: '~',
  disable: '-',
  remove: '-',
  run: '>',
  verify: '?',
};

function mark(change: string): string {
  return MARKS[change.split(' ')[0] ?? ''] ?? '*';
}

function indent(text: string, by: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n');
}

/** The actions a section shows as changes: what plan would do, or what apply did. */
function shown(action: NodeAction): boolean {
  return (action.status === 'planned' || action.status === 'changed' || action.status === 'failed') && action.change !== undefined;
}

/**
 * `ag-nodeprep plan` for a person (what a terminal gets instead of the
 * document): every change apply would make, grouped by step and phrased as a
 * change, with the unified diff of each file it would write, then the
 * warnings and one line of counts, as `terraform plan` prints its plan.
 * Works on any document with a nodeprep section (apply's shows what it did).
 */
export function summarisePlan(document: AgDocument): string {
  const section = document.nodeprep;
  if (section === undefined) return 'The document has no nodeprep section: run ag-nodeprep plan.\n';
  const lines: string[] = [];
  const where = `${section.os.name ?? `${section.os.id} ${section.os.version}`} at ${section.root}${section.hostname !== undefined ? ` (${section.hostname})` : ''}`;
  const verb = section.mode === 'apply' ? 'applied' : section.mode === 'check' ? 'checked' : 'planned';
  lines.push(`ag-nodeprep ${section.mode ?? 'plan'}: ${where}`, '');

  const changes = section.actions.filter(shown);
  let step: string | undefined;
  for (const action of changes) {
    if (action.step !== step) {
      step = action.step;
      lines.push(`  ${step}`);
    }
    lines.push(`    ${mark(action.change!)} ${action.change}${action.status === 'failed' ? '  (failed)' : ''}`);
    if (action.diff !== undefined) lines.push(indent(action.diff, '        '));
  }
  if (changes.length === 0) lines.push('  No changes: the node is already as ag-nodeprep would leave it.');

  const warnings = section.actions.filter((a) => a.status === 'skipped' && !a.hostOnly && a.detail !== undefined);
  if (warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of warnings) lines.push(`  ! ${w.step}: ${w.change ?? w.target ?? w.action}: ${w.detail}`);
  }

  const unchanged = section.actions.filter((a) => a.status === 'unchanged').length;
  const notRun = section.actions.filter((a) => a.status === 'skipped' && a.hostOnly).length;
  const counts = [
    `${changes.length} ${section.mode === 'apply' ? 'changed' : 'to change'}`,
    `${unchanged} already as wanted`,
    ...(notRun > 0 ? [`${notRun} host command(s) not run with --root`] : []),
    ...(section.skipped.length > 0 ? [`steps skipped: ${section.skipped.join(', ')}`] : []),
  ];
  lines.push('', `${verb[0]!.toUpperCase()}${verb.slice(1)}: ${counts.join(', ')}.`);
  if (section.mode === 'plan' && changes.length > 0) lines.push('Nothing was changed; ag-nodeprep apply (same options) makes these changes.');
  if (section.mode === 'apply' && section.backupDir !== undefined) lines.push(`Previous versions are in ${section.backupDir}.`);
  return `${lines.join('\n')}\n`;
}

/** What ag-nodeprep prints on a terminal instead of the document: the plan, or what apply did. */
export const summaries: Record<string, DocumentSummary> = {
  plan: summarisePlan,
  apply: summarisePlan,
  check: summarise('ag-nodeprep check: ready for kubeadm', { sections: ['nodeprep'] }),
};
