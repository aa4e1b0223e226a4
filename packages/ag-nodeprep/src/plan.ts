import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { SystemError, UsageError, hostArchitecture, toAgError, type AgDocument, type Io, type Logger, type NodeprepSection } from '@ag/core';
import type { Action, ActionEnv } from './actions/types.js';
import { DEFAULT_OPTIONS, type NodeprepOptions, type StepContext } from './context.js';
import { detectInit, type InitInfo } from './init-system.js';
import { detectOs, osKey } from './os-release.js';
import type { Blocker } from './preview.js';
import { STEPS, STEP_NAMES } from './steps/index.js';

export interface PlannedStep {
  name: string;
  actions: Action[];
}

export interface NodePlan {
  context: StepContext;
  steps: PlannedStep[];
  skipped: string[];
  /** Steps that could not even say what they would do (a bundle file unreadable, the networks overlapping): each is a blocker. */
  blockers: Blocker[];
}

export interface PlanInput {
  document: AgDocument | undefined;
  options: Partial<NodeprepOptions> & Pick<NodeprepOptions, 'root'>;
  io: Pick<Io, 'env' | 'stderr' | 'cwd'>;
  log: Logger;
  /** check: an unsupported init system is one more problem to list, not a refusal. */
  forCheck?: boolean;
}

function nodeArch(document: AgDocument | undefined, flag: string | undefined): string {
  if (flag !== undefined) return flag;
  const archs = document?.cluster?.architectures ?? [];
  return archs.length === 1 ? archs[0]! : hostArchitecture();
}

/** Refuses an init system ag-nodeprep cannot drive; check lists it instead. */
export function initProblems(init: InitInfo, hostMode: boolean): string[] {
  if (init.name !== 'systemd') return [`init system: ${init.detail}; the kubelet and containerd run as systemd units`];
  if (hostMode && !init.running) return [`init system: ${init.detail}; use --root DIR to prepare this tree as files only`];
  return [];
}

/**
 * Reads the node (OS, init system, files) and lists every action of every
 * step not skipped, changing nothing. What `plan` prints and what `apply`
 * and `check` run.
 */
export async function planNode(input: PlanInput): Promise<NodePlan> {
  const options: NodeprepOptions = { ...DEFAULT_OPTIONS, ...input.options, root: resolve(input.io.cwd, input.options.root) };
  const unknown = options.skip.filter((name) => !STEP_NAMES.includes(name));
  if (unknown.length > 0) throw new UsageError(`--skip ${unknown.join(', ')}: no such step; the steps are ${STEP_NAMES.join(', ')}`);
  const root = options.root;
  const hostMode = root === '/';
  const os = await detectOs(root);
  const init = await detectInit(root, hostMode);
  const refusal = initProblems(init, hostMode);
  if (refusal.length > 0 && !input.forCheck) {
    throw new SystemError(`refusing to prepare ${hostMode ? 'this host' : root}: ${refusal.join('; ')}`, {
      hint: hostMode ? 'run on a booted systemd host, or pass --root DIR to write the files into a tree' : 'ag-nodeprep prepares systemd-based distributions only',
    });
  }
  const planned = input.document?.cluster?.os;
  if (planned !== undefined && planned !== osKey(os)) {
    input.log.warn(`the bundle was planned for ${planned}, but this node runs ${osKey(os)}: OS packages may not fit`);
  }
  const context: StepContext = {
    root,
    hostMode,
    os,
    init,
    document: input.document,
    bundleRoot: input.document?.root ?? options.bundleDir,
    arch: nodeArch(input.document, options.arch),
    options,
    io: input.io,
    log: input.log,
  };
  const steps: PlannedStep[] = [];
  const blockers: Blocker[] = [];
  for (const step of STEPS) {
    if (options.skip.includes(step.name)) continue;
    try {
      steps.push({ name: step.name, actions: await step.plan(context) });
    } catch (error) {
      // A step that cannot plan is one blocker among all the others, not the end of the look: every one is listed at once.
      const agError = toAgError(error);
      if (agError.kind === 'internal') throw error;
      blockers.push({ step: step.name, error: agError });
    }
  }
  return { context, steps, skipped: STEP_NAMES.filter((name) => options.skip.includes(name)), blockers };
}

/** The nodeprep section for a plan, an apply or a check. */
export function sectionOf(plan: NodePlan, mode: 'plan' | 'apply' | 'check'): NodeprepSection {
  const { context } = plan;
  const actions = plan.steps.flatMap((step) => step.actions.map((action) => action.record));
  return {
    root: context.root,
    ...(context.hostMode ? { hostname: hostname() } : {}),
    os: { id: context.os.id, version: context.os.version, family: context.os.family, name: context.os.name, init: context.init.name },
    mode,
    steps: [...STEP_NAMES],
    skipped: plan.skipped,
    actions,
    changes: actions.filter((a) => a.changed === true).length,
    ...(context.containerd ? { containerd: context.containerd } : {}),
    ...(context.dns ? { dns: context.dns } : {}),
  };
}

/** What actions run with; `backup` only for apply (plan and check change nothing). */
export function actionEnv(context: StepContext, backup: ActionEnv['backup'] = async () => undefined): ActionEnv {
  return { root: context.root, hostMode: context.hostMode, io: context.io, log: context.log, backup, changed: new Set() };
}
