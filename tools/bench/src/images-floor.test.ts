import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout, walkImages } from '@ag/core';
import { createTestCa, generatedLayout, startRegistry, type RegistryFixture } from '@ag/fixtures';
import { floorBlobsOf, formatFloor, type FloorBlob } from './images-floor.js';
import type { PullRound } from './images-rounds.js';
import { FLOOR_MODES, runFloor, type FloorTarget } from './pull-floor.js';

const REF = 'bench.example/floor/app:1';
const USERS = { ag: 'floor-password' };

let dir: string;
let registry: RegistryFixture;
let blobs: FloorBlob[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-bench-floor-'));
  const ca = await createTestCa(join(dir, 'ca'));
  const generated = join(dir, 'generated');
  const layout = await generatedLayout(generated);
  const specs = [0, 1, 2].map((i) => ({ kind: 'random' as const, size: 300_000 + i, seed: `floor-${i}` }));
  await layout.writeImageSpec({ ref: REF, platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: specs }] });
  registry = await startRegistry({ ca, auth: 'htpasswd', users: USERS });
  await registry.seed(generated, REF);
  const source = await OciLayout.open(generated);
  const graph = await walkImages(source, (await source.readIndex()).manifests);
  blobs = floorBlobsOf([{ ref: REF, descriptors: [...graph.descriptors.values()] }]);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

function target(overrides: Partial<FloorTarget> = {}): FloorTarget {
  return { host: registry.host, caFile: registry.caFile, credentials: `ag:${USERS.ag}`, blobs, scratch: join(dir, 'scratch'), ...overrides };
}

describe('npm run bench:images -- --rounds N --floor (its parts; the benchmark itself is not part of npm test)', () => {
  it('receives every blob from a real registry in each mode, and checks what the undici-write modes stored', async () => {
    // The config and the three layers, each once, from the image's repository; no manifest.
    expect(blobs.map((b) => b.repository)).toEqual(Array(4).fill('bench.example/floor/app'));
    const expected = blobs.reduce((total, blob) => total + blob.size, 0);
    const names = blobs.map((b) => b.digest.slice('sha256:'.length)).sort();
    for (const mode of FLOOR_MODES) {
      await rm(join(dir, 'scratch'), { recursive: true, force: true });
      const run = await runFloor(mode, target());
      expect(run.bytes).toBe(expected);
      expect(run.transferMs).toBeGreaterThan(0);
      // Written, hashed and checked: both threads' halves for undici-write-2.
      if (mode.startsWith('undici-write')) expect((await readdir(join(dir, 'scratch'))).sort()).toEqual(names);
    }
  });

  it('undici-write-2 fails when its worker cannot receive its half', async () => {
    // The worker gets the odd blobs: one the registry does not hold, while this thread's half is fine.
    const missing = `sha256:${'0'.repeat(64)}`;
    const wrong = blobs.map((blob, i) => (i === 1 ? { ...blob, digest: missing } : blob));
    await expect(runFloor('undici-write-2', target({ blobs: wrong }))).rejects.toThrow(`GET ${missing}: 404`);
    // And a size one of its blobs does not have: the count of bytes says so.
    const longer = blobs.map((blob, i) => (i === 1 ? { ...blob, size: blob.size + 1 } : blob));
    await expect(runFloor('undici-write-2', target({ blobs: longer }))).rejects.toThrow(/bytes received/);
  });

  it('fails rather than measure a refused request or bytes that are not the blob', async () => {
    await expect(runFloor('tls', target({ credentials: 'ag:wrong' }))).rejects.toThrow(/401/);
    await expect(runFloor('undici', target({ credentials: 'ag:wrong' }))).rejects.toThrow(/401/);
    // A size the blob does not have: the count of bytes received says so.
    await expect(runFloor('undici', target({ blobs: [{ ...blobs[0]!, size: blobs[0]!.size + 1 }] }))).rejects.toThrow(/bytes received/);
  });

  it('sets each floor beside each contender\'s pull less its pull with nothing to do', () => {
    const run = (wallMs: number, cpuMs: number): { wallMs: number; cpuMs: number; peakKiB: number } => ({ wallMs, cpuMs, peakKiB: 1 });
    const rounds: PullRound[] = [
      { load: 1, pull: { ag: run(1000, 900), skopeo: run(900, 1200) }, again: { ag: run(100, 90), skopeo: run(60, 50) } },
      { load: 1, pull: { ag: run(1200, 1000), skopeo: run(1000, 1300) }, again: { ag: run(200, 100), skopeo: run(100, 60) } },
      { load: 1, pull: { ag: run(1100, 950), skopeo: run(950, 1250) }, again: { ag: run(100, 50), skopeo: run(50, 50) } },
    ];
    const floors = [500, 600, 700].map((ms) =>
      FLOOR_MODES.map((mode, i) => ({ mode, node: 'v0', transferMs: ms + i * 100, mainThreadCpuMs: 400 + i * 100, allThreadsCpuMs: 450 + i * 200, bytes: 1 })),
    );
    const text = formatFloor(floors, rounds, ['ag', 'skopeo']);
    expect(text).toContain('| tls.connect, one GET per blob, bytes dropped | 0.60 s (0.50 s to 0.70 s) | main thread 0.40 s, all threads 0.45 s |');
    expect(text).toContain('| undici, hashed, written in 64 KiB batches, fsynced | 0.80 s (0.70 s to 0.90 s) | main thread 0.60 s, all threads 0.85 s |');
    expect(text).toContain('| the same, half the blobs on a worker thread | 0.90 s (0.80 s to 1.00 s) | main thread 0.70 s, all threads 1.05 s |');
    // ag: 900, 1000 and 1000 ms beyond its no-op pulls; CPU 810, 900, 900.
    expect(text).toContain('| ag, its pull less its pull with nothing to do | 1.00 s (0.90 s to 1.00 s) | all threads 0.90 s |');
    expect(text).toContain('| skopeo, its pull less its pull with nothing to do | 0.90 s (0.84 s to 0.90 s) | all threads 1.20 s |');
  });
});
