import { readFile, rm } from 'node:fs/promises';
import { endProcesses, processAlive, writeFileAtomic } from '@ag/core';
import { readOptional } from './files.js';
import type { RegistryPaths } from './paths.js';

/** The registry process the supervisor runs, as written to run/registry.json. */
export interface ChildRecord {
  pid: number;
  /**
   * The process's start time in clock ticks since boot (/proc/PID/stat field 22, proc(5)):
   * a pid alone can be reused by an unrelated process after the registry died.
   */
  startTime: string;
  argv: string[];
}

/** Field 22 of /proc/PID/stat (starttime); the command name (field 2) may hold spaces and parentheses, so count after the last ')'. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After ')' the fields start at field 3 (state): starttime is field 22, index 19.
  return fields[19];
}

export async function recordChild(paths: RegistryPaths, pid: number, argv: string[]): Promise<void> {
  const startTime = (await processStartTime(pid)) ?? '';
  const record: ChildRecord = { pid, startTime, argv };
  await writeFileAtomic(paths.childFile, `${JSON.stringify(record)}\n`, { mode: 0o644 });
}

export async function forgetChild(paths: RegistryPaths, pid?: number): Promise<void> {
  if (pid !== undefined) {
    const current = await readRecord(paths);
    if (current !== undefined && current.pid !== pid) return;
  }
  await rm(paths.childFile, { force: true });
}

async function readRecord(paths: RegistryPaths): Promise<ChildRecord | undefined> {
  const text = await readOptional(paths.childFile);
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as ChildRecord;
    return Number.isInteger(record.pid) && record.pid > 0 ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded registry process, if that very process (same pid, same start time) still runs. */
export async function liveChild(paths: RegistryPaths): Promise<ChildRecord | undefined> {
  const record = await readRecord(paths);
  if (record === undefined || !processAlive(record.pid)) return undefined;
  const startTime = await processStartTime(record.pid);
  // No /proc: trust the pid. Otherwise a different start time is another process that got the pid.
  if (startTime !== undefined && record.startTime !== '' && startTime !== record.startTime) return undefined;
  return record;
}

/**
 * Stops the recorded registry process when it runs without its supervisor
 * (the supervisor was killed before it could stop it): SIGTERM, SIGKILL after
 * `graceMs`. Returns whether one was running.
 */
export async function stopOrphan(paths: RegistryPaths, graceMs = 10_000): Promise<boolean> {
  const child = await liveChild(paths);
  if (child === undefined) {
    await rm(paths.childFile, { force: true });
    return false;
  }
  await endProcesses(async () => (processAlive(child.pid) ? [child.pid] : []), graceMs);
  await rm(paths.childFile, { force: true });
  return true;
}
