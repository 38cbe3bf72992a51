import { defineConfig } from 'vitest/config';

// Integration tests start real ovsdb-server / ovn-northd processes and network namespaces:
// give them room, and run files in parallel only as far as two cores allow.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
