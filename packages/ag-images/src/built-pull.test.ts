import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, echoImage, generatedLayout, LINUX_AMD64, startForwardProxy, startRegistry, type ForwardProxy, type RegistryFixture } from '@ag/fixtures';

// What the built ag-images (bin/ag-images.cjs: the bundle with its code cache, as a host runs it) loads
// to pull: undici's connection pools alone (tools/build/undici-dispatchers.cjs). undici's index would
// also build fetch, WebSocket, cookies, the cache, the mocks, and its cookies module's read of
// globalThis.Headers made Node.js load and run its own copy of undici: ~20 ms of every pull's start
// (packages/ag-images/README.md). Each run writes process.moduleLoadList at exit (a -r preload).

const BIN = fileURLToPath(new URL('../bin/ag-images.cjs', import.meta.url));
const REF = 'example.org/demo/built:1.0';
/** Built-ins a pull does not use, which undici's index or Node.js's undici loaded (http2: undici's Client, for h2, which ag never asks for). */
const NOT_LOADED = ['internal/deps/undici/undici', 'zlib', 'perf_hooks', 'dns', 'http2'];

let dir: string;
let registry: RegistryFixture;
let proxy: ForwardProxy;
let credentialsFile: string;
let preload: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-images-built-pull-'));
  const ca = await createTestCa(join(dir, 'ca'));
  const generated = await generatedLayout(join(dir, 'generated'));
  [registry, proxy] = await Promise.all([startRegistry({ auth: 'htpasswd', ca }), startForwardProxy()]);
  await generated.writeImageSpec({ ref: REF, platforms: [echoImage('built', LINUX_AMD64)] });
  await registry.seed(generated.dir, REF);
  credentialsFile = join(dir, 'credentials');
  await writeFile(credentialsFile, `${registry.credentials!.username}:${registry.credentials!.password}\n`, { mode: 0o600 });
  preload = join(dir, 'module-load-list.cjs');
  await writeFile(preload, "process.on('exit', () => require('node:fs').writeFileSync(process.env.AG_TEST_MODULES, process.moduleLoadList.join('\\n')));\n");
}, 120_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), proxy?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Pulls REF with the built tool into a new layout; the built-ins it loaded. */
async function builtPull(name: string, env: Record<string, string>): Promise<{ exitCode: number | undefined; stderr: string; builtIns: string[] }> {
  const modules = join(dir, `${name}.modules`);
  const args = ['-r', preload, BIN, 'pull', REF, '--layout', join(dir, name), '--mirror', registry.host, '--ca-file', registry.caFile, '--credentials-file', credentialsFile, '--platform', 'linux/amd64'];
  const result = await execa(process.execPath, args, {
    reject: false,
    input: '',
    extendEnv: false,
    env: { PATH: process.env['PATH'] ?? '', HOME: dir, AG_TEST_MODULES: modules, ...env },
  });
  const builtIns = (await readFile(modules, 'utf8')).split('\n').flatMap((line) => (line.startsWith('NativeModule ') ? [line.slice('NativeModule '.length)] : []));
  return { exitCode: result.exitCode, stderr: result.stderr, builtIns };
}

describe('the built ag-images pull loads what it uses', () => {
  it('pulls over TLS with a password, without fetch, cookies or Node.js\'s own undici', async () => {
    const pull = await builtPull('direct', {});
    expect(pull.exitCode, pull.stderr).toBe(0);
    expect(pull.builtIns).toContain('tls');
    for (const name of NOT_LOADED) expect(pull.builtIns, name).not.toContain(name);
  });

  it('pulls through the proxy HTTPS_PROXY names (undici EnvHttpProxyAgent), with the same built-ins', async () => {
    const pull = await builtPull('proxied', { HTTPS_PROXY: proxy.url, NO_PROXY: '' });
    expect(pull.exitCode, pull.stderr).toBe(0);
    expect(proxy.relayed).toContainEqual({ method: 'CONNECT', target: registry.host });
    for (const name of NOT_LOADED) expect(pull.builtIns, name).not.toContain(name);
  });
});
