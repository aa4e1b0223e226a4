/**
 * One dry-run convention for every stage: the document passes through on
 * stdout, the planned actions go to stderr, nothing is written. So a whole
 * connected-side pipeline can be dry-run, as an operator would before a long
 * trip:
 *
 *   ag-fetch plan … | ag-fetch download --dry-run | ag-images pull --dry-run … | ag-bundle pack --dry-run …
 *
 * against the test kit's stand-in upstream (file server and registry). It
 * must exit 0, write nothing anywhere (tree hashes of the bundle's place,
 * the output's place and HOME before and after), and the last stage's
 * document must be download's, unchanged by pull and pack.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateDocument } from '@ag/core';
import { populateUpstream, startFileServer, startTestUpstream, treeHash, type FileServer, type TestUpstream } from '@ag/fixtures';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const tool = (name: string): string => `node --import tsx ${join(REPO, 'packages', name, 'src/bin.ts')}`;

let work: string;
let files: FileServer;
let upstream: TestUpstream;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-dry-run-pipeline-'));
  const tree = await populateUpstream(join(work, 'upstream'));
  files = await startFileServer({ root: tree.root });
  upstream = await startTestUpstream({ auth: 'token', uniqueBytes: 64 * 1024, sharedBytes: 64 * 1024 });
}, 180_000);
afterAll(async () => {
  await Promise.allSettled([files?.close(), upstream?.stop()]);
  await rm(work, { recursive: true, force: true });
});

describe('a dry-run pipeline: plan | download --dry-run | pull --dry-run | pack --dry-run', () => {
  it('runs end to end, passes the document through, and writes nothing', async () => {
    const site = join(work, 'site');
    const bundle = join(site, 'bundle');
    const out = join(site, 'media', 'bundle.tar');
    const logs = join(work, 'logs');
    await mkdir(site, { recursive: true });
    await mkdir(logs, { recursive: true });
    const home = upstream.env['HOME']!;
    const before = { site: await treeHash(site), home: await treeHash(home) };
    const script = [
      'set -o pipefail',
      `${tool('ag-fetch')} plan --kubernetes-version v1.27.3 --os debian-12 --arch amd64 --mirror ${files.url} --dir ${bundle} --image-list table > ${logs}/plan.json`,
      [
        `${tool('ag-fetch')} download --dry-run --no-os-packages < ${logs}/plan.json 2> ${logs}/download.err`,
        `tee ${logs}/download.json`,
        `${tool('ag-images')} pull --dry-run --mirror ${upstream.registry.host} --ca-file ${upstream.registry.caFile} 2> ${logs}/pull.err`,
        `${tool('ag-bundle')} pack --dry-run --out ${out} --unsigned --no-tools 2> ${logs}/pack.err`,
      ].join(' | ') + ` > ${logs}/final.json`,
    ].join('\n');
    // The plan is no dry run (it writes its document into logs/); what follows it must write nothing.
    const result = await execa('bash', ['-c', script], { cwd: REPO, env: { ...upstream.env, PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, reject: false });
    const stderr = async (name: string) => readFile(join(logs, `${name}.err`), 'utf8').catch(() => '');
    expect(result.exitCode, `${result.stderr}\n${await stderr('download')}\n${await stderr('pull')}\n${await stderr('pack')}`).toBe(0);

    // Nothing written: not the bundle root, not the bundle, not a cache under HOME.
    expect({ site: await treeHash(site), home: await treeHash(home) }).toEqual(before);

    // The document went through pull and pack unchanged: download's, with its planned downloads.
    const downloaded = validateDocument(JSON.parse(await readFile(join(logs, 'download.json'), 'utf8')), 'download --dry-run');
    const final = validateDocument(JSON.parse(await readFile(join(logs, 'final.json'), 'utf8')), 'pack --dry-run');
    expect(final).toEqual(downloaded);
    expect(final.fetch!.dryRun!.files.length).toBe(final.fetch!.files.length);
    expect(final.images).toBeUndefined();
    expect(final.bundle).toBeUndefined();

    // Each stage said what it would do on stderr, in the one shape: {"dryRun":true,…,"actions":[…]}.
    const planned = async (name: string) => JSON.parse((await stderr(name)).split('\n').find((line) => line.startsWith('{"dryRun"'))!) as { actions: Array<{ action: string; path?: string }>; absent?: unknown[] };
    expect(await stderr('download')).toMatch(/would fetch files\//);
    const pull = await planned('pull');
    expect(pull.actions.filter((a) => a.action === 'fetch-blob').length).toBeGreaterThan(final.fetch!.images.length);
    const pack = await planned('pack');
    expect(pack.actions).toContainEqual(expect.objectContaining({ action: 'write', path: out }));
    // Nothing was downloaded or pulled, so pack names all of it as absent, and says a real pack would refuse.
    expect(pack.absent).toHaveLength(final.fetch!.files.length + final.fetch!.images.length);
    expect(await stderr('pack')).toMatch(/a real pack refuses \(exit 5\)/);
  }, 240_000);
});
