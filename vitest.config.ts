import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['shared/**/*.test.ts', 'node/**/*.test.ts', 'sw/**/*.test.ts', 'scripts/**/*.test.ts', 'web/frame/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
