/**
 * `ag-fetch download --dry-run` in a pipeline: the document passes through
 * with the planned downloads in fetch.dryRun, nothing reaches a server,
 * neither apt nor dnf runs, and neither the bundle nor the package cache
 * (~/.cache/ag) changes.
 */
import { validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, treeHash, type FileServer, type UpstreamTree } from '@ag/fixtures';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';

let work: string;
let upstream: UpstreamTree;
let host: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-dry-run-'));
  upstream = await populateUpstream(join(work, 'upstream'));
  host = await startFileServer({ root: upstream.root });
});
afterAll(async () => {
  await host.close();
  await rm(work, { recursive: true, force: true });
});

async function run(argv: string[], stdin: string | undefined, env: Record<string, string | undefined>) {
  const io = createTestIo({ stdin, env });
  const code = await main(argv, io);
  return { code, out: io.stdoutText(), stderr: io.stderrText() };
}

describe('ag-fetch download --dry-run', () => {
  it('writes neither the bundle nor ~/.cache/ag, asks no server, runs no apt, and the next stage reads its document', async () => {
    const home = join(work, 'home');
    const bundle = join(work, 'bundle');
    // PATH without apt-get or dnf: were the dry run to resolve OS packages, it would fail here.
    const env = { HOME: home, PATH: '/nonexistent' };
    const plan = await run(['plan', '--kubernetes-version', 'v1.27.3', '--os', 'debian-12', '--mirror', host.url, '--dir', bundle, '--image-list', 'table'], undefined, env);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = validateDocument(JSON.parse(plan.out), 'plan') as AgDocument;
    expect(planned.packages?.requested.length).toBeGreaterThan(0);

    // An earlier run left one file in the bundle and state in the cache.
    const first = planned.fetch!.files[0]!;
    await mkdir(dirname(join(bundle, first.path)), { recursive: true });
    await writeFile(join(bundle, first.path), 'an earlier download\n');
    const cache = join(home, '.cache', 'ag');
    await mkdir(join(cache, 'os-packages', 'debian-12-amd64', 'lists'), { recursive: true });
    await writeFile(join(cache, 'os-packages', 'debian-12-amd64', 'lists', 'deb.debian.org_debian_dists_bookworm_InRelease'), 'indexes of an earlier run\n');
    const before = { bundle: await treeHash(bundle), cache: await treeHash(cache) };
    const requests = host.requests.length;

    const dry = await run(['download', '--dry-run'], plan.out, env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(host.requests.length).toBe(requests);
    expect({ bundle: await treeHash(bundle), cache: await treeHash(cache) }).toEqual(before);

    const passed = validateDocument(JSON.parse(dry.out), 'download --dry-run') as AgDocument;
    const dryRun = passed.fetch!.dryRun!;
    expect(dryRun.root).toBe(bundle);
    expect(dryRun.files).toHaveLength(planned.fetch!.files.length);
    expect(dryRun.files.find((f) => f.path === first.path)!.action).toBe('verify-present');
    expect(dryRun.files.filter((f) => f.action === 'fetch')).toHaveLength(planned.fetch!.files.length - 1);
    for (const file of dryRun.files) expect(file.url.startsWith(`${host.url}/`), file.url).toBe(true);
    expect(dryRun.bytes).toBe(dryRun.files.filter((f) => f.action === 'fetch').reduce((sum, f) => sum + (f.size ?? 0), 0));
    expect(dryRun.osPackages).toMatchObject({
      os: 'debian-12',
      architectures: ['amd64'],
      requested: planned.packages!.requested,
      cache: join(home, '.cache', 'ag', 'os-packages'),
      repository: 'packages',
    });
    expect(dryRun.osPackages!.sources).toContain('http://deb.debian.org/debian bookworm');
    // The planned actions are on stderr too, one line each.
    expect(dry.stderr).toContain(`would verify ${first.path} (already present)`);
    expect(dry.stderr).toContain(`would fetch ${dryRun.files[1]!.path} from ${dryRun.files[1]!.url}`);
    expect(dry.stderr).toMatch(/would resolve the closure of containerd, .* for debian-12 \(amd64\) against http:\/\/deb\.debian\.org\/debian bookworm/);
    // Everything but fetch.dryRun is the plan's document: the next stage gets what it would have got.
    expect({ ...passed, fetch: { ...passed.fetch!, dryRun: undefined } }).toEqual({ ...planned, fetch: { ...planned.fetch!, dryRun: undefined } });

    // Dry runs chain: a second one reads the first's document.
    const again = await run(['download', '--dry-run'], dry.out, env);
    expect(again.code, again.stderr).toBe(0);
    expect({ bundle: await treeHash(bundle), cache: await treeHash(cache) }).toEqual(before);
  });
});
