import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../tools.js';
import type { UpstreamInfo } from './info.js';

export interface RunningUpstream {
  info: UpstreamInfo;
  /** What the upstream program wrote on stderr (registry failures end up here). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts the stand-in upstream (serve.ts) inside a namespace, with `prefix`
 * (`ip netns exec NAME`), and waits until it is ready (generating and
 * seeding the images takes 10–40 s on two busy cores).
 */
export async function startUpstream(prefix: string[], dir: string, options: { uniqueBytes?: number; nextVersion?: string; timeoutMs?: number } = {}): Promise<RunningUpstream> {
  const ready = join(dir, 'ready.json');
  const argv = [
    ...prefix,
    process.execPath,
    '--import',
    'tsx',
    join(REPO_ROOT, 'e2e', 'src', 'upstream', 'serve.ts'),
    '--dir',
    dir,
    '--ready',
    ready,
    ...(options.uniqueBytes === undefined ? [] : ['--unique-bytes', String(options.uniqueBytes)]),
    ...(options.nextVersion === undefined ? [] : ['--next-version', options.nextVersion]),
  ];
  // stdin stays open: when this process dies, the pipe closes and the upstream stops itself.
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
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  for (;;) {
    const text = await readFile(ready, 'utf8').catch(() => undefined);
    if (text !== undefined) return { info: JSON.parse(text) as UpstreamInfo, log: () => output, stop };
    if (done || Date.now() > deadline) {
      await stop();
      throw new Error(`the stand-in upstream did not start${done ? '' : ' in time'}:\n${output.slice(-4000)}`);
    }
    await sleep(200);
  }
}
