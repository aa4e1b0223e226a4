import { setTimeout as sleep } from 'node:timers/promises';

function signalEach(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already (ESRCH), between listing and signalling.
    }
  }
}

/**
 * Ends processes as init systems do: SIGTERM to each (a supervisor stops
 * what it supervises, a server finishes its requests), `graceMs` for them to
 * go, then SIGKILL to those still there, and up to 5 s more for the kernel
 * to take them. `running()` lists the ones still there, asked again every
 * `intervalMs`: one recorded pid while it lives, or what a network namespace
 * holds.
 */
export async function endProcesses(running: () => Promise<number[]>, graceMs: number, intervalMs = 50): Promise<void> {
  signalEach(await running(), 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = await running();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(intervalMs);
    left = await running();
  }
  if (left.length === 0) return;
  signalEach(left, 'SIGKILL');
  const killed = Date.now() + 5_000;
  while ((await running()).length > 0 && Date.now() < killed) await sleep(20);
}
