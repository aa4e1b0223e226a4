import { silentLogger } from '@ag/core';
import { populateUpstream, startFileServer, type FileServer } from '@ag/fixtures';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMirrors } from '../../mirrors.js';
import { createGitHubReleases } from './github.js';

let work: string;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-github-'));
  // 130 releases: more than one page of 100.
  const many = Array.from({ length: 130 }, (_, i) => ({ tag: `v1.${i}.0`, createdAt: new Date(Date.UTC(2020, 0, 1 + i)).toISOString() }));
  const tree = await populateUpstream(join(work, 'up'), { charts: [], releases: { 'kubernetes-sigs/cri-tools': many } });
  server = await startFileServer({ root: tree.root });
});

afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('GitHub release listings', () => {
  it('follows the Link header to the next page, through the mirror', async () => {
    const listings = createGitHubReleases({ mirrors: parseMirrors([], server.url), cacheDir: join(work, 'cache'), log: silentLogger });
    const answer = await listings.list('kubernetes-sigs/cri-tools');
    expect(answer.value.length).toBe(130);
    expect(answer.value[0]!.tag_name).toBe('v1.129.0');
    expect(answer.value.at(-1)!.tag_name).toBe('v1.0.0');
    const pages = server.requests.filter((r) => r.path.includes('/releases'));
    expect(pages.map((r) => r.path)).toEqual([
      '/api.github.com/repos/kubernetes-sigs/cri-tools/releases',
      expect.stringMatching(/^\/api\.github\.com\/repositories\/\d+\/releases$/),
    ]);
  });

  it('reports a repository without releases as missing (exit 5)', async () => {
    const listings = createGitHubReleases({ mirrors: parseMirrors([], server.url), cacheDir: join(work, 'cache'), log: silentLogger });
    await expect(listings.latest('derailed/k9s-gone')).rejects.toMatchObject({ kind: 'missing', message: expect.stringContaining('latest release of derailed/k9s-gone') });
  });
});
