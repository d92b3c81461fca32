import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one migrated PGlite for the whole run, copied by every PGlite-backed file (test/support/db.ts)
    globalSetup: ['test/support/global-setup.ts'],
    // Each file gets its own database; two cores → two workers.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
