import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive as alive, startProgram, UsageError, withContext, writeFileAtomic, type StartedProgram } from '@ag/core';
import { forgetChild, recordChild, stopOrphan } from './child-record.js';
import { readOptional } from './files.js';
import type { RegistryPaths } from './paths.js';
import { selfCommand } from './self-command.js';

/** What the supervisor runs, written by `up` to run/supervise.json. */
export interface SuperviseSpec {
  argv: string[];
  cwd: string;
  env?: Record<string, string>;
}

/** How long a stopped registry gets to finish its requests before SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** A child that ran this long is healthy again: the restart delay starts over. */
const HEALTHY_RUN_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The pid in the pid file, if that process is alive and is the supervisor of
 * this directory (a pid file can outlive a reboot and its pid be reused: the
 * command line must name `supervise` and this directory).
 */
export async function supervisorPid(paths: RegistryPaths): Promise<number | undefined> {
  const text = await readOptional(paths.pidFile);
  const pid = Number.parseInt(text?.trim() ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline === undefined) return pid; // no /proc: trust the pid file
  const args = cmdline.split('\0');
  return args.includes('supervise') && args.includes(paths.dir) ? pid : undefined;
}

/**
 * Starts the supervisor as a detached background process (its own session,
 * stdio to the log file) and writes its pid file. The supervisor runs
 * `spec.argv` and restarts it when it exits, until `stopSupervised`.
 */
export async function startSupervised(paths: RegistryPaths, spec: SuperviseSpec): Promise<number> {
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(paths.superviseFile, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  const [program, ...args] = selfCommand();
  const logFd = openSync(paths.logFile, 'a', 0o600);
  let pid: number;
  try {
    // Through startProgram (execa), detached: its own session, its output the log file, not ended with `up`.
    ({ pid } = await startProgram(program!, [...args, 'supervise', '--state-dir', paths.dir], {
      cwd: paths.dir,
      detached: true,
      outputFd: logFd,
      env: { ...process.env, ...spec.env },
    }));
  } catch (error) {
    throw withContext(`starting the ag-registry supervisor`, error);
  } finally {
    closeSync(logFd);
  }
  await writeFileAtomic(paths.pidFile, `${pid}\n`, { mode: 0o644 });
  return pid;
}

/** Stops the supervisor (and so the registry): SIGTERM, then SIGKILL after a grace period. Returns whether one was running. */
export async function stopSupervised(paths: RegistryPaths): Promise<boolean> {
  const pid = await supervisorPid(paths);
  if (pid === undefined) {
    await rm(paths.pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS + 5_000;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(-pid, 'SIGKILL');
  await rm(paths.pidFile, { force: true });
  return true;
}

/**
 * setpriv(1) (util-linux) sets the registry's parent-death signal before it
 * execs it (prctl PR_SET_PDEATHSIG, kept across execve): when the supervisor
 * dies, even by SIGKILL, the kernel sends the registry SIGTERM. Node cannot
 * call prctl itself, and the distribution binary cannot watch a pipe.
 */
const SETPRIV = '/usr/bin/setpriv';

function withParentDeathSignal(argv: string[]): string[] {
  try {
    accessSync(SETPRIV, constants.X_OK);
    return [SETPRIV, '--pdeathsig', 'TERM', '--', ...argv];
  } catch {
    return argv; // run/registry.json still lets down and up find an orphan
  }
}

function stamp(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ag-registry supervisor: ${message}\n`);
}

/**
 * The supervisor's own loop (the hidden `ag-registry supervise` command):
 * runs the registry, restarts it with a growing delay when it exits, and
 * stops it on SIGTERM/SIGINT. Resolves when stopped. Its stdout/stderr are
 * the log file; so are the registry's.
 */
export async function runSupervisor(paths: RegistryPaths): Promise<void> {
  const text = await readOptional(paths.superviseFile);
  if (text === undefined) throw new UsageError(`nothing to supervise: ${paths.superviseFile} is missing`, { hint: 'run ag-registry up' });
  const spec = JSON.parse(text) as SuperviseSpec;
  await writeFileAtomic(paths.pidFile, `${process.pid}\n`, { mode: 0o644 });
  // A registry left by a supervisor killed before it could stop it holds the port: stop it first.
  if (await stopOrphan(paths)) stamp('stopped the registry a previous supervisor left running');
  let stopping = false;
  let child: StartedProgram | undefined;
  let wake: (() => void) | undefined;
  // The supervisor handles SIGTERM and SIGINT itself (so execa's cleanup leaves them to it): it must stop
  // restarting as well as end the registry, and give the registry STOP_GRACE_MS to finish its requests.
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    stamp(`${signal}: stopping the registry`);
    child?.stop();
    wake?.();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => undefined);
  let delay = 1_000;
  while (!stopping) {
    const started = Date.now();
    stamp(`starting ${spec.argv.join(' ')}`);
    const [program, ...args] = withParentDeathSignal(spec.argv);
    let outcome: string;
    try {
      // Through startProgram (execa): the registry's output goes to ours (the log file), never to a stdout.
      const running = await startProgram(program!, args, { cwd: spec.cwd, env: { ...process.env, ...spec.env }, graceMs: STOP_GRACE_MS });
      child = running;
      // A signal that came while it was starting: stop() found no child to end.
      if (stopping) running.stop();
      await recordChild(paths, running.pid, spec.argv).catch((error: Error) => stamp(`could not record the registry's pid: ${error.message}`));
      outcome = (await running.ended).how;
      await forgetChild(paths, running.pid);
    } catch (error) {
      outcome = `could not start: ${(error as Error).message}`;
    }
    child = undefined;
    if (stopping) {
      stamp(`registry ${outcome}; stopped`);
      break;
    }
    if (Date.now() - started > HEALTHY_RUN_MS) delay = 1_000;
    stamp(`registry ${outcome}; restarting in ${delay / 1000} s`);
    await new Promise<void>((resolveWait) => {
      // Not unref'd: this timer is what keeps the supervisor alive between two runs.
      const timer = setTimeout(resolveWait, delay);
      wake = () => {
        clearTimeout(timer);
        resolveWait();
      };
    });
    wake = undefined;
    delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
  }
  const current = await readOptional(paths.pidFile);
  if (current?.trim() === String(process.pid)) await rm(paths.pidFile, { force: true });
}
