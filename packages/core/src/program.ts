import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { ExternalError, MissingError, UsageError, withContext } from './errors.js';
import type { AgDocument } from './document/schema.js';
import type { Io } from './io.js';

/**
 * Running the programs ag drives (kubeadm, kubectl, iptables, ctr) the way
 * every stage must: stdout of ag is the document, so a child's output goes to
 * our stderr (or is captured when we need it), and a failure says which
 * command failed, with what exit code and the tail of what it said.
 */

export interface RunProgramOptions {
  /** The environment, PATH included (tests put recording stand-ins first). */
  env: Io['env'];
  /** Where the child's stderr (and, with `streamStdout`, its stdout) is copied; without it, both are only captured. */
  stderr?: Io['stderr'];
  cwd?: string;
  /** Copy the child's stdout to our stderr as it comes (long-running commands such as kubeadm init). */
  streamStdout?: boolean;
  /** Copy the child's stderr to our stderr; default true. */
  streamStderr?: boolean;
  /** A non-zero exit is returned, not thrown. */
  allowFailure?: boolean;
  /** What to do next when it fails. */
  hint?: string;
  /** Written to the child's stdin (closed otherwise): text, or a stream such as a tar being made. */
  input?: string | Readable;
  /** What to do when the program is not there (default: install it, or pass its path). */
  missingHint?: string;
  /** End the child (SIGTERM) after this long; a timed-out child is a failure that says so. */
  timeoutMs?: number;
}

export interface ProgramResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

function tail(text: string, lines = 8): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** `kubeadm init --config /etc/…`, quoted only where a shell would need it: for messages and --dry-run. */
export function formatCommand(program: string, args: readonly string[]): string {
  return [program, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * What every child ag starts has in common, in one place: exactly the
 * environment given (PATH included), never a thrown non-zero exit (the
 * caller decides), and execa's `cleanup`: when ag is interrupted (SIGINT,
 * SIGTERM, SIGHUP) or exits, the child is sent SIGTERM too, so a kubeadm, an
 * apt-get or a registry does not go on alone after the command that started
 * it is gone. (execa's cleanup is signal-exit's: it acts on a signal only
 * when no other handler is installed; a command that handles SIGTERM itself,
 * such as the registry supervisor, ends its children there.)
 */
function commonOptions(options: { env: Io['env']; cwd?: string | undefined }) {
  return { env: options.env as NodeJS.ProcessEnv, extendEnv: false, cwd: options.cwd, reject: false, cleanup: true } as const;
}

/** Why a program could not be started at all: a missing program is a MissingError (exit 5), anything else names the command. */
function startFailure(program: string, command: string, error: NodeJS.ErrnoException, missingHint?: string): Error {
  if (error.code === 'ENOENT') {
    return new MissingError(`running ${command}: ${program} is not installed or not on PATH`, {
      hint: missingHint ?? `install ${program} (ag-nodeprep apply installs the bundle's binaries) or pass its path`,
    });
  }
  return withContext(`running ${command}`, error);
}

/**
 * Runs a program to completion with stdin closed (or fed `input`). Throws an ExternalError
 * (exit code 7) naming the command when it exits non-zero, a MissingError
 * when it is not installed. Never writes to our stdout.
 *
 * execa starts it (the project's library for child processes); it is
 * ended with ag when ag is interrupted (commonOptions).
 */
export async function runProgram(program: string, args: readonly string[], options: RunProgramOptions): Promise<ProgramResult> {
  const command = formatCommand(program, args);
  // Loaded on first use: execa and what it imports cost every tool's start otherwise (npm run bench:startup -- --profile).
  const { execa } = await import('execa');
  const child = execa(program, args, {
    ...commonOptions(options),
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stdout: 'pipe',
    stderr: 'pipe',
    stripFinalNewline: false,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  const copyTo = options.stderr;
  if (copyTo !== undefined && options.streamStdout) child.stdout.on('data', (chunk: Buffer) => copyTo.write(chunk));
  if (copyTo !== undefined && (options.streamStderr ?? true)) child.stderr.on('data', (chunk: Buffer) => copyTo.write(chunk));
  const done = await child;
  const spawnError = done.cause as NodeJS.ErrnoException | undefined;
  if (done.failed && done.exitCode === undefined && done.signal === undefined && spawnError !== undefined) {
    // A child that exits without reading its input is reported by its exit code, not by the broken pipe.
    if (spawnError.code !== 'EPIPE') throw startFailure(program, command, spawnError, options.missingHint);
  }
  const result: ProgramResult = { exitCode: done.exitCode ?? 128, stdout: String(done.stdout ?? ''), stderr: String(done.stderr ?? '') };
  if (result.exitCode === 0 || options.allowFailure) return result;
  const said = tail(result.stderr || result.stdout);
  const how = done.timedOut ? `did not finish within ${(options.timeoutMs ?? 0) / 1000} s` : `failed with ${done.signal ? `signal ${done.signal}` : `exit code ${result.exitCode}`}`;
  throw new ExternalError(`${command} ${how}${said ? `:\n${said}` : ''}`, {
    hint: options.hint,
    details: { command, exitCode: result.exitCode },
  });
}

export interface StartProgramOptions {
  /** The environment, PATH included. */
  env: Io['env'];
  cwd?: string;
  /**
   * Where the child's stdout and stderr go, as a file descriptor (a log file);
   * default our stderr (fd 2). Never our stdout, which is the document.
   */
  outputFd?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL; default 5 s. */
  graceMs?: number;
  /**
   * Outlive ag: the child gets its own session (setsid), is not ended with ag
   * and does not keep ag running (a daemon such as the registry supervisor).
   */
  detached?: boolean;
  /** What to do when the program is not there (default: install it, or pass its path). */
  missingHint?: string;
}

/** How a started program ended. */
export interface ProgramEnd {
  exitCode: number | undefined;
  signal: string | undefined;
  /** `exited with code 1`, `killed by SIGTERM`: for logs. */
  how: string;
}

/** A long-lived child started by `startProgram`. */
export interface StartedProgram {
  pid: number;
  /** The command as `formatCommand` writes it. */
  command: string;
  /** Resolves (never rejects) when the child has ended; a detached child's is not awaited by anyone. */
  ended: Promise<ProgramEnd>;
  /** Asks it to end: SIGTERM, then SIGKILL after `graceMs` if it is still there. */
  stop(): void;
}

/**
 * Starts a program that runs alongside ag (a registry, a supervisor) rather
 * than to completion: resolves once it runs, with its pid and a handle;
 * throws a MissingError when it is not installed, another error naming the
 * command when it cannot be started. stdin is closed; its output goes to
 * `outputFd` (default our stderr), never our stdout. Unless `detached`, it
 * is ended with ag (commonOptions), as runProgram's children are.
 */
export async function startProgram(program: string, args: readonly string[], options: StartProgramOptions): Promise<StartedProgram> {
  const command = formatCommand(program, args);
  const { execa } = await import('execa');
  // execa's types name only small descriptors; any open one is handed to spawn as it is (a single value, not an array).
  const output = (options.outputFd ?? 2) as 2;
  const child = execa(program, args, {
    ...commonOptions(options),
    stdin: 'ignore',
    stdout: output,
    stderr: output,
    forceKillAfterDelay: options.graceMs ?? 5_000,
    detached: options.detached === true,
    cleanup: options.detached !== true,
  });
  const spawned = new Promise<undefined>((resolveSpawn) => child.once('spawn', () => resolveSpawn(undefined)));
  const early = await Promise.race([spawned, child]);
  if (early !== undefined || child.pid === undefined) {
    const cause = (early?.cause ?? new Error('it ended before it started')) as NodeJS.ErrnoException;
    throw startFailure(program, command, cause, options.missingHint);
  }
  if (options.detached) child.unref();
  const ended = child.then((done): ProgramEnd => {
    const signal = done.signal ?? undefined;
    const how = signal ? `killed by ${signal}` : done.exitCode !== undefined ? `exited with code ${done.exitCode}` : `failed: ${done.shortMessage}`;
    return { exitCode: done.exitCode, signal, how };
  });
  return { pid: child.pid, command, ended, stop: () => void child.kill('SIGTERM') };
}

/** Whether systemd on the live host reports `unit` active (`systemctl is-active`); false where there is no systemctl. */
export async function systemdUnitActive(unit: string, io: Pick<Io, 'env' | 'stderr'>): Promise<boolean> {
  const result = await runProgram('systemctl', ['is-active', '--quiet', unit], {
    env: io.env,
    stderr: io.stderr,
    allowFailure: true,
    streamStderr: false,
  }).catch(() => undefined);
  return result?.exitCode === 0;
}

/** Whether `path` is an executable file. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on the PATH of `env`, or undefined. */
export async function whichProgram(name: string, env: Io['env']): Promise<string | undefined> {
  if (isAbsolute(name)) return (await isExecutable(name)) ? name : undefined;
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export interface PollOptions {
  /** What is awaited, for the timeout message (`the API server to answer /readyz`). */
  what: string;
  timeoutMs: number;
  intervalMs: number;
  hint?: string;
}

/**
 * Calls `check` until it returns a value other than undefined, or fails with
 * an ExternalError after `timeoutMs` naming what was awaited and the last
 * thing `check` reported through `note`.
 */
export async function pollUntil<T>(check: (note: (why: string) => void) => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const value = await check((why) => {
      last = why;
    });
    if (value !== undefined) return value;
    if (Date.now() + options.intervalMs > deadline) {
      throw new ExternalError(`timed out after ${Math.round(options.timeoutMs / 1000)} s waiting for ${options.what}${last ? ` (last: ${last})` : ''}`, {
        hint: options.hint,
      });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
}

/** Parses `90s`, `5m`, `1h30m`, `250ms` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = trimmed;
  while (rest !== '') {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!match) throw new UsageError(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 5m, 1h30m)`);
    total += Number(match[1]) * unit[match[2] as string]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** The Go/Kubernetes name of this machine's architecture (`x64` -> `amd64`). */
export function hostArchitecture(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return names[arch] ?? arch;
}

export interface FindProgramOptions {
  env: Io['env'];
  /** An explicit path (`--kubectl PATH`): used as is, or a MissingError. */
  override?: string | undefined;
  /** Where the document says this binary is installed on a node (fetch.files[].install.path). */
  installedPaths?: readonly string[];
  /** The binary inside the bundle, as a last resort (already joined with the bundle root). */
  bundlePaths?: readonly string[];
  /** Prefix for installed paths (tests, chroots); default `/`. */
  hostRoot?: string;
}

/**
 * Finds the program to run: an explicit path, else where the bundle's copy
 * was installed, else PATH, else the copy inside the bundle. A program that
 * is nowhere is a MissingError that lists where it looked.
 */
export async function findProgram(name: string, options: FindProgramOptions): Promise<string> {
  if (options.override !== undefined) {
    if (await isExecutable(options.override)) return options.override;
    throw new MissingError(`${name}: ${options.override} is not an executable file`);
  }
  const looked: string[] = [];
  for (const path of options.installedPaths ?? []) {
    const full = join(options.hostRoot ?? '/', path);
    looked.push(full);
    if (await isExecutable(full)) return full;
  }
  const onPath = await whichProgram(name, options.env);
  if (onPath !== undefined) return onPath;
  looked.push(`PATH (${options.env['PATH'] ?? ''})`);
  for (const path of options.bundlePaths ?? []) {
    looked.push(path);
    if (await isExecutable(path)) return path;
  }
  throw new MissingError(`${name} was not found; looked in ${looked.join(', ')}`, {
    hint: `run ag-nodeprep apply (it installs the bundle's ${name}) or pass --${name} PATH`,
  });
}

/**
 * Where the document says a binary of the bundle (`kubectl`, `kubeadm`) is
 * installed on a node of this architecture, and where it is in the bundle.
 */
export function programPathsFromDocument(
  document: AgDocument | undefined,
  name: string,
  arch: string = hostArchitecture(),
): Pick<FindProgramOptions, 'installedPaths' | 'bundlePaths'> {
  const files = (document?.fetch?.files ?? []).filter((f) => f.name === name && f.kind === 'binary' && (f.arch === undefined || f.arch === arch));
  const installedPaths = files.flatMap((f) => (f.install?.path === undefined ? [] : [f.install.path]));
  const root = document?.root;
  const bundlePaths = root === undefined ? [] : files.map((f) => join(root, f.path));
  return { installedPaths, bundlePaths };
}
