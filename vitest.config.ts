import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one migrated PGlite for the whole run, copied by every PGlite-backed file (test/support/db.ts)
    globalSetup: ['test/support/global-setup.ts'],
    // Each file gets its own database; two cores → two workers.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // the longest files first, so neither fork is left alone with one at the end
    sequence: { sequencer: LongestFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
