import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Worker threads crash Temporal's native bridge: every test file runs in its own forked process.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    include: ['test/**/*.test.ts'],
    // the fault suite stops PostgreSQL and kills workers: it runs on its own (npm run test:faults)
    exclude: ['test/faults/**', 'test/cluster/**', 'node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    // workflows under test carry no personal data; test/integration/payload-codec.test.ts encrypts explicitly
    env: { MEDINS_PAYLOAD_ENCRYPTION: 'off' },
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // The global setup may build the Temporal CLI on a fresh machine (minutes, once).
    teardownTimeout: 60_000,
  },
});
