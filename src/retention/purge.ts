import { sql } from 'drizzle-orm';
import { deleteAuditBefore } from '../auth/audit.js';
import { deleteEndedSessions } from '../auth/sessions.js';
import { deleteEndedWindows } from '../auth/throttle.js';
import type { Config } from '../config.js';
import { queryRows, type Queryable } from '../db/client.js';
import type { Clock } from '../deps.js';
import type { Logger } from '../logger.js';

/*
 * Data minimisation over time (docs/operations.md, "What is kept"): what the service needed for a
 * while and must not keep for ever.
 *
 * - Raw event payloads (the decrypted body, which names the employee and, if reasons are stored,
 *   why they were away) are set to NULL EVENT_PAYLOAD_RETENTION after receipt. The inbox row stays
 *   with its dedupe key (event_key, event_type), so a delivery Feishu pushes again (for up to about
 *   7.1 h) is still a duplicate however late it comes.
 * - Recorded payroll exports lose their email addresses EXPORT_RETENTION after the export; ids,
 *   dates and quantities stay, which is all adjustments against them need.
 * - Leave reasons already stored are cleared when STORE_LEAVE_REASONS is off.
 * - Audit entries go after AUDIT_RETENTION; ended sessions and throttle windows at once.
 *
 * Idempotent and safe to run from several processes at once (each statement only touches rows
 * not yet purged). Runs hourly in `serve`, on the Worker's hourly cron, and as `leave-bridge purge`.
 */

export interface PurgeReport {
  payloads: number;
  exports: number;
  reasons: number;
  audit: number;
  sessions: number;
  throttleWindows: number;
}

export type PurgeDeps = {
  db: Queryable;
  clock: Clock;
  logger: Logger;
  config: Pick<Config, 'EVENT_PAYLOAD_RETENTION' | 'EXPORT_RETENTION' | 'AUDIT_RETENTION' | 'STORE_LEAVE_REASONS' | 'AUTH_FAILURE_LIMIT' | 'AUTH_FAILURE_WINDOW'>;
};

/** Rows per statement: a first purge of a large backlog does not hold one long transaction. */
const BATCH = 2000;

const before = (now: Date, ms: number) => new Date(now.getTime() - ms).toISOString();

async function count(db: Queryable, statement: ReturnType<typeof sql>): Promise<number> {
  const rows = await queryRows<{ n: number | string }>(db, statement);
  return Number(rows[0]?.n ?? 0);
}

async function purgePayloads(deps: PurgeDeps, now: Date): Promise<number> {
  const cutoff = before(now, deps.config.EVENT_PAYLOAD_RETENTION);
  let total = 0;
  for (;;) {
    const n = await count(
      deps.db,
      sql`with purged as (
            update inbox_events set payload = null, payload_purged_at = ${now.toISOString()}::timestamptz
            where id in (select id from inbox_events where payload is not null and received_at < ${cutoff}::timestamptz limit ${BATCH})
            returning 1)
          select count(*)::int as n from purged`,
    );
    total += n;
    if (n < BATCH) return total;
  }
}

async function dropExportEmails(deps: PurgeDeps, now: Date): Promise<number> {
  const cutoff = before(now, deps.config.EXPORT_RETENTION);
  // email set to null rather than the row removed: the lines keep the shape the export had
  return count(
    deps.db,
    sql`with due as (
          update payroll_exports set emails_dropped_at = ${now.toISOString()}::timestamptz
          where emails_dropped_at is null and created_at < ${cutoff}::timestamptz
          returning id),
        cleared as (
          update payroll_export_lines set email = null
          where export_id in (select id from due) and email is not null
          returning 1)
        select count(*)::int as n from due, (select count(*) from cleared) as c`,
  );
}

async function clearReasons(deps: PurgeDeps): Promise<number> {
  if (deps.config.STORE_LEAVE_REASONS) return 0;
  return count(
    deps.db,
    sql`with cleared as (update leaves set reason = null where reason is not null returning 1) select count(*)::int as n from cleared`,
  );
}

export async function purgeExpired(deps: PurgeDeps): Promise<PurgeReport> {
  const now = deps.clock.now();
  const report: PurgeReport = {
    payloads: await purgePayloads(deps, now),
    exports: await dropExportEmails(deps, now),
    reasons: await clearReasons(deps),
    audit: await deleteAuditBefore(deps.db, new Date(now.getTime() - deps.config.AUDIT_RETENTION)),
    sessions: await deleteEndedSessions(deps.db, now),
    throttleWindows: await deleteEndedWindows(deps),
  };
  const touched = Object.values(report).some((n) => n > 0);
  (touched ? deps.logger.info : deps.logger.debug)('retention purge', { ...report });
  return report;
}

/** `serve`: purge at start and then every `everyMs`; the returned function stops it (and waits for a run). */
export function startPeriodicPurge(deps: PurgeDeps, everyMs = 3_600_000): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = purgeExpired(deps).catch((err: unknown) => deps.logger.error('retention purge failed; it runs again within the hour', { err }));
  };
  const first = setTimeout(run, 5_000);
  const timer = setInterval(run, everyMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
