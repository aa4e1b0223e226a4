/**
 * `ag-fetch plan | ag-fetch download` in-process against the fixture file
 * hosts: real HTTP, dropped connections, 503s, a second host to redirect to,
 * and a real CONNECT proxy.
 */
import { partialPathFor, validateDocument, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { populateUpstream, startFileServer, startForwardProxy, type FileServer, type UpstreamTree } from '@ag/fixtures';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';

const KUBELET = '/dl.k8s.io/release/v1.27.3/bin/linux/amd64/kubelet';
const CRICTL = '/github.com/kubernetes-sigs/cri-tools/releases/download/v1.27.0/crictl-v1.27.0-linux-amd64.tar.gz';

let work: string;
let upstream: UpstreamTree;
let hostA: FileServer;
let hostB: FileServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ag-fetch-download-'));
  // Large enough binaries that a drop after 100 kB is mid-file.
  upstream = await populateUpstream(join(work, 'upstream'), { binarySize: 512 * 1024 });
  hostA = await startFileServer({ root: upstream.root });
  hostB = await startFileServer({ root: upstream.root });
});

afterAll(async () => {
  await hostA.close();
  await hostB.close();
  await rm(work, { recursive: true, force: true });
});

afterEach(() => {
  hostA.clearFaults();
  hostB.clearFaults();
});

async function run(argv: string[], stdin?: string, env: Record<string, string> = {}) {
  const io = createTestIo({ stdin, env });
  // These tests are about files; OS packages (dnf/apt closures) have their own tests in os-packages/.
  const code = await main(argv[0] === 'download' ? [...argv, '--no-os-packages'] : argv, io);
  const out = io.stdoutText();
  return { code, out, stderr: io.stderrText() };
}

/** A plan against host A, written for a fresh bundle directory. */
async function planned(extra: string[] = []): Promise<{ plan: string; dir: string }> {
  const dir = await mkdtemp(join(work, 'bundle-'));
  const { code, out, stderr } = await run([
    'plan', '--kubernetes-version', 'v1.27.3', '--os', 'fedora-37', '--cni', 'flannel@v0.22.0',
    '--mirror', hostA.url, '--dir', dir, '--image-list', 'table', ...extra,
  ]);
  expect(code, stderr).toBe(0);
  return { plan: out, dir };
}

const doc = (text: string): AgDocument => validateDocument(JSON.parse(text), 'stdout');

describe('ag-fetch download', () => {
  it('fetches and verifies every file into DIR/files, records sha256 and size, and a second run only verifies', async () => {
    const { plan, dir } = await planned(['--chart', 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0']);
    const first = await run(['download'], plan);
    expect(first.code, first.stderr).toBe(0);
    const fetched = doc(first.out);
    for (const file of fetched.fetch!.files) {
      const served = await readFile(join(upstream.root, upstream.files.get(file.source.upstreamUrl!)!));
      const local = await readFile(join(dir, file.path));
      expect(local.equals(served), file.path).toBe(true);
      expect(file.size).toBe(served.length);
    }
    expect(fetched.fetch!.download).toMatchObject({ files: 11, fetched: 11, reused: 0 });
    expect((await readdir(join(dir, 'files/linux/amd64'))).every((name) => !name.startsWith('.'))).toBe(true);
    const before = hostA.requests.length;
    const second = await run(['download'], first.out);
    expect(second.code, second.stderr).toBe(0);
    expect(hostA.requests.length).toBe(before);
    expect(doc(second.out).fetch!.download).toMatchObject({ files: 11, fetched: 0, reused: 11 });
    expect(second.stderr).toContain('0 fetched');
  });

  it('fails a checksum mismatch with exit 3, names the file, writes no document and leaves nothing at its path', async () => {
    const { plan, dir } = await planned();
    hostA.addFault({ path: CRICTL, body: 'not the archive the checksum names' });
    const result = await run(['download'], plan);
    expect(result.code).toBe(3);
    expect(result.out).toBe('');
    expect(result.stderr).toContain('files/linux/amd64/crictl-v1.27.0-linux-amd64.tar.gz');
    expect(result.stderr).toContain('sha256 mismatch');
    const dest = join(dir, 'files/linux/amd64/crictl-v1.27.0-linux-amd64.tar.gz');
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(partialPathFor(dest))).toBe(false);
    // The other files were fetched; a re-run after the fault is gone completes.
    expect(existsSync(join(dir, 'files/linux/amd64/kubelet'))).toBe(true);
    hostA.clearFaults();
    expect((await run(['download'], plan)).code).toBe(0);
  });

  it('resumes a file whose connection dropped mid-way, and rides out a 503', async () => {
    const { plan } = await planned();
    hostA.addFault({ path: KUBELET, dropAfterBytes: 100_000, times: 1 });
    hostA.addFault({ path: CRICTL, status: 503, retryAfter: 0, times: 1 });
    const seen = hostA.requests.length;
    const result = await run(['download'], plan);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('resumed: files/linux/amd64/kubelet');
    expect(result.stderr).toMatch(/crictl.*HTTP 503; retrying/);
    const kubelet = hostA.requests.slice(seen).filter((r) => r.path === KUBELET);
    expect(kubelet.map((r) => r.outcome)).toEqual(['dropped', 206]);
  });

  it('sends --header to the planned host but not to the host it redirects to', async () => {
    const { plan } = await planned();
    hostA.addFault({ path: KUBELET, redirectTo: hostB.url });
    hostA.addFault({ path: '/dl.k8s.io/*', requireHeader: { name: 'authorization', value: 'Bearer mirror-token' } });
    const seenB = hostB.requests.length;
    const result = await run(['download', '--header', 'Authorization: Bearer mirror-token'], plan);
    expect(result.code, result.stderr).toBe(0);
    const atB = hostB.requests.slice(seenB);
    expect(atB.map((r) => r.path)).toEqual([KUBELET]);
    expect(atB[0]!.headers['authorization']).toBeUndefined();
    expect(result.out).not.toContain('mirror-token');
  });

  it('goes through the proxy named in HTTP_PROXY', async () => {
    const { plan } = await planned();
    const proxy = await startForwardProxy();
    try {
      const result = await run(['download', '--concurrency', '2'], plan, { HTTP_PROXY: proxy.url });
      expect(result.code, result.stderr).toBe(0);
      expect(proxy.relayed.length).toBeGreaterThan(0);
      expect(proxy.relayed.every((r) => r.method === 'CONNECT' && r.target === hostA.host)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('records checksums on first download when the plan had none, and says so', async () => {
    const dir = await mkdtemp(join(work, 'offline-'));
    const planned = await run([
      'plan', '--kubernetes-version', 'v1.27.3', '--os', 'fedora-37', '--no-checksums', '--mirror', hostA.url, '--dir', dir,
    ]);
    expect(planned.code, planned.stderr).toBe(0);
    const result = await run(['download'], planned.out);
    expect(result.code, result.stderr).toBe(0);
    const files = doc(result.out).fetch!.files;
    expect(files.every((f) => f.sha256From === 'download' && /^[a-f0-9]{64}$/.test(f.sha256 ?? ''))).toBe(true);
    expect(result.stderr).toContain('trust on first use');
  });

  it('--dry-run passes the document through with the planned files and fetches nothing; --dir moves the bundle root', async () => {
    const { plan } = await planned();
    const elsewhere = await mkdtemp(join(work, 'elsewhere-'));
    const seen = hostA.requests.length;
    const dry = await run(['download', '--dry-run', '--dir', elsewhere], plan);
    expect(dry.code).toBe(0);
    const passed = doc(dry.out);
    const planned_ = passed.fetch!.dryRun!;
    expect(planned_.root).toBe(elsewhere);
    expect(planned_.files.map((f) => f.path)).toEqual(doc(plan).fetch!.files.map((f) => f.path));
    expect(planned_.files.every((a) => a.action === 'fetch')).toBe(true);
    expect(hostA.requests.length).toBe(seen);
    expect(await readdir(elsewhere)).toEqual([]);
    // The rest of the document is the plan's, untouched.
    expect({ ...passed, fetch: { ...passed.fetch, dryRun: undefined } }).toEqual({ ...doc(plan), fetch: { ...doc(plan).fetch, dryRun: undefined } });
    const real = await run(['download', '--dir', elsewhere], dry.out);
    expect(real.code, real.stderr).toBe(0);
    expect(doc(real.out).root).toBe(elsewhere);
    // A real download replaces the dry run's plan with what it did.
    expect(doc(real.out).fetch!.dryRun).toBeUndefined();
    expect(existsSync(join(elsewhere, 'files/manifests/kube-flannel.yml'))).toBe(true);
  });

  it('says the previous stage failed when stdin is empty (exit 2), and reports a 404 as missing (exit 5)', async () => {
    expect((await run(['download'], '')).code).toBe(2);
    const { plan } = await planned();
    hostA.addFault({ path: KUBELET, status: 404 });
    const missing = await run(['download'], plan);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('files/linux/amd64/kubelet');
  });
});
