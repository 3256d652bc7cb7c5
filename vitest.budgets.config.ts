import { defineConfig } from 'vitest/config';

/**
 * The web app's budgets (`npm run budgets`): timings, so they run alone, after the suites, not beside them on a
 * busy machine. `.ci/run` runs them against the real PostgreSQL.
 */
export default defineConfig({
  test: {
    include: ['web/e2e/budgets.check.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
