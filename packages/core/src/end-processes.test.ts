import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { endProcesses } from './end-processes.js';
import { processAlive } from './oci/process-alive.js';

/**
 * A shell that says it is ready (its traps set) before endProcesses may signal it.
 * Wrapped in an object: an async function returning execa's subprocess (a promise) would wait for it to end.
 */
async function shell(script: string) {
  const child = execa('sh', ['-c', `${script}; echo ready; while :; do sleep 0.05; done`], { reject: false, buffer: false, stdin: 'ignore', stderr: 'ignore' });
  await new Promise<void>((ready) => child.stdout!.once('data', () => ready()));
  return { child };
}

const running = (pid: number) => async () => (processAlive(pid) ? [pid] : []);

describe('endProcesses', { timeout: 20_000 }, () => {
  it('stops at SIGTERM when that ends the process, without waiting out the grace period', async () => {
    const { child } = await shell("trap 'exit 0' TERM");
    const started = Date.now();
    await endProcesses(running(child.pid!), 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await child).signal).toBeUndefined();
    expect(processAlive(child.pid!)).toBe(false);
  });

  it('sends SIGKILL to a process that ignores SIGTERM once the grace period is over', async () => {
    const { child } = await shell("trap '' TERM");
    const started = Date.now();
    await endProcesses(running(child.pid!), 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect((await child).signal).toBe('SIGKILL');
  });

  it('does nothing when nothing runs', async () => {
    let asked = 0;
    await endProcesses(async () => (asked++, []), 10_000);
    expect(asked).toBe(2);
  });
});
