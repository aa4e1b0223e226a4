import { describe, expect, it } from 'vitest';
import { createTestIo } from './testing/io.js';
import { createProgress, formatDuration, noProgress, ProgressTotals } from './progress.js';

describe('the progress line', () => {
  it('sums every task: items done of total, bytes, rate, time left', () => {
    let now = 0;
    const totals = new ProgressTotals(() => now);
    totals.expect(12, 100 * 1024 * 1024, 'files');
    totals.byteTasks = 5;
    totals.byteTasksDone = 3;
    totals.bytesDone = 20 * 1024 * 1024;
    now = 4_000;
    // 20 MiB in 4 s: 5 MiB/s; 80 MiB left: 16 s.
    expect(totals.line('ag-fetch download', 10)).toBe('ag-fetch download [##--------] 3/12 files · 20.0 MiB/100.0 MiB · 5.0 MiB/s · 0:16 left');
  });

  it('counts items alone when no bytes are counted, and says how long it took when the total is unknown', () => {
    let now = 0;
    const totals = new ProgressTotals(() => now);
    totals.itemsDone = 30;
    now = 10_000;
    expect(totals.line('ag-images verify', 4)).toBe('ag-images verify [----] 30 items · 3.0 items/s · 0:10 elapsed');
  });

  it('formats durations as m:ss and h:mm:ss', () => {
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('draws nothing when stderr is no terminal', () => {
    expect(createProgress(createTestIo(), true)).toBe(noProgress);
    expect(createProgress(createTestIo({ stderrIsTTY: true }), false)).toBe(noProgress);
  });

  it('on a terminal, draws one line for the job, and a bar per item only when verbose', async () => {
    const draw = async (verbose: boolean): Promise<string> => {
      const io = createTestIo({ stderrIsTTY: true });
      const progress = createProgress(io, true, { label: 'ag-test run', verbose });
      progress.expect(2, 2048, 'files');
      const a = progress.task('files/kubeadm', 1024);
      a.advance(1024);
      const b = progress.task('files/kubelet', 1024);
      b.advance(512);
      // cli-progress draws on a timer: wait for a frame.
      await new Promise((r) => setTimeout(r, 250));
      const text = io.stderrText();
      a.done();
      b.done();
      progress.stop();
      return text;
    };
    const quiet = await draw(false);
    expect(quiet).toMatch(/ag-test run \[#+-*\] 0\/2 files · 1\.5 KiB\/2\.0 KiB · [\d.]+ (B|KiB)\/s · \d+:\d\d left/);
    expect(quiet).not.toContain('files/kubeadm');
    const verbose = await draw(true);
    expect(verbose).toMatch(/ag-test run \[/);
    expect(verbose).toContain('files/kubeadm');
    expect(verbose).toContain('files/kubelet');
  });
});
