/**
 * How every benchmark times a command: GNU time around it (Debian's `time`
 * package, in tools/ci/debian-packages.txt) for the child's CPU time (user
 * + system) and its peak resident set (ru_maxrss: the largest of the
 * command and the processes it waited for), and the wall time from here.
 * GNU time reads the peak from the kernel at exit, where polling
 * /proc/<pid>/status could miss a peak between two polls or in a child.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './workspace.js';

export interface Measurement {
  wallMs: number;
  /** User + system CPU time of the command and what it waited for (10 ms ticks). */
  cpuMs: number;
  /** Peak resident set of the largest process, in KiB. */
  peakKiB: number;
}

const GNU_TIME = '/usr/bin/time';

/** Runs one command (stdin from the file `input`, stdout dropped); throws with its stderr when it fails. */
export async function measure(command: string, args: string[], cwd = REPO_ROOT, input?: string): Promise<Measurement> {
  const scratch = await mkdtemp(join(tmpdir(), 'ag-bench-time-'));
  const out = join(scratch, 'time.out');
  const stdin = input === undefined ? 'ignore' : openSync(input, 'r');
  try {
    const started = process.hrtime.bigint();
    const child = spawn(GNU_TIME, ['-o', out, '-f', '%U %S %M', command, ...args], { cwd, stdio: [stdin, 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}:\n${stderr}`);
    // The last line: GNU time puts "Command exited with non-zero status" above it when there is one.
    const [user, system, maxKiB] = (await readFile(out, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
    return { wallMs, cpuMs: (user! + system!) * 1000, peakKiB: maxKiB! };
  } finally {
    if (typeof stdin === 'number') closeSync(stdin);
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Several runs as one step: times add up, the peak is the largest. */
export function combine(runs: Measurement[]): Measurement {
  return {
    wallMs: runs.reduce((total, run) => total + run.wallMs, 0),
    cpuMs: runs.reduce((total, run) => total + run.cpuMs, 0),
    peakKiB: Math.max(0, ...runs.map((run) => run.peakKiB)),
  };
}

/** Commands one after the other (each `[command, args, cwd?]`), as one step. */
export async function measureEach(steps: Array<[string, string[], string?]>): Promise<Measurement> {
  const runs: Measurement[] = [];
  for (const [command, args, cwd] of steps) runs.push(await measure(command, args, cwd));
  return combine(runs);
}
