import { defineConfig } from 'vitest/config';

/**
 * `npm run test:cluster`: the cluster suite. A real Temporal cluster (four services as processes,
 * PostgreSQL persistence and visibility, mTLS) next to the dev server of the shared setup; one file at a
 * time, because a case restarts Temporal services and kills workers. The first run builds the server
 * (test/cluster/global-setup.ts).
 */
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts', 'test/global-setup.ts'],
    env: { MEDINS_PAYLOAD_ENCRYPTION: 'off' },
    testTimeout: 1_200_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
  },
});
