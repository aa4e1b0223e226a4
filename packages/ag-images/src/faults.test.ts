import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_DIR, OciLayout, verifyLayout, type AgDocument } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { generatedLayout, startFaultProxy, startTestUpstream, type FaultProxy, type TestUpstream } from '@ag/fixtures';
import { main } from './cli.js';

// Faults between ag and the registry: connections reset mid-blob, 503s, a
// process killed mid-pull, a registry serving the wrong bytes. None may leave
// a blob in the layout that does not match its name.

let upstream: TestUpstream;
const BIG = 'registry.k8s.io/big:1.0';

beforeAll(async () => {
  upstream = await startTestUpstream({ auth: 'none', uniqueBytes: 1024 * 1024, sharedBytes: 1024 * 1024 });
  // One image with a large layer, for the kill test.
  const layout = await generatedLayout(upstream.generated);
  await layout.writeImageSpec({
    ref: BIG,
    platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [{ kind: 'random', size: 24 * 1024 * 1024, seed: 'big' }] }],
  });
  await upstream.registry.seed(upstream.generated, BIG);
});

afterAll(async () => {
  await upstream?.stop();
});

async function proxy(options: Partial<Parameters<typeof startFaultProxy>[0]>): Promise<FaultProxy> {
  const tls = await upstream.ca.issue(`proxy-${Date.now()}`, ['127.0.0.1']);
  return startFaultProxy({ target: upstream.registry.url, targetCa: upstream.registry.caFile, tls, ...options });
}

async function run(argv: string[]): Promise<{ code: number; document: AgDocument | undefined; stderr: string }> {
  const io = createTestIo({ env: upstream.env, cwd: upstream.dir });
  const code = await main(argv, io);
  const out = io.stdoutText().trim();
  return { code, document: out === '' ? undefined : (JSON.parse(out) as AgDocument), stderr: io.stderrText() };
}

/** Every file under blobs/sha256 hashes to its name (named or not in index.json). */
async function blobsMatchTheirNames(layoutDir: string): Promise<void> {
  const report = await verifyLayout(await OciLayout.open(layoutDir));
  expect(report.problems.filter((p) => p.problem.startsWith('content hashes'))).toEqual([]);
}

/** The digest of the last layer of an image's linux/amd64 manifest, as generated. */
async function lastAmd64Layer(ref: string): Promise<string> {
  const blob = async <T>(digest: string): Promise<T> => JSON.parse(await readFile(join(upstream.generated, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as T;
  const index = await blob<{ manifests: Array<{ digest: string; platform: { architecture: string } }> }>(upstream.images.find((i) => i.ref === ref)!.descriptor.digest);
  const manifest = await blob<{ layers: Array<{ digest: string }> }>(index.manifests.find((m) => m.platform.architecture === 'amd64')!.digest);
  return manifest.layers[manifest.layers.length - 1]!.digest;
}

describe('ag-images pull through faults', () => {
  it('completes through resets and 503s, and every digest verifies', async () => {
    const faulty = await proxy({ seed: 42, resetProbability: 0.5, errorProbability: 0.2, retryAfter: 0, maxFaults: 16 });
    try {
      const layoutDir = join(upstream.dir, 'faults', 'images');
      const refs = upstream.images.map((i) => i.ref);
      const { code, document, stderr } = await run(['pull', ...refs, '--layout', layoutDir, '--mirror', faulty.host, '--ca-file', upstream.registry.caFile, '--retries', '8']);
      expect(code, stderr).toBe(0);
      expect(faulty.faults().resets).toBeGreaterThan(0);
      expect(faulty.faults().errors).toBeGreaterThan(0);
      expect(stderr).toMatch(/retrying in/);
      for (const image of document!.images!.images) expect(image.upstreamDigest).toBe(upstream.images.find((i) => i.ref === image.ref)!.descriptor.digest);
      expect((await verifyLayout(await OciLayout.open(layoutDir))).problems).toEqual([]);
    } finally {
      await faulty.close();
    }
  });

  it('leaves only correct blobs when killed mid-pull, and the next run resumes and completes', async () => {
    const slow = await proxy({ bytesPerSecond: 8 * 1024 * 1024 });
    try {
      const layoutDir = join(upstream.dir, 'killed', 'images');
      const args = ['pull', BIG, '--layout', layoutDir, '--mirror', slow.host, '--ca-file', upstream.registry.caFile];
      const bin = fileURLToPath(new URL('./bin.ts', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { env: { ...process.env, ...upstream.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let said = '';
      child.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
      const ingest = join(layoutDir, INGEST_DIR);
      const deadline = Date.now() + 60_000;
      for (;;) {
        // Any partial blob past 2 MiB; one may finish (and be renamed away) between readdir and stat.
        const names = (await readdir(ingest).catch(() => [] as string[])).filter((n) => n.endsWith('.partial'));
        const sizes = await Promise.all(names.map(async (n) => (await stat(join(ingest, n)).catch(() => undefined))?.size ?? 0));
        if (sizes.some((size) => size > 2 * 1024 * 1024)) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no partial blob appeared: ${said}`);
        await sleep(20);
      }
      child.kill('SIGKILL');
      await new Promise((resolvePromise) => child.once('exit', resolvePromise));
      await blobsMatchTheirNames(layoutDir);
      expect(await (await OciLayout.open(layoutDir)).entries()).toEqual([]);

      const resumed = await run(args);
      expect(resumed.code, resumed.stderr).toBe(0);
      // The killed run's partial was adopted: the layer was asked for from where it stopped.
      expect(slow.requests.some((r) => r.range !== undefined && /^bytes=[1-9]\d+-$/.test(r.range))).toBe(true);
      expect((await verifyLayout(await OciLayout.open(layoutDir))).problems).toEqual([]);
      expect(await readdir(ingest)).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('fails with the verification code, naming the digest, when the registry serves the wrong content', async () => {
    const ref = 'docker.io/flannel/flannel:v0.22.0';
    const layoutDir = join(upstream.dir, 'tampered', 'images');
    const victim = await lastAmd64Layer(ref);
    const data = upstream.registry.blobDataPath(victim);
    const bytes = await readFile(data);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0x55;
    await writeFile(data, bytes);
    const { code, stderr } = await run(['pull', ref, '--platform', 'linux/amd64', '--layout', layoutDir, '--mirror', upstream.registry.host, '--ca-file', upstream.registry.caFile]);
    expect(code).toBe(3);
    expect(stderr).toContain(victim);
    const layout = await OciLayout.open(layoutDir);
    expect(await layout.hasBlob({ digest: victim })).toBe(false);
    expect(await layout.resolve(ref)).toBeUndefined();
    await blobsMatchTheirNames(layoutDir);
  });

  it('fails with the verification code, not usage, when the registry serves a blob of another size', async () => {
    const ref = 'docker.io/flannel/flannel-cni-plugin:v1.1.2';
    const layoutDir = join(upstream.dir, 'resized', 'images');
    const victim = await lastAmd64Layer(ref);
    const data = upstream.registry.blobDataPath(victim);
    await writeFile(data, Buffer.concat([await readFile(data), Buffer.from('twelve bytes')]));
    const { code, stderr } = await run(['pull', ref, '--platform', 'linux/amd64', '--layout', layoutDir, '--mirror', upstream.registry.host, '--ca-file', upstream.registry.caFile]);
    expect(code, stderr).toBe(3);
    expect(stderr).toMatch(new RegExp(`blob ${victim}: (more bytes than its size|\\d+ bytes instead of)`));
    expect(await (await OciLayout.open(layoutDir)).hasBlob({ digest: victim })).toBe(false);
  });
});
