import { VerificationError, toAgError, withContext, writeFileAtomic, type NodeprepSection } from '@ag/core';
import { BACKUP_BASE, backupKeeper, runStamp } from './backup.js';
import { actionEnv, planNode, sectionOf, type PlanInput } from './plan.js';
import { blockedError, previewPlan } from './preview.js';
import { inRoot } from './root-fs.js';

export interface ApplyInput extends PlanInput {
  /** The time of the run (names the backup directory). */
  now?: Date;
}

/** Actions whose result apply reads back before moving on (commands are judged by their exit code). */
const VERIFIED_AFTER_APPLY = new Set(['write-file', 'install-file', 'extract-archive', 'symlink', 'remove-file', 'enable-unit', 'disable-unit']);

/**
 * Makes the node what the plan says, step by step, and records what happened
 * to every action (changed, unchanged, skipped) in the nodeprep section. A
 * re-run finds everything done and reports zero changes. With --root, host
 * commands are recorded as skipped and never run.
 *
 * Before its first write it walks the whole plan (previewPlan) and, when
 * anything stands in the way (no nameserver known, containerd's unit
 * missing, packages the bundle does not carry, a damaged bundle file),
 * lists every such thing at once and changes nothing. A failure only the
 * run itself can meet (a command that fails) stops it, with what was done
 * so far in a journal under /var/lib/ag/nodeprep/journal.
 *
 * Does not reboot, does not run kubeadm, does not touch the registry trust
 * (ag-registry trust does).
 */
export async function applyNode(input: ApplyInput): Promise<NodeprepSection> {
  const now = input.now ?? new Date();
  const plan = await planNode(input);
  const blockers = await previewPlan(plan);
  if (blockers.length > 0) throw blockedError(blockers);
  const stamp = runStamp(now);
  const backupDir = `${BACKUP_BASE}/${stamp}`;
  const env = actionEnv(plan.context, backupKeeper(plan.context.root, backupDir));
  const { log } = plan.context;
  let failure: unknown;
  outer: for (const step of plan.steps) {
    for (const action of step.actions) {
      const record = action.record;
      if (record.hostOnly && !env.hostMode) continue; // recorded as skipped by the preview
      try {
        const found = await action.inspect(env);
        if (found.length === 0) {
          record.status = 'unchanged';
          record.changed = false;
          delete record.change;
          delete record.diff;
          continue;
        }
        record.change = (await action.change(env)).summary;
        log.info(`${step.name}: ${record.change}`);
        const outcome = await action.apply(env);
        if (outcome.skipped !== undefined) {
          record.status = 'skipped';
          record.detail = outcome.skipped;
          continue;
        }
        if (VERIFIED_AFTER_APPLY.has(record.action)) {
          const left = await action.inspect(env);
          if (left.length > 0) throw new VerificationError(`after writing, ${left.join('; ')}`);
        }
        record.status = 'changed';
        record.changed = true;
        if (outcome.backup !== undefined) record.backup = outcome.backup;
        if (outcome.detail !== undefined) record.detail = outcome.detail;
        if (outcome.members !== undefined) record.members = outcome.members;
        if (record.target !== undefined) env.changed.add(record.target);
      } catch (error) {
        record.status = 'failed';
        record.detail = toAgError(error).message;
        failure = withContext(`step ${step.name}: ${record.change ?? `${record.action} ${record.target ?? ''}`.trimEnd()}`, error);
        break outer;
      }
    }
  }
  const section: NodeprepSection = { ...sectionOf(plan, 'apply'), appliedAt: now.toISOString() };
  if (section.changes > 0) section.backupDir = backupDir;
  let journal: string | undefined;
  if (section.changes > 0 || failure !== undefined) {
    // The document is the record; the journal is the same record for when the pipeline stopped here.
    const path = `/var/lib/ag/nodeprep/journal/${stamp}.json`;
    journal = await writeFileAtomic(inRoot(plan.context.root, path), `${JSON.stringify(section, null, 2)}\n`, { mode: 0o600 }).then(
      () => `${path}${plan.context.hostMode ? '' : ` under ${plan.context.root}`}`,
      (error: unknown) => {
        log.warn(`could not write the journal ${path}: ${(error as Error).message}`);
        return undefined;
      },
    );
  }
  if (failure !== undefined) {
    log.error(`stopped after ${section.changes} change(s)${journal !== undefined ? `; the journal is ${journal}` : ''}`);
    throw failure;
  }
  return section;
}
