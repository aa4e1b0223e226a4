import { lstat, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram, type Io, type Logger } from '@ag/core';
import { inRoot } from '../root-fs.js';

/** invoke-rc.d's hook: 101 means "action not allowed", so maintainer scripts start no services inside an image. */
const POLICY_RC_D = '#!/bin/sh\n# ag-nodeprep: no services start while packages are installed into this root\nexit 101\n';

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

async function isMountPoint(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === path);
}

/**
 * A place to run a package manager for a root: on `/` a private scratch
 * directory; on another root (an image being built, a test tree) a scratch
 * directory inside it, the bundle's repository bind-mounted read-only
 * there, /proc mounted and a policy-rc.d that keeps maintainer scripts from
 * starting services, all undone by `close()` whatever happened.
 */
export interface RootSession {
  /** The scratch directory as the package manager sees it (inside the root). */
  work: string;
  /** The same directory on this host. */
  workOnHost: string;
  /** The repository as the package manager sees it. */
  repo: string;
  /** The argv prefix that runs a program in the root (`chroot <root>` unless root is /). */
  prefix: string[];
  close(): Promise<void>;
}

export interface RootSessionOptions {
  root: string;
  repoDir: string;
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
  /** Bind-mount the repository and chroot (apt); dnf takes --installroot and needs neither. */
  chroot: boolean;
}

export async function openRootSession(options: RootSessionOptions): Promise<RootSession> {
  const { root, io } = options;
  const run = (program: string, args: string[]) => runProgram(program, args, { env: io.env, stderr: io.stderr });
  if (root === '/' || !options.chroot) {
    const work = await mkdtemp(join(tmpdir(), 'ag-packages-'));
    return { work, workOnHost: work, repo: options.repoDir, prefix: [], close: () => rm(work, { recursive: true, force: true }) };
  }
  const undo: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const step of undo.reverse()) await step().catch((error: unknown) => options.log.warn(`cleaning up ${root}: ${(error as Error).message}`));
  };
  try {
    await mkdir(inRoot(root, '/run'), { recursive: true });
    const workOnHost = await mkdtemp(inRoot(root, '/run/ag-packages-'));
    const work = workOnHost.slice(root.replace(/\/$/, '').length);
    const repoOnHost = join(workOnHost, 'repo');
    undo.push(async () => {
      // Never delete through a bind mount that would not come off: it is the bundle.
      if (await isMountPoint(repoOnHost)) throw new Error(`${repoOnHost} is still mounted; left in place`);
      await rm(workOnHost, { recursive: true, force: true });
    });
    await mkdir(repoOnHost);
    await run('mount', ['--bind', options.repoDir, repoOnHost]);
    undo.push(async () => {
      await run('umount', [repoOnHost]);
      await rmdir(repoOnHost);
    });
    await run('mount', ['-o', 'remount,bind,ro', repoOnHost]);
    const proc = inRoot(root, '/proc');
    if (!(await isMountPoint(proc))) {
      await mkdir(proc, { recursive: true });
      await run('mount', ['-t', 'proc', 'proc', proc]);
      undo.push(() => run('umount', ['--lazy', proc]));
    }
    const policy = inRoot(root, '/usr/sbin/policy-rc.d');
    if ((await lstat(policy).catch(() => undefined)) === undefined) {
      await writeFile(policy, POLICY_RC_D, { mode: 0o755 });
      undo.push(() => rm(policy, { force: true }));
    }
    return { work, workOnHost, repo: join(work, 'repo'), prefix: ['chroot', root], close };
  } catch (error) {
    await close();
    throw error;
  }
}
