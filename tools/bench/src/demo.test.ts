import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDemo } from './demo.js';

describe('npm run demo', () => {
  it('plans and downloads the v1.27.3 cluster from the local stand-in upstream through the built tool', async () => {
    const out = await mkdtemp(join(tmpdir(), 'ag-demo-test-'));
    try {
      const { document } = await runDemo({ out, quiet: true });
      expect(document.fetch!.download).toMatchObject({ files: 11 });
      expect(document.fetch!.images.map((i) => i.ref)).toContain('registry.k8s.io/etcd:3.5.7-0');
      for (const file of document.fetch!.files) expect(existsSync(join(out, 'bundle', file.path)), file.path).toBe(true);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
