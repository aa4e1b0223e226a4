import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { LLHTTP_V8_FLAGS } from '@ag/core';
import { EXECUTABLE_V8_FLAGS, ensureExecutables, executablePaths, REPO_ROOT, runnerFor, type ExecutableBuild } from './executables.js';
import { extractNode, NODE_RUNTIME, nodeTarball, type Arch } from './node-runtime.js';

/** Runs a built executable of `arch` (the arm64 one under qemu-user on this amd64 machine). */
function runAs(arch: Arch, program: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const argv = [...runnerFor(arch), program, ...args];
  return execa(argv[0]!, argv.slice(1), { reject: false, cwd: options.cwd, env: options.env, stdin: 'ignore' });
}

/**
 * Parses 100 MiB of HTTP responses with undici (llhttp, WebAssembly) as a pull does, with `flags` set at run time
 * once undici is loaded (core's loadUndici), or none; run under --trace-wasm-compilation-times.
 */
const PARSE_MUCH = (undici: string): string => `
const { Agent } = require(${JSON.stringify(undici)});
if (process.argv[2]) require('node:v8').setFlagsFromString(process.argv[2]);
const server = require('node:http').createServer((req, res) => res.end(Buffer.alloc(1 << 20))).listen(0, '127.0.0.1', async () => {
  const agent = new Agent();
  for (let i = 0; i < 100; i += 1) {
    const response = await agent.request({ origin: 'http://127.0.0.1:' + server.address().port, path: '/', method: 'GET' });
    for await (const chunk of response.body) void chunk;
  }
  await agent.close();
  server.close();
});
`;

describe('the single executables (dist/tools/<arch>/ag)', () => {
  let builds: ExecutableBuild[];
  let work: string;
  const amd64 = executablePaths('amd64');
  const arm64 = executablePaths('arm64');

  beforeAll(async () => {
    // Cached by content: a no-op unless the sources changed since the last build.
    builds = await ensureExecutables({ log: () => undefined });
    work = await mkdtemp(join(tmpdir(), 'ag-executables-'));
  }, 900_000);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('records the pinned Node.js and every tool in build.json', () => {
    expect(builds.map((b) => b.arch)).toEqual(['amd64', 'arm64']);
    for (const build of builds) {
      expect(build.node).toBe(`v${NODE_RUNTIME.version}`);
      expect(build.nodeIntegrity).toBe(NODE_RUNTIME.packages[build.arch].integrity);
      expect(build.tools).toEqual(['ag-bundle', 'ag-fetch', 'ag-flannel', 'ag-images', 'ag-kubeadm', 'ag-nodeprep', 'ag-registry']);
    }
  });

  it('answers --version as every tool on amd64, by link name or as its first argument, naming its Node.js', async () => {
    for (const tool of builds[0]!.tools) {
      const result = await runAs('amd64', amd64.tool(tool), ['--version']);
      expect(result.exitCode, `${tool}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+ \\(Node\\.js v${NODE_RUNTIME.version.replace(/\./g, '\\.')} built in: single executable for linux/amd64\\)$`));
    }
    const named = await runAs('amd64', amd64.ag, ['bundle', '--help']);
    expect(named.stdout).toContain('ag-bundle <command>');
    const unknown = await runAs('amd64', amd64.ag, ['no-such-tool']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no tool named "no-such-tool"');
  });

  it('makes links with ag --link DIR that run the tool they are named after', async () => {
    const dir = join(work, 'bin');
    expect((await runAs('amd64', amd64.ag, ['--link', dir])).exitCode).toBe(0);
    const result = await execa(join(dir, 'ag-flannel'), ['--help'], { reject: false });
    expect(result.stdout).toContain('ag-flannel <command>');
  });

  it('uses the code cache the build made, on amd64 and (under qemu-user) on arm64', async () => {
    for (const [arch, paths] of [['amd64', amd64], ['arm64', arm64]] as const) {
      const result = await runAs(arch, paths.tool('ag-images'), ['--version'], { env: { AG_DEBUG_CODE_CACHE: '1' } });
      expect(result.stderr, arch).toContain('ag-images code cache accepted');
    }
  });

  it("keeps undici's parser from the optimising compiler, on a thread exit would wait for, on Node.js 24 and 20", async () => {
    const node24 = join(work, 'node-amd64');
    await extractNode('amd64', node24);
    const script = join(work, 'parse-much.cjs');
    await writeFile(script, PARSE_MUCH(createRequire(join(REPO_ROOT, 'package.json')).resolve('undici')));
    const compiled = async (node: string, flags: readonly string[], atRunTime = ''): Promise<{ liftoff: number; turbofan: number }> => {
      const result = await execa(node, [...flags, '--trace-wasm-compilation-times', script, atRunTime], { reject: false });
      expect(result.exitCode, result.stderr).toBe(0);
      return { liftoff: (result.stdout.match(/using Liftoff/g) ?? []).length, turbofan: (result.stdout.match(/using TurboFan/g) ?? []).length };
    };
    for (const [node, flags] of [[node24, EXECUTABLE_V8_FLAGS], [process.execPath, []]] as const) {
      const asLoaded = await compiled(node, flags, LLHTTP_V8_FLAGS);
      expect(asLoaded.liftoff, node).toBeGreaterThan(0);
      expect(asLoaded.turbofan, node).toBe(0);
      // Left alone, llhttp's busiest function is optimised: the parsing above is enough to make it hot.
      expect((await compiled(node, flags)).turbofan, node).toBeGreaterThan(0);
    }
    // --liftoff-only set at run time is not enough for Node.js 24: its V8 applies the flag's implications only at start.
    expect((await compiled(node24, EXECUTABLE_V8_FLAGS, '--liftoff-only')).turbofan).toBeGreaterThan(0);
  });

  it("starts with Node.js's own code cache accepted, on amd64 and arm64: its flags leave V8's flag hash as Node.js was built with", async () => {
    for (const [arch, paths] of [['amd64', amd64], ['arm64', arm64]] as const) {
      const result = await runAs(arch, paths.tool('ag-images'), ['--version'], { env: { NODE_DEBUG_NATIVE: 'CODE_CACHE' } });
      expect(result.exitCode, result.stderr).toBe(0);
      const log = `${result.stdout}\n${result.stderr}`;
      expect(log, arch).toMatch(/Code cache of \S+ \(\w+\) is accepted/);
      expect(log, arch).not.toMatch(/Code cache of \S+ \(\w+\) is rejected/);
    }
  });

  it('answers --version on arm64 under qemu-user, and verifies a bundle the amd64 one packed', async () => {
    const version = await runAs('arm64', arm64.tool('ag-fetch'), ['--version']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout).toContain(`Node.js v${NODE_RUNTIME.version} built in: single executable for linux/arm64`);

    await mkdir(join(work, 'root', 'files'), { recursive: true });
    await writeFile(join(work, 'root', 'files', 'kubeadm'), 'a file the far side needs\n');
    expect((await runAs('amd64', amd64.tool('ag-bundle'), ['keygen', '--out', 'key.pem'], { cwd: work })).exitCode).toBe(0);
    const packed = await runAs('amd64', amd64.tool('ag-bundle'), ['pack', '--dir', 'root', '--out', 'bundle.tar', '--sign-key', 'key.pem', '--no-tools'], { cwd: work });
    expect(packed.exitCode, packed.stderr).toBe(0);

    const verified = await runAs('arm64', arm64.tool('ag-bundle'), ['verify', 'bundle.tar', '--key', 'key.pub.pem'], { cwd: work });
    expect(verified.exitCode, verified.stderr).toBe(0);
    // files/kubeadm and the bundle's SBOM (sbom.cdx.json): what SHA256SUMS lists besides bundle.json.
    expect(JSON.parse(verified.stdout)).toMatchObject({ bundle: { file: 'bundle.tar', signed: true, contents: { files: 2 } } });
    expect(verified.stderr).toContain('all match SHA256SUMS');

    // And it really checks: one byte of the file changed fails with exit code 3.
    await copyFile(join(work, 'bundle.tar'), join(work, 'damaged.tar'));
    const archive = await readFile(join(work, 'damaged.tar'));
    const offset = archive.indexOf('a file the far side needs');
    const handle = await open(join(work, 'damaged.tar'), 'r+');
    await handle.write(Buffer.from('A'), 0, 1, offset);
    await handle.close();
    const damaged = await runAs('arm64', arm64.tool('ag-bundle'), ['verify', 'damaged.tar', '--key', 'key.pub.pem'], { cwd: work });
    expect(damaged.exitCode).toBe(3);
  });

  it('refuses a cached Node.js tarball that is not the pinned one, and removes it', async () => {
    const cache = join(work, 'cache');
    await mkdir(cache, { recursive: true });
    const { name } = NODE_RUNTIME.packages.amd64;
    const file = join(cache, `${name}-${NODE_RUNTIME.version}.tgz`);
    await copyFile(await nodeTarball('amd64'), file);
    expect(await nodeTarball('amd64', cache)).toBe(file);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([0x42]), 0, 1, 1000);
    await handle.close();
    await expect(nodeTarball('amd64', cache)).rejects.toThrow(`is not ${name}@${NODE_RUNTIME.version} as pinned`);
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
