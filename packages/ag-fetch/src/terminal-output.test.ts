import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateDocument } from '@ag/core';
import { hasTmux, populateUpstream, runInTerminal, startFaultProxy, startFileServer, treeHash } from '@ag/fixtures';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'packages/ag-fetch/src/bin.ts');
// Offline: versions and images from the dated tables, no network at all.
const PLAN = '--no-checksums --kubernetes-version v1.27.3 --os debian-12 --arch amd64';

describe.skipIf(!hasTmux)('ag-fetch in a real terminal (tmux)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-fetch-terminal-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a terminal gets a summary, a file or pipe the document, --output none nothing', async () => {
    const bundle = join(dir, 'bundle');
    const plan = join(dir, 'plan.json');
    const dryRun = join(dir, 'dry-run.json');
    const run = `node --import tsx ${BIN}`;
    const command = [
      `${run} plan ${PLAN} --dir ${bundle}; echo "tty=$?"`,
      `${run} plan ${PLAN} --dir ${bundle} > ${plan}; echo "file=$?"`,
      `${run} download --dry-run --no-os-packages < ${plan}; echo "dry-tty=$?"`,
      `${run} download --dry-run --no-os-packages < ${plan} | cat > ${dryRun}; echo "dry-pipe=$?"`,
      `${run} plan ${PLAN} --dir ${bundle} --output none -q; echo "none=$?"`,
    ].join('; ');
    const { screen } = await runInTerminal(command, { cwd: REPO, until: /none=\d+/, timeoutMs: 120_000, intervalMs: 200 });
    for (const marker of ['tty=0', 'file=0', 'dry-tty=0', 'dry-pipe=0', 'none=0']) expect(screen).toContain(marker);
    // The terminal's share: summaries, never the document's JSON.
    expect(screen).not.toContain('"apiVersion"');
    expect(screen).toContain('ag-fetch plan: planned\n  kubernetes v1.27.3, flannel v0.22.0');
    expect(screen).toMatch(/ {2}fetch {5}10 files and 10 images planned/);
    expect(screen).toContain('ag-fetch download --dry-run: nothing fetched, nothing written');
    expect(screen).toMatch(/dry run: would fetch 10 file\(s\)/);
    // Only the log lines between "none=" and the marker before it: --output none wrote no summary.
    const last = screen.slice(screen.indexOf('dry-pipe=0'));
    expect(last).not.toContain('ag-fetch plan: planned');
    // The file and the pipe got the documents, whole.
    const planned = validateDocument(JSON.parse(await readFile(plan, 'utf8')), plan);
    expect(planned.fetch!.files).toHaveLength(10);
    const passed = validateDocument(JSON.parse(await readFile(dryRun, 'utf8')), dryRun);
    expect({ ...passed, fetch: { ...passed.fetch!, dryRun: undefined } }).toEqual({ ...planned, fetch: { ...planned.fetch!, dryRun: undefined } });
    expect(passed.fetch!.dryRun!.files).toHaveLength(10);
    // And nothing was downloaded.
    expect(await treeHash(bundle)).toBe('absent');
  }, 180_000);

  it('a long download shows one progress line on the terminal (files, bytes, rate, time left), and none in the log of a pipe', async () => {
    const tree = await populateUpstream(join(dir, 'upstream'));
    // Two files of 1 MiB (with their checksum files), slowed to 200 KB/s each: seconds of download to watch.
    for (const name of ['kubelet', 'kubectl']) {
      const bytes = randomBytes(1 << 20);
      const path = join(tree.root, 'dl.k8s.io/release/v1.27.3/bin/linux/amd64', name);
      await writeFile(path, bytes);
      await writeFile(`${path}.sha256`, createHash('sha256').update(bytes).digest('hex'));
    }
    const files = await startFileServer({ root: tree.root });
    const slow = await startFaultProxy({ target: files.url, bytesPerSecond: 200_000, paths: /^$/ });
    try {
      const bundle = join(dir, 'progress-bundle');
      const plan = join(dir, 'progress-plan.json');
      const run = `node --import tsx ${BIN}`;
      const download = `${run} download --no-os-packages --concurrency 2 --mirror-base ${slow.url}`;
      const command = [
        `${run} plan --kubernetes-version v1.27.3 --os debian-12 --arch amd64 --image-list table --mirror-base ${files.url} --dir ${bundle} > ${plan}`,
        `${download} < ${plan} > ${join(dir, 'fetched.json')}; echo "tty=$?"`,
        `rm -rf ${bundle}/files; ${download} < ${plan} 2> ${join(dir, 'piped.err')} | cat > /dev/null; echo "pipe=$?"`,
      ].join('; ');
      const { screen, frames } = await runInTerminal(command, { cwd: REPO, until: /pipe=\d+/, timeoutMs: 150_000, intervalMs: 40 });
      expect(screen).toContain('tty=0');
      expect(screen).toContain('pipe=0');
      const line = /ag-fetch download \[[#-]+\] (\d+)\/(\d+) files · [\d.]+ (?:B|KiB|MiB)\/[\d.]+ (?:B|KiB|MiB) · [\d.]+ (?:B|KiB|MiB)\/s · \d+:\d\d (?:left|elapsed)/;
      const seen = frames.flatMap((frame) => frame.split('\n')).filter((l) => line.test(l));
      expect(seen.length, frames.at(-1)).toBeGreaterThan(0);
      const planned = validateDocument(JSON.parse(await readFile(plan, 'utf8')), plan);
      for (const l of seen) expect(Number(line.exec(l)![2])).toBe(planned.fetch!.files.length);
      // One line for the whole download: no bar per file without --verbose.
      for (const frame of frames) expect(frame).not.toMatch(/^\s+files\/\S+\s+\[/m);
      // Cleared when done, and never in a pipe's log (stderr not a terminal there).
      expect(screen.split('\n').filter((l) => line.test(l))).toEqual([]);
      expect(await readFile(join(dir, 'piped.err'), 'utf8')).not.toMatch(/files · /);
    } finally {
      await Promise.allSettled([slow.close(), files.close()]);
    }
  }, 200_000);
});
