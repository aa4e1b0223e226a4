import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OciLayout, walkImages } from '@ag/core';
import { formatBundleBench, generateRoot, parseBenchSize } from './bundle.js';

describe('npm run bench:bundle (its parts; the benchmark itself is not part of npm test)', () => {
  it('generates a bundle root of about the asked size with a complete image layout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-bench-bundle-test-'));
    try {
      const size = parseBenchSize('8M');
      const { files, bytes, fetched } = await generateRoot(join(dir, 'root'), size);
      expect(bytes).toBeGreaterThan(size * 0.9);
      expect(bytes).toBeLessThan(size * 1.1);
      expect(files).toBeGreaterThan(30);
      for (const file of fetched) expect((await stat(join(dir, 'root', file.path))).size).toBe(file.size);
      const layout = await OciLayout.open(join(dir, 'root', 'images'));
      const graph = await walkImages(layout, (await layout.readIndex()).manifests);
      expect(graph.manifests.size).toBe(8);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints ratios against the peer measured in the same run', () => {
    const text = formatBundleBench(
      [{ step: 'verify', ag: { wallMs: 1000, cpuMs: 900, peakKiB: 90 * 1024 }, peer: { wallMs: 4000, cpuMs: 3900, peakKiB: 2048 }, peerName: 'sha256sum -c', ratio: 0.25 }],
      2 * 1024 ** 3,
    );
    expect(text).toContain('0.25x');
    expect(text).toContain('sha256sum -c');
    expect(text).toContain('90 MiB');
  });
});
