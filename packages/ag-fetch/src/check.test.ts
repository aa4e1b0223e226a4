/**
 * `ag-fetch check` against the kit's stand-in upstream, through the kit's
 * forward proxy: an unreachable host, a PATH without createrepo_c, the
 * sizes download will fetch, and a passing check that hands the document on.
 */
import { validateDocument, whichProgram, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, startForwardProxy, type FileServer, type ForwardProxy, type UpstreamTree } from '@ag/fixtures';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';

let work: string;
let upstream: UpstreamTree;
let server: FileServer;
let proxy: ForwardProxy;
/** A PATH with dnf, rpmkeys and rpm, but not createrepo_c. */
let partialPath: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-check-'));
  upstream = await populateUpstream(join(work, 'upstream'));
  server = await startFileServer({ root: upstream.root });
  proxy = await startForwardProxy();
  partialPath = join(work, 'bin');
  await mkdir(partialPath);
  for (const program of ['dnf', 'rpmkeys', 'rpm']) await symlink((await whichProgram(program, process.env))!, join(partialPath, program));
});
afterAll(async () => {
  await server.close();
  await proxy.close();
  await rm(work, { recursive: true, force: true });
});

async function run(argv: string[], stdin: string | undefined, env: Record<string, string | undefined>) {
  const io = createTestIo({ stdin, env, cwd: work });
  const code = await main(argv, io);
  return { code, out: io.stdoutText(), stderr: io.stderrText() };
}

async function planFor(os: string, bundle: string): Promise<string> {
  const result = await run(['plan', '--kubernetes-version', 'v1.27.3', '--os', os, '--mirror', server.url, '--dir', bundle, '--image-list', 'table'], undefined, { HOME: join(work, 'home') });
  expect(result.code, result.stderr).toBe(0);
  return result.out;
}

/** The bytes the stand-in serves for every file of a plan, read from its tree (what Content-Length will say). */
async function servedBytes(plan: AgDocument): Promise<number> {
  let sum = 0;
  for (const file of plan.fetch!.files) sum += (await stat(join(upstream.root, upstream.files.get(file.source.upstreamUrl!)!))).size;
  return sum;
}

describe('ag-fetch check', () => {
  it('lists an unreachable host, a missing tool and the proxy, one line each, exit 5, nothing on stdout', async () => {
    const bundle = join(work, 'bundle-fedora');
    const plan = await planFor('fedora-37', bundle);
    const env = { HOME: join(work, 'home'), PATH: partialPath, HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url };
    const relayed = proxy.relayed.length;
    // github.com's files are sent to a port nothing listens on.
    const { code, out, stderr } = await run(['check', '--mirror', server.url, '--mirror', 'github.com=http://127.0.0.1:9', '--timeout', '3s'], plan, env);
    expect(code).toBe(5);
    expect(out).toBe('');
    const line = (prefix: string) => stderr.split('\n').filter((l) => l.includes(prefix));
    expect(line('ok: proxy:')).toEqual([`ag-fetch: ok: proxy: HTTPS_PROXY=${proxy.url}, HTTP_PROXY=${proxy.url}, NO_PROXY unset: the checks below went through it, as download will`]);
    expect(line('MISSING: reach: http://127.0.0.1:9 (for github.com):')).toHaveLength(1);
    expect(line('MISSING: reach: http://127.0.0.1:9')[0]).toMatch(/: no answer within 3 s for 3 URLs, e\.g\. http:\/\/127\.0\.0\.1:9\/kubernetes-sigs\/cri-tools\/releases\/download\/v1\.27\.0\/crictl-v1\.27\.0-linux-amd64\.tar\.gz$/);
    expect(line(`ok: reach: ${server.url} (for `)).toHaveLength(1);
    expect(line(`ok: reach: ${server.url}`)[0]).toMatch(/dl\.k8s\.io/);
    // The package repositories were asked through the proxy, which relays to loopback only: refused, and said so.
    expect(line('MISSING: reach: https://archives.fedoraproject.org')).toEqual([
      expect.stringMatching(/: Proxy response \(403\) !== 200 when HTTP Tunneling for 2 URLs, e\.g\. https:\/\/archives\.fedoraproject\.org\/.*\/repodata\/repomd\.xml$/),
    ]);
    expect(line('MISSING: tools: fedora-37 packages need createrepo_c, not found (found: dnf, rpmkeys, rpm)')).toHaveLength(1);
    expect(stderr).toContain('3 thing(s) download needs are missing: reach ×2, tools (listed above)');
    // The HEADs went through the proxy in effect (undici tunnels through it with CONNECT).
    expect(proxy.relayed.slice(relayed)).toContainEqual({ method: 'CONNECT', target: server.host });
  });

  it('passes a plan this machine can download, says how much it fetches, and hands the document on', async () => {
    const bundle = join(work, 'bundle-ok');
    const plan = await planFor('debian-12', bundle);
    const { code, out, stderr } = await run(['check', '--no-os-packages'], plan, { HOME: join(work, 'home'), PATH: process.env['PATH'] });
    expect(code, stderr).toBe(0);
    expect(out).toBe(plan);
    const bytes = await servedBytes(JSON.parse(plan) as AgDocument);
    const files = (JSON.parse(plan) as AgDocument).fetch!.files.length;
    expect(stderr).toMatch(new RegExp(`ok: space: .* free under ${bundle}; the plan fetches [0-9.]+ (B|KiB|MiB|GiB) in ${files} file\\(s\\)\\n`));
    // The sizes are the stand-in's Content-Length (the plan knew none): the total, to the one decimal printed.
    const stated = /the plan fetches ([0-9.]+) (B|KiB|MiB|GiB)/.exec(stderr)!;
    const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[stated[2] as 'B' | 'KiB' | 'MiB' | 'GiB'];
    expect(Math.abs(Number(stated[1]) * unit - bytes)).toBeLessThanOrEqual(0.05 * unit);
    expect(stderr).toContain('ok: proxy: HTTPS_PROXY unset, HTTP_PROXY unset, NO_PROXY unset: connecting directly');
    expect(stderr).not.toContain('tools:');
  });

  it('says when the bundle cannot hold what the plan fetches', async () => {
    const bundle = join(work, 'bundle-full');
    const plan = validateDocument(JSON.parse(await planFor('debian-12', bundle)), 'plan');
    plan.fetch!.files[0]!.size = 1e15;
    const { code, stderr } = await run(['check', '--no-os-packages'], JSON.stringify(plan), { HOME: join(work, 'home') });
    expect(code).toBe(5);
    expect(stderr).toMatch(/MISSING: space: .* free under .*; the plan fetches 909\.5 TiB in \d+ file\(s\): .* are needed/);
  });
});
