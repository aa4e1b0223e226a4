import {
  findProgram,
  formatCommand,
  programPathsFromDocument,
  runProgram,
  silentLogger,
  type AgDocument,
  type Io,
  type Logger,
  type ProgramResult,
  type RunProgramOptions,
} from '@ag/core';
import { hostPath } from './host.js';

/** What every verb that runs programs needs: streams, a logger, where the host is, how long to wait. */
export interface RunContext {
  io: Pick<Io, 'env' | 'stderr'>;
  log?: Logger;
  /** Prefix for every host path (default `/`). */
  hostRoot?: string;
  /** Explicit program paths (`--kubeadm`, `--kubectl`). */
  kubeadm?: string;
  kubectl?: string;
  /** How long to wait for the API server, the node, a rollout (default 5 min). */
  timeoutMs?: number;
  /** How often to look again while waiting (default 2 s). */
  intervalMs?: number;
  /** Print what would be run, run nothing. */
  dryRun?: boolean;
}

export interface Runner {
  log: Logger;
  env: Io['env'];
  hostRoot: string;
  timeoutMs: number;
  intervalMs: number;
  dryRun: boolean;
  /** A node path under the host root. */
  path(nodePath: string): string;
  /** Runs `program` (kubeadm, kubectl or any other) resolved from the document, PATH or the flags. */
  run(program: string, args: string[], options?: Partial<RunProgramOptions>): Promise<ProgramResult>;
  /** Logs, or in a dry run reports, a command that changes the host. */
  change(program: string, args: string[], options?: Partial<RunProgramOptions>): Promise<ProgramResult | undefined>;
  /** The planned actions of a dry run. */
  actions: Array<{ action: string; target: string }>;
}

/** Builds the runner: program lookup is cached, and in a dry run `change` only records. */
export function createRunner(document: AgDocument | undefined, context: RunContext): Runner {
  const log = context.log ?? silentLogger;
  const hostRoot = context.hostRoot ?? '/';
  const resolved = new Map<string, Promise<string>>();
  const resolve = (program: string): Promise<string> => {
    let found = resolved.get(program);
    if (found === undefined) {
      const override = program === 'kubeadm' ? context.kubeadm : program === 'kubectl' ? context.kubectl : undefined;
      found = findProgram(program, { env: context.io.env, override, hostRoot, ...programPathsFromDocument(document, program) });
      resolved.set(program, found);
    }
    return found;
  };
  const runner: Runner = {
    log,
    env: context.io.env,
    hostRoot,
    timeoutMs: context.timeoutMs ?? 5 * 60_000,
    intervalMs: context.intervalMs ?? 2000,
    dryRun: context.dryRun ?? false,
    actions: [],
    path: (nodePath) => hostPath(hostRoot, nodePath),
    async run(program, args, options = {}) {
      const path = await resolve(program);
      log.debug(`running ${formatCommand(path, args)}`);
      return runProgram(path, args, { env: context.io.env, stderr: context.io.stderr, ...options });
    },
    async change(program, args, options = {}) {
      if (runner.dryRun) {
        runner.actions.push({ action: 'run', target: formatCommand(program, args) });
        return undefined;
      }
      log.info(`running ${formatCommand(program, args)}`);
      return runner.run(program, args, options);
    },
  };
  return runner;
}
