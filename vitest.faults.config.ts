import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault suite. One file at a time, because its cases stop PostgreSQL and kill
 * workers; each case is a whole drill year on the real dev server.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    fileParallelism: false,
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: { MEDINS_PAYLOAD_ENCRYPTION: 'off' },
    testTimeout: 900_000,
    hookTimeout: 900_000,
    teardownTimeout: 60_000,
  },
});
