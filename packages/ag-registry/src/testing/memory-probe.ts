/**
 * Loaded with `--import` into the embedded registry's process by tests (never
 * by ag): on SIGUSR2 it collects garbage (the process runs with --expose-gc)
 * and writes process.memoryUsage() as one `memory-probe {…}` line on stderr,
 * so a test can tell the JavaScript heap (heapUsed) from what the allocator
 * holds (rss).
 */
process.on('SIGUSR2', () => {
  const collect = (globalThis as { gc?: () => void }).gc;
  // Several passes: weak references and finalizers free more on the next one.
  for (let i = 0; i < 3; i++) collect?.();
  process.stderr.write(`memory-probe ${JSON.stringify({ ...process.memoryUsage(), collected: collect !== undefined })}\n`);
});
