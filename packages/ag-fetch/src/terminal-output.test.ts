import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateDocument } from '@ag/core';
import { hasTmux, runInTerminal, treeHash } from '@ag/fixtures';

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
});
