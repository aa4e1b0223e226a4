import { createHash } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { generatedLayout, LINUX_AMD64, seededBuffer, writeKubeadmLikeSet } from '@ag/fixtures';
import { fetchedDocument, KUBEADM_URL, run, tempDir, writeTree } from '../test-helpers.js';

/**
 * The approver's page, rendered by a real browser (Debian's chromium,
 * headless, --dump-dom), checked figure by figure against the bundle itself:
 * its size and sha256 (sha256sum), its members (tar), the key fingerprint
 * (openssl), and what changed since the site's previous bundle.
 */
let work: { path: string; cleanup: () => Promise<void> };
let dom: string;
let markdown: string;
const path = (...parts: string[]): string => join(work.path, ...parts);
const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** The text of the element carrying data-figure=KEY in the rendered DOM. */
function figure(key: string): string {
  const match = new RegExp(`data-figure="${key}">([^<]*)<`).exec(dom);
  if (match === null) throw new Error(`no figure ${key} in the rendered page`);
  return match[1]!.replace(/&amp;/g, '&');
}

async function documentFor(root: string): Promise<AgDocument> {
  return fetchedDocument(root, await readFile(join(root, 'files/kubeadm')));
}

beforeAll(async () => {
  work = await tempDir('ag-bundle-report-');
  const root = path('root');
  await writeTree(root, { 'files/kubeadm': await seededBuffer('kubeadm-1', 30_000), 'files/kube-flannel.yml': 'kind: DaemonSet\n' });
  const layout = await generatedLayout(join(root, 'images'));
  await writeKubeadmLikeSet(layout, { uniqueBytes: 2048, sharedBytes: 4096, platforms: [LINUX_AMD64] });
  expect((await run(['keygen', '--out', path('key.pem')])).code).toBe(0);
  const site = ['--site', 'plant-a', '--state-dir', path('state'), '--sign-key', path('key.pem'), '--no-tools'];
  const first = await run(['pack', '--out', path('trip1.tar'), ...site], { stdin: JSON.stringify(await documentFor(root)) });
  expect(first.code, first.stderr).toBe(0);

  // The second trip: kubeadm changed, one file added; scanned by a stand-in that flags the new file.
  await writeTree(root, { 'files/kubeadm': await seededBuffer('kubeadm-2', 31_000), 'files/notes.txt': 'release notes\n' });
  const scanner = path('scanner.sh');
  await writeFile(scanner, '#!/bin/sh\ncase "$1" in *notes.txt) echo \'{"findings":[{"id":"TEST-1"}]}\';; *) echo \'{"findings":[]}\';; esac\n');
  await chmod(scanner, 0o755);
  const scanned = await run(['scan', '--with', scanner, '--json', '--database-version', 'stand-in 1'], { stdin: JSON.stringify(await documentFor(root)) });
  expect(scanned.code, scanned.stderr).toBe(0);
  const second = await run(['pack', '--out', path('trip2.tar'), ...site, '--require-scan', '--accept', 'TEST-1', '--reason', 'a text file, read by people'], { stdin: scanned.stdout });
  expect(second.code, second.stderr).toBe(0);

  const reported = await run(['report', path('trip2.tar'), '--out', path('trip2.html'), '--state-dir', path('state')]);
  expect(reported.code, reported.stderr).toBe(0);
  const browser = await execa('chromium', ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${path('chromium')}`, '--dump-dom', `file://${path('trip2.html')}`], {
    timeout: 120_000,
    stdin: 'ignore',
  });
  dom = browser.stdout;
  markdown = await readFile(path('trip2.md'), 'utf8');
}, 300_000);

afterAll(async () => {
  await work?.cleanup();
});

describe('ag-bundle report, rendered in headless Chromium', () => {
  it('states what crosses: the bundle id, its exact size, its sha256 and its member count', async () => {
    const bundle = path('trip2.tar');
    expect(figure('id')).toBe('plant-a#2');
    expect(figure('built-on')).toBe('plant-a#1');
    expect(figure('archive-bytes')).toContain(`(${(await stat(bundle)).size} bytes)`);
    expect(figure('archive-sha256')).toBe((await execa('sha256sum', [bundle])).stdout.slice(0, 64));
    expect(Number(figure('entries'))).toBe((await execa('tar', ['-tf', bundle])).stdout.trim().split('\n').length);
  });

  it('gives the signing key\'s fingerprint as openssl computes it', async () => {
    // Bytes as they are: execa strips a final 0x0a even from a buffer, and a P-256 key's DER ends in one about once in 256 keys.
    const der = await execa('openssl', ['pkey', '-pubin', '-in', path('key.pub.pem'), '-outform', 'DER'], { encoding: 'buffer', stripFinalNewline: false });
    expect(figure('signed')).toBe('yes');
    expect(figure('key-fingerprint')).toBe(sha256(Buffer.from(der.stdout)));
  });

  it('sizes by component add up to the archive\'s members', async () => {
    const listing = (await execa('tar', ['-tvf', path('trip2.tar')])).stdout.trim().split('\n');
    const total = listing.reduce((sum, line) => sum + Number(line.split(/\s+/)[2]), 0);
    const row = /<tr><td>total<\/td><td>(\d+)<\/td><td>(\d+)<\/td><\/tr>/.exec(dom);
    expect(row).not.toBeNull();
    expect(Number(row![1])).toBe(listing.length);
    expect(Number(row![2])).toBe(total);
  });

  it('says what changed since the site\'s last bundle, from the ledger', () => {
    expect(figure('previous')).toBe('plant-a#1');
    expect(figure('added')).toBe('1');
    expect(figure('changed')).toBe('1');
    expect(figure('removed')).toBe('0');
    expect(dom).toContain('<td>added</td><td>files/notes.txt</td>');
    expect(dom).toContain('<td>changed</td><td>files/kubeadm</td>');
  });

  it('shows versions with their sources, and the scan results with the accepted finding and its reason', () => {
    expect(dom).toContain(KUBEADM_URL);
    expect(dom).toContain('<td>Apache-2.0</td>');
    expect(dom).toContain('registry.k8s.io/pause:3.9');
    expect(figure('scan-required')).toMatch(/^required/);
    expect(dom).toContain('<td>files/notes.txt</td>');
    expect(dom).toContain('a text file, read by people');
  });

  it('writes a Markdown twin with the same figures', async () => {
    expect(markdown).toContain(`- SHA-256: \`${(await execa('sha256sum', [path('trip2.tar')])).stdout.slice(0, 64)}\``);
    expect(markdown).toContain(`- Key fingerprint (SHA-256 of the public key, DER): \`${figure('key-fingerprint')}\``);
    expect(markdown).toContain('| changed | files/kubeadm |');
  });
});
