/**
 * One CommonJS script made into a single executable (a Node.js SEA on the
 * pinned Node.js of tools/build/src/node-runtime.ts), for the test kit's
 * doubles of programs that are single binaries in real life (kubeadm): on the
 * e2e far side, where no Node.js exists, they must run the way the real
 * program would, on their own.
 *
 * Cached by content: the output is named after the hash of the script and the
 * Node.js pin, built under a temporary name and renamed into place, so
 * concurrent test processes share one build.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildCacheDir, extractNode, NODE_RUNTIME, type Arch } from './node-runtime.js';

/** Node's fixed marker for the SEA blob (https://nodejs.org/api/single-executable-applications.html). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const hostArch = (): Arch => (process.arch === 'arm64' ? 'arm64' : 'amd64');

/** Returns the path of `name`, an executable of this host's architecture that runs `script` (a self-contained CommonJS file). */
export async function scriptExecutable(script: string, name: string, cacheDir = buildCacheDir()): Promise<string> {
  const arch = hostArch();
  const key = createHash('sha256').update(JSON.stringify(NODE_RUNTIME)).update(await readFile(script)).digest('hex').slice(0, 16);
  const dir = join(cacheDir, 'script-executables');
  const outfile = join(dir, `${name}-${arch}-${key}`);
  if (await stat(outfile).then(() => true, () => false)) return outfile;
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, `.${name}-`));
  try {
    const node = join(work, 'node');
    await extractNode(arch, node, cacheDir);
    const config = join(work, 'sea-config.json');
    const blob = join(work, 'blob');
    await writeFile(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    await execa(node, ['--experimental-sea-config', config], { stdin: 'ignore' });
    const exe = join(work, name);
    await copyFile(node, exe);
    const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
    await execa(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdin: 'ignore' });
    await chmod(exe, 0o755);
    await rename(exe, outfile);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return outfile;
}
