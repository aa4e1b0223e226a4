import { toAgError, type NodeprepSection } from '@ag/core';
import { actionEnv, initProblems, planNode, sectionOf, type PlanInput } from './plan.js';

export interface CheckProblem {
  step: string;
  target?: string | undefined;
  problem: string;
}

export interface CheckResult {
  ready: boolean;
  problems: CheckProblem[];
  section: NodeprepSection;
}

/**
 * Verifies the node is ready for kubeadm: runs every action's inspection
 * and lists everything that is not as apply would leave it, all at once.
 * Changes nothing. With --root, what only the running host can show
 * (loaded modules, live sysctls, running services) is not checked and is
 * recorded as skipped.
 */
export async function checkNode(input: PlanInput & { now?: Date }): Promise<CheckResult> {
  const plan = await planNode({ ...input, forCheck: true });
  const { context } = plan;
  const env = actionEnv(context);
  const problems: CheckProblem[] = initProblems(context.init, context.hostMode).map((problem) => ({ step: 'init', problem }));
  problems.push(...plan.blockers.map((b) => ({ step: b.step, problem: `could not check: ${b.error.message}` })));
  for (const step of plan.steps) {
    for (const action of step.actions) {
      const record = action.record;
      if (record.hostOnly && !context.hostMode) {
        record.status = 'skipped';
        record.detail = 'needs the running host: not checked with --root';
        continue;
      }
      let found: string[];
      try {
        found = await action.inspect(env);
      } catch (error) {
        found = [`could not check: ${toAgError(error).message}`];
      }
      record.status = found.length === 0 ? 'unchanged' : 'failed';
      if (found.length > 0) record.detail = found.join('; ');
      problems.push(...found.map((problem) => ({ step: step.name, target: record.target, problem })));
    }
  }
  const section: NodeprepSection = { ...sectionOf(plan, 'check'), checkedAt: (input.now ?? new Date()).toISOString() };
  return { ready: problems.length === 0, problems, section };
}
