import { join } from 'node:path';
import { startServeScript, type RunningScript } from '../serve-script.js';
import { REPO_ROOT } from '../tools.js';
import type { UpstreamInfo } from './info.js';

export type RunningUpstream = RunningScript<UpstreamInfo>;

/**
 * Starts the stand-in upstream (serve.ts) inside a namespace, with `prefix`
 * (`ip netns exec NAME`), and waits until it is ready (generating and
 * seeding the images takes 10–40 s on two busy cores).
 */
export async function startUpstream(prefix: string[], dir: string, options: { uniqueBytes?: number; nextVersion?: string; timeoutMs?: number } = {}): Promise<RunningUpstream> {
  const ready = join(dir, 'ready.json');
  const args = [
    '--dir',
    dir,
    '--ready',
    ready,
    ...(options.uniqueBytes === undefined ? [] : ['--unique-bytes', String(options.uniqueBytes)]),
    ...(options.nextVersion === undefined ? [] : ['--next-version', options.nextVersion]),
  ];
  return startServeScript<UpstreamInfo>(prefix, join(REPO_ROOT, 'e2e', 'src', 'upstream', 'serve.ts'), args, ready, 'the stand-in upstream', options.timeoutMs ?? 180_000);
}
