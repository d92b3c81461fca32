import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take longest, because they wait on real time (quotas, leases, outages, retries) or
 * start real processes. They start first so the two forks finish together: vitest's own order
 * without a results cache (a fresh clone, as in CI) is by file size, which left the longest files
 * (reliability, the two-process pacing test) for the end, one fork running them while the other
 * had nothing left. Longest first; a file missing here only runs later, so a stale entry costs
 * time, never coverage.
 */
export const LONGEST_FIRST = [
  'test/reliability.test.ts',
  'test/corehr/corehr-sync.test.ts',
  'test/db/db-function.test.ts',
  'test/outbox/pacing.test.ts',
  'test/outbox/outbox-process.test.ts',
  'test/cli/doctor.test.ts',
  'test/outbox/pacing-process.test.ts',
  'test/cli/startup.test.ts',
  'test/outbox/outbox-drain.test.ts',
  'test/corehr/corehr-cli.test.ts',
  'test/outbox/team-calendar.test.ts',
  'test/reports/dashboard.browser.test.ts',
  'test/cli/trigger.test.ts',
  'test/feishu/backfill.test.ts',
  'test/feishu/long-connection.test.ts',
  'test/corehr/corehr-pacing.test.ts',
  'test/reports/reconciliation-paging.test.ts',
  'test/leave/ingest-batch-equivalence.test.ts',
  'test/workers.e2e.test.ts',
  'test/outbox/calendar-e2e.test.ts',
  'test/reports/policies.browser.test.ts',
];

/** The files above first, in that order; every other file after them, in vitest's own order. */
export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rest = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const file = spec.moduleId.replaceAll('\\', '/');
      const i = LONGEST_FIRST.findIndex((known) => file.endsWith(`/${known}`));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    // a stable sort keeps vitest's order among the files not listed
    return [...rest].sort((a, b) => rank(a) - rank(b));
  }
}
