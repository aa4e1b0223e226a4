import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { main } from './cli.js';
import { run, tempDir, writeTree } from './test-helpers.js';

let work: { path: string; cleanup: () => Promise<void> };
let bundle: string;

beforeAll(async () => {
  work = await tempDir('ag-bundle-summary-');
  const root = join(work.path, 'root');
  await writeTree(root, { 'files/kubeadm': randomBytes(4000), 'files/kube-flannel.yml': 'kind: DaemonSet\n' });
  bundle = join(work.path, 'bundle.tar');
  const packed = await run(['pack', '--dir', root, '--out', bundle, '--unsigned', '--no-tools']);
  expect(packed.code, packed.stderr).toBe(0);
});
afterAll(() => work.cleanup());

/** Runs ag-bundle with stdout a terminal, or not. */
async function onTerminal(argv: string[], terminal = true) {
  const io = createTestIo({ stdoutIsTTY: terminal });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

describe('ag-bundle for a person at a terminal', () => {
  it('verify says what it found, in a few lines, not the document', async () => {
    const result = await onTerminal(['verify', bundle]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ag-bundle verify: every file matches SHA256SUMS\n {2}bundle\.tar: [\d.]+ KiB; 3 file\(s\) and bundle\.json, as SHA256SUMS lists them\n {2}unsigned: /);
    expect(result.stdout).not.toContain('"apiVersion"');
    expect(result.stdout.split('\n').length).toBeLessThan(15);
  });

  it('inspect prints its report on stdout instead of stderr, and no document', async () => {
    const result = await onTerminal(['inspect', bundle]);
    expect(result.code, result.stderr).toBe(0);
    // Its two files and its SBOM (sbom.cdx.json).
    expect(result.stdout).toMatch(/bundle\.tar: 3 files and bundle\.json, /);
    expect(result.stdout).toContain('by directory:');
    expect(result.stdout).not.toContain('"apiVersion"');
    expect(result.stderr).not.toContain('by directory:');
  });

  it('--output json gives the document on a terminal too; in a pipe the document is what it was', async () => {
    const asked = await onTerminal(['verify', bundle, '--output', 'json']);
    const piped = await onTerminal(['verify', bundle], false);
    expect(asked.stdout).toBe(piped.stdout);
    expect(validateDocument(JSON.parse(piped.stdout), 'verify').bundle!.contents!.files).toBe(3);
    const inspected = await onTerminal(['inspect', bundle], false);
    expect(inspected.stderr).toContain('by directory:');
    expect(JSON.parse(inspected.stdout)).toEqual(JSON.parse(piped.stdout));
  });

  it('--output none writes nothing on stdout, and the exit code still tells', async () => {
    const result = await onTerminal(['verify', bundle, '--output', 'none']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
  });
});
