import { defineConfig } from 'vitest/config';

// One runner for the whole workspace. Tests start real parts (a distribution
// registry, containerd, network namespaces), so timeouts are generous and files
// run in separate processes.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tools/*/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'e2e/vagrant/**'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ['default', './tools/build/summary-reporter.ts'],
  },
});
