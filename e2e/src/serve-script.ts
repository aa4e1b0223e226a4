import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './tools.js';

export interface RunningScript<T> {
  /** What the script wrote into its ready file. */
  info: T;
  /** What it wrote on stderr. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts a TypeScript server script of the e2e (node --import tsx) inside a
 * namespace, with `prefix` (`ip netns exec NAME`), and waits until it writes
 * `ready` (JSON). Its stdin stays open: when this process dies, the pipe
 * closes and the script stops itself.
 */
export async function startServeScript<T>(prefix: string[], script: string, args: string[], ready: string, what: string, timeoutMs: number): Promise<RunningScript<T>> {
  const argv = [...prefix, process.execPath, '--import', 'tsx', script, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  let done = false;
  void exited.then(() => (done = true));
  const stop = async (): Promise<void> => {
    if (done) return;
    child.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(15_000, undefined, { ref: false }).then(() => false)])) === false) child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(ready, 'utf8').catch(() => undefined);
    if (text !== undefined) return { info: JSON.parse(text) as T, log: () => output, stop };
    if (done || Date.now() > deadline) {
      await stop();
      throw new Error(`${what} did not start${done ? '' : ' in time'}:\n${output.slice(-4000)}`);
    }
    await sleep(200);
  }
}
