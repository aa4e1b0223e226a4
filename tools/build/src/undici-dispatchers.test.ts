import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './executables.js';

// undici as the tools' bundles hold it (undici-dispatchers.mjs): its pools alone, and its HTTP/2 code
// loaded on first use. Bundled here the way bundle-bins.mjs bundles a tool, then run in a child process
// whose process.moduleLoadList says which built-ins it loaded, against an HTTP/2 server (cleartext, h2c:
// undici's useH2c, the one way to reach that code without a certificate).

// A client as createHttpDispatcher makes it; a plain HTTP/1.1 request, then one over h2c if asked.
const CHILD = `
const { Agent, EnvHttpProxyAgent } = require('./undici.cjs');
const loaded = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
(async () => {
  const [h1Origin, h2Origin] = process.argv.slice(2);
  const agent = new Agent({ connections: 8 });
  const h1 = await agent.request({ origin: h1Origin, path: '/one', method: 'GET' });
  const result = { h1: await h1.body.text(), proxyAgent: typeof EnvHttpProxyAgent, beforeH2: loaded() };
  await agent.close();
  const h2agent = new Agent({ allowH2: true, connect: { useH2c: true } });
  const h2 = await h2agent.request({ origin: h2Origin, path: '/two', method: 'GET' });
  result.h2 = await h2.body.text();
  result.afterH2 = loaded();
  await h2agent.close();
  process.stdout.write(JSON.stringify(result));
})();
`;

describe('undici-dispatchers.mjs: the undici a bundled tool holds', () => {
  let dir: string;
  let metafile: Metafile;
  let h2: Http2Server;
  let h1: import('node:http').Server;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-undici-dispatchers-'));
    const { undiciDispatchersPlugin } = (await import(pathToFileURL(join(REPO_ROOT, 'tools', 'build', 'undici-dispatchers.mjs')).href)) as {
      undiciDispatchersPlugin: () => import('esbuild').Plugin;
    };
    const result = await build({
      stdin: { contents: "module.exports = require('undici');", resolveDir: join(REPO_ROOT, 'packages', 'core', 'src'), loader: 'js' },
      outfile: join(dir, 'undici.cjs'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      metafile: true,
      logLevel: 'silent',
      plugins: [undiciDispatchersPlugin()],
    });
    metafile = result.metafile;
    await writeFile(join(dir, 'child.cjs'), CHILD);
    h2 = createServer((request, response) => response.end(`h2 ${request.url}`));
    const { createServer: createHttpServer } = await import('node:http');
    h1 = createHttpServer((request, response) => response.end(`h1 ${request.url}`));
    await Promise.all([new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve)), new Promise<void>((resolve) => h1.listen(0, '127.0.0.1', resolve))]);
  });

  afterAll(async () => {
    await Promise.all([new Promise((resolve) => h2?.close(resolve)), new Promise((resolve) => h1?.close(resolve))]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("holds undici's pools and none of fetch, WebSocket, cookies, the cache or the mocks", () => {
    const inputs = Object.keys(metafile.inputs).filter((input) => input.includes('node_modules/undici/'));
    expect(inputs).toContainEqual(expect.stringMatching(/lib\/dispatcher\/env-http-proxy-agent\.js$/));
    expect(inputs).toContainEqual(expect.stringMatching(/lib\/dispatcher\/client-h2\.js$/));
    // The pools' bodies use a few of fetch's helpers (lib/web/fetch/body.js, util.js); fetch itself is not there.
    const unused = /^node_modules\/undici\/(index\.js$|lib\/(mock|cache|interceptor)\/|lib\/web\/(fetch\/index\.js|websocket|eventsource|cookies|cache)\b)/;
    expect(inputs.filter((input) => unused.test(input))).toEqual([]);
  });

  it('requests through a pool without loading node:http2, and loads it when a connection speaks HTTP/2', async () => {
    const origin = (server: { address(): AddressInfo | string | null }) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const child = await execa(process.execPath, [join(dir, 'child.cjs'), origin(h1), origin(h2)], { cwd: dir, reject: false });
    expect(child.exitCode, child.stderr).toBe(0);
    const result = JSON.parse(child.stdout) as { h1: string; h2: string; proxyAgent: string; beforeH2: string[]; afterH2: string[] };
    expect(result.h1).toBe('h1 /one');
    expect(result.proxyAgent).toBe('function');
    expect(result.beforeH2).toContain('net');
    for (const name of ['http2', 'internal/deps/undici/undici', 'zlib', 'perf_hooks']) expect(result.beforeH2, name).not.toContain(name);
    expect(result.h2).toBe('h2 /two');
    expect(result.afterH2).toContain('http2');
  });
});
