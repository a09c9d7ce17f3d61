import { defineConfig } from 'vitest/config';

// Fault tests: each cuts a real service on purpose; one file at a time so they do not starve
// each other of the machine's cores.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
