import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // onnxruntime-node and sharp are native addons: separate processes are safer than worker threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // No compile-cache saver may outlive the test that started it (test/setup/cacheSavers.ts).
    setupFiles: ['test/setup/cacheSavers.ts'],
    env: { INKFLOW_CACHE_SAVE: 'wait' },
  },
});
