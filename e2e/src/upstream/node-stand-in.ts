import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

/** The Node.js release the far side runs the ag tools with (the Vagrant run carries the real tarball). */
export const NODE_RELEASE = 'v20.20.0';
export const NODE_TARBALL = `node-${NODE_RELEASE}-linux-x64.tar.xz`;
export const NODE_TARBALL_URL = `https://nodejs.org/dist/${NODE_RELEASE}/${NODE_TARBALL}`;

/**
 * Writes a stand-in of the official Node.js tarball under
 * `root/nodejs.org/dist/<release>/` with its SHASUMS256.txt, laid out like
 * nodejs.org: `node-<release>-linux-x64/bin/node` inside a `.tar.xz`. The
 * real tarball is 25 MB and cannot be fetched here, so its `bin/node` is a
 * two-line script that runs this machine's node: the far side then runs
 * exactly the commands the Vagrant run does (pick the tarball's line out of
 * SHA256SUMS, `sha256sum -c`, `tar -xJf`, run `bin/node`). Returns the
 * tarball's sha256, the value an operator copies out of SHASUMS256.txt.
 */
export async function writeNodeStandIn(root: string, hostNode = process.execPath): Promise<string> {
  const dir = join(root, 'nodejs.org', 'dist', NODE_RELEASE);
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'ag-node-stand-in-'));
  try {
    const top = `node-${NODE_RELEASE}-linux-x64`;
    await mkdir(join(work, top, 'bin'), { recursive: true });
    const node = join(work, top, 'bin', 'node');
    await writeFile(node, `#!/bin/sh\n# ag e2e stand-in for node ${NODE_RELEASE}: this machine's node.\nexec ${hostNode} "$@"\n`);
    await chmod(node, 0o755);
    await writeFile(join(work, top, 'README.md'), `Node.js ${NODE_RELEASE} (ag e2e stand-in)\n`);
    // Fixed mtimes and owner: the same bytes on every run, as a published release is.
    await execa('tar', ['-cJf', join(dir, NODE_TARBALL), '--owner=0', '--group=0', '--numeric-owner', '--mtime=2024-01-01', '--sort=name', '-C', work, top]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const sha256 = createHash('sha256').update(await readFile(join(dir, NODE_TARBALL))).digest('hex');
  await writeFile(join(dir, 'SHASUMS256.txt'), `${'0'.repeat(64)}  node-${NODE_RELEASE}-linux-arm64.tar.xz\n${sha256}  ${NODE_TARBALL}\n`);
  return sha256;
}
