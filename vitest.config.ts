import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // worker pools and CLI runs take seconds on two shared cores
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
