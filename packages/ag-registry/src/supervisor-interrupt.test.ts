import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '@ag/core';
import { processEnded } from '@ag/core/testing';
import { liveChild } from './child-record.js';
import { registryPaths } from './paths.js';
import type { SuperviseSpec } from './supervisor.js';

const BIN = join(import.meta.dirname, 'bin.ts');

describe('ag-registry supervise, interrupted', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'agr-supervise-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('on %s ends the registry it runs (its pid is gone), then exits 0 and removes its pid file', async (signal) => {
    const dir = join(root, signal);
    const paths = registryPaths(dir);
    await mkdir(paths.runDir, { recursive: true });
    // The "registry": a real process that says something on both outputs, then waits (the same pid, through exec).
    const spec: SuperviseSpec = { argv: ['sh', '-c', 'echo registry-stdout; echo registry-stderr >&2; exec sleep 300'], cwd: dir };
    await writeFile(paths.superviseFile, JSON.stringify(spec));
    // forceKillAfterDelay: false: only the signal under test, no SIGKILL from execa after 5 s.
    const supervisor = execa(process.execPath, ['--import', 'tsx', BIN, 'supervise', '--state-dir', dir], { reject: false, stdin: 'ignore', forceKillAfterDelay: false });
    let registryPid: number | undefined;
    try {
      const registry = await pollUntil(
        async () => {
          if (supervisor.exitCode !== null) throw new Error(`the supervisor exited early: ${String((await supervisor).stderr)}`);
          return liveChild(paths);
        },
        { what: 'the supervisor to record the registry it started', timeoutMs: 30_000, intervalMs: 50 },
      );
      registryPid = registry.pid;
      expect(registry.argv).toEqual(['sh', '-c', expect.stringContaining('exec sleep 300')]);
      expect(await processEnded(registry.pid)).toBe(false);
      expect(Number((await readFile(paths.pidFile, 'utf8')).trim())).toBe(supervisor.pid);

      supervisor.kill(signal);
      // The registry gets 10 s to finish its requests, then SIGKILL: 30 s is a supervisor that does not stop.
      const gaveUp = sleep(30_000, 'gave up' as const, { ref: false });
      const result = await Promise.race([supervisor, gaveUp]);
      if (result === 'gave up') throw new Error(`the supervisor did not exit within 30 s of ${signal}`);
      expect(result.exitCode, String(result.stderr)).toBe(0);
      // The supervisor itself ended it and saw it end (not only the kernel's parent-death signal afterwards).
      expect(result.stderr).toContain(`${signal}: stopping the registry`);
      expect(result.stderr).toContain('registry killed by SIGTERM; stopped');
      expect(await processEnded(registry.pid), `the registry (pid ${registry.pid}) outlived its supervisor`).toBe(true);
      // The registry's output went to the supervisor's stderr (the log file when detached), never to a stdout.
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('registry-stdout');
      expect(result.stderr).toContain('registry-stderr');
      await expect(readFile(paths.pidFile)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(readFile(paths.childFile)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      // Leave nothing behind when an assertion fails.
      if (supervisor.exitCode === null) supervisor.kill('SIGKILL');
      if (registryPid !== undefined && !(await processEnded(registryPid))) process.kill(registryPid, 'SIGKILL');
    }
  });
});
