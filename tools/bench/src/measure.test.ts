import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { combine, measure, measureEach } from './measure.js';

describe('the benchmarks\' measure (GNU time around a command)', () => {
  it('reports the peak resident set and CPU time the command really used', async () => {
    // 96 MiB touched, and a busy loop of a few hundred ms.
    const busy = await measure(process.execPath, ['-e', 'const b = Buffer.alloc(96 * 1024 * 1024, 1); let x = 0; for (let i = 0; i < 3e8; i++) x += b[i % 1024]; if (x < 0) console.log(x)']);
    const idle = await measure(process.execPath, ['-e', '0']);
    expect(busy.peakKiB).toBeGreaterThan(96 * 1024);
    expect(idle.peakKiB).toBeLessThan(96 * 1024);
    expect(busy.cpuMs).toBeGreaterThan(idle.cpuMs + 100);
    expect(busy.wallMs).toBeGreaterThan(idle.wallMs);
  });

  it('feeds a file to stdin, and fails with the command\'s own words', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ag-bench-measure-'));
    try {
      const input = join(dir, 'input');
      await writeFile(input, 'expected input');
      await expect(measure('grep', ['-q', 'expected input'], dir, input)).resolves.toMatchObject({ peakKiB: expect.any(Number) });
      await expect(measure('grep', ['-q', 'something else'], dir, input)).rejects.toThrow(/grep -q something else exited 1/);
      await expect(measure('ls', [join(dir, 'absent')])).rejects.toThrow(/No such file or directory/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('adds times and keeps the largest peak over several commands', async () => {
    expect(combine([{ wallMs: 100, cpuMs: 80, peakKiB: 10 }, { wallMs: 50, cpuMs: 20, peakKiB: 30 }])).toEqual({ wallMs: 150, cpuMs: 100, peakKiB: 30 });
    const two = await measureEach([['true', []], ['true', []]]);
    expect(two.wallMs).toBeGreaterThan(0);
  });
});
