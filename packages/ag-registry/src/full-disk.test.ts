/**
 * The registry's storage fills up: a small tmpfs holds the registry
 * directory (root only: mount(8)). Push must point at ag-registry status and
 * the registry's log; status reports the free space and warns; status --gc
 * removes the partial uploads the failed push left.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER_REGISTRY_BIN, freePort, generatedLayout, LINUX_AMD64 } from '@ag/fixtures';
import { registryPaths } from './paths.js';
import { agImages, cli } from './testing/run.js';

const run = promisify(execFile);
const IMAGES = Array.from({ length: 4 }, (_, i) => `example.org/full/app${i}:1`);
const TMPFS_MIB = 24;
const isRoot = process.getuid?.() === 0;

let dir: string;
let registryDir: string;
let layoutDir: string;
let document: string;

/** Every partial upload directory distribution keeps (repositories/<name>/_uploads/<uuid>). */
async function uploads(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory()) continue;
      if (entry.name === '_uploads') for (const upload of await readdir(join(at, entry.name))) found.push(join(at, entry.name, upload));
      else await walk(join(at, entry.name));
    }
  };
  await walk(join(registryPaths(registryDir).storage, 'docker', 'registry', 'v2', 'repositories'));
  return found;
}

beforeAll(async () => {
  if (!isRoot) return;
  dir = await mkdtemp(join(tmpdir(), 'agr-full-'));
  registryDir = join(dir, 'registry');
  await mkdir(registryDir);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m,mode=0755`, 'tmpfs', registryDir]);
  layoutDir = join(dir, 'layout');
  const layout = await generatedLayout(layoutDir);
  // 4 × 8 MiB of incompressible layers: more than the tmpfs holds.
  for (const [i, ref] of IMAGES.entries()) {
    await layout.writeImageSpec({ ref, platforms: [{ platform: LINUX_AMD64, layers: [{ kind: 'random', size: 8 << 20, seed: `full-${i}` }] }] });
  }
  const endpoint = `127.0.0.1:${await freePort()}`;
  const up = await cli(['up', '--dir', registryDir, '--listen', endpoint, '--registry-binary', DOCKER_REGISTRY_BIN, '--init', 'process', '--host', 'localhost', '--ip', '127.0.0.1']);
  expect(up.code, up.stderr).toBe(0);
  document = up.stdout;
});

afterAll(async () => {
  if (!isRoot) return;
  await cli(['down', '--dir', registryDir]);
  await run('umount', [registryDir]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(isRoot)('ag-registry with its storage on a full disk (a 24 MiB tmpfs)', () => {
  it('push fails pointing at ag-registry status and the registry log, which says the disk is full', async () => {
    const push = await agImages(['push', ...IMAGES, '--layout', layoutDir, '--retries', '1'], document);
    expect(push.code, push.stderr).toBe(4);
    const paths = registryPaths(registryDir);
    expect(push.stderr).toContain(`ag-registry status --dir ${paths.dir}`);
    expect(push.stderr).toContain(`read ${paths.logFile}`);
    expect(push.stderr).toMatch(/HTTP 5\d\d/);
    expect(await readFile(paths.logFile, 'utf8')).toContain('no space left on device');
  });

  it('status reports the free space and warns below --min-free; exit 0, it still answers', async () => {
    const result = await cli(['status', '--dir', registryDir, '--min-free', '8M']);
    expect(result.code, result.stderr).toBe(0);
    const storage = JSON.parse(result.stdout).registry.status.storage;
    expect(storage.path).toBe(registryPaths(registryDir).storage);
    expect(storage.totalBytes).toBe(TMPFS_MIB << 20);
    expect(storage.freeBytes).toBeLessThan(8 << 20);
    expect(storage.warning).toMatch(/^only .* free on the file system of .* \(below 8\.0 MiB\)/);
    expect(result.stderr).toContain('ag-registry status --gc');
  });

  it('status --gc removes the partial uploads the failed push left, which frees the space', async () => {
    const left = await uploads();
    expect(left.length).toBeGreaterThan(0);
    // The registry runs: only uploads nobody wrote to for 10 minutes go. Age these.
    await run('find', [...left, '-exec', 'touch', '-d', '1 hour ago', '{}', '+']);
    const before = JSON.parse((await cli(['status', '--dir', registryDir])).stdout).registry.status.storage.freeBytes as number;
    const result = await cli(['status', '--dir', registryDir, '--gc']);
    expect(result.code, result.stderr).toBe(0);
    const storage = JSON.parse(result.stdout).registry.status.storage;
    expect(storage.purgedUploads).toBe(left.length);
    expect(await uploads()).toEqual([]);
    expect(storage.freeBytes).toBeGreaterThan(before);
  });
});
