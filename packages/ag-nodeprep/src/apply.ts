import { VerificationError, toAgError, withContext, writeFileAtomic, type NodeprepSection } from '@ag/core';
import { BACKUP_BASE, backupKeeper, runStamp } from './backup.js';
import { actionEnv, planNode, sectionOf, type PlanInput } from './plan.js';
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
 * commands are recorded as skipped and never run. Stops at the first failure
 * with what was done so far in a journal under /var/lib/ag/nodeprep/journal.
 *
 * Does not reboot, does not run kubeadm, does not touch the registry trust
 * (ag-registry trust does).
 */
export async function applyNode(input: ApplyInput): Promise<NodeprepSection> {
  const now = input.now ?? new Date();
  const plan = await planNode(input);
  const stamp = runStamp(now);
  const backupDir = `${BACKUP_BASE}/${stamp}`;
  const env = actionEnv(plan.context, backupKeeper(plan.context.root, backupDir));
  const { log } = plan.context;
  let failure: unknown;
  outer: for (const step of plan.steps) {
    for (const action of step.actions) {
      const record = action.record;
      if (record.hostOnly && !env.hostMode) {
        record.status = 'skipped';
        record.detail = 'host command: not run with --root';
        continue;
      }
      try {
        const found = await action.inspect(env);
        if (found.length === 0) {
          record.status = 'unchanged';
          record.changed = false;
          continue;
        }
        log.info(`${step.name}: ${record.action} ${record.target ?? ''}: ${found.join('; ')}`);
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
        failure = withContext(`step ${step.name}: ${record.action} ${record.target ?? ''}`.trimEnd(), error);
        break outer;
      }
    }
  }
  const section: NodeprepSection = { ...sectionOf(plan, 'apply'), appliedAt: now.toISOString() };
  if (section.changes > 0) section.backupDir = backupDir;
  if (section.changes > 0 || failure !== undefined) {
    // The document is the record; the journal is the same record for when the pipeline stopped here.
    await writeFileAtomic(inRoot(plan.context.root, `/var/lib/ag/nodeprep/journal/${stamp}.json`), `${JSON.stringify(section, null, 2)}\n`, { mode: 0o600 }).catch(
      (error: unknown) => log.warn(`could not write the journal: ${(error as Error).message}`),
    );
  }
  if (failure !== undefined) {
    log.error(`stopped after ${section.changes} change(s); the journal is /var/lib/ag/nodeprep/journal/${stamp}.json${plan.context.hostMode ? '' : ` under ${plan.context.root}`}`);
    throw failure;
  }
  return section;
}
