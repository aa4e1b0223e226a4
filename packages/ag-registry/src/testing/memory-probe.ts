import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Loaded with `--import` into the embedded registry's process by tests (never
 * by ag): on SIGUSR2 it writes one `memory-probe {…}` line on stderr with the
 * event loop's delay since the previous report (p90, p99, max; ms), then
 * collects garbage (the process runs with --expose-gc) and adds
 * process.memoryUsage(), so a test can tell the JavaScript heap (heapUsed)
 * from what the allocator holds (rss).
 */
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

process.on('SIGUSR2', () => {
  const loop = { eventLoopDelayP90Ms: delay.percentile(90) / 1e6, eventLoopDelayP99Ms: delay.percentile(99) / 1e6, eventLoopDelayMaxMs: delay.max / 1e6 };
  delay.reset();
  const collect = (globalThis as { gc?: () => void }).gc;
  // Several passes: weak references and finalizers free more on the next one.
  for (let i = 0; i < 3; i++) collect?.();
  process.stderr.write(`memory-probe ${JSON.stringify({ ...process.memoryUsage(), ...loop, collected: collect !== undefined })}\n`);
});
