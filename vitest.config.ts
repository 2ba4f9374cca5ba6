import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // tests share the machine's network namespaces and bpffs: one file at a time
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
