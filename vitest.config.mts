import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two cores: more parallel files only make the timing-sensitive ones slower.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
