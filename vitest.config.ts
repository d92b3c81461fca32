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
    // drizzle-orm through vitest's module runner rather than Node's loader: its package.json is
    // large (an export per entry point) and Node 24 reads it again for each of the package's
    // hundreds of modules, in every test file: most of what made collecting a file slower on Node 24 than on Node 20
    server: { deps: { inline: ['drizzle-orm'] } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
