import { sql } from 'drizzle-orm';
import { DateTime } from 'luxon';
import { queryRows } from '../db/client.js';
import type { Deps } from '../deps.js';
import { ingest, type IngestResult } from '../leave/ingest.js';
import { COREHR_SYNC_KEY, COREHR_SYNC_KIND } from '../leave/types.js';
import { ExternalError, type LeaveRequestQuery } from '../ports.js';
import { runPeriodically } from '../shared/periodic.js';
import { COREHR_REQUEST_EVENT_TYPE, corehrInstanceCode, processIdsOf, requestEventKey } from './corehr.js';
import { minimiseFor, planDelivery, redactPayload } from './inbound.js';

/*
 * The CoreHR leave sync: reads GET /open-apis/corehr/v1/leaves/leave_request_history
 * (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history) page by
 * page and puts every request through the same ingest as an event (inbox dedupe, the leave's
 * rules, its days and calendar work). Three ways in:
 * - incremental (a doorbell's corehr.sync outbox row, or the periodic one): requests updated
 *   since the watermark minus COREHR_SYNC_OVERLAP, up to now; the watermark moves to now only once
 *   every page was read and applied, so a sync that fails is read again from the same point;
 * - since (`leave-bridge corehr sync --since`): updated since a given time;
 * - period (`leave-bridge backfill --corehr --from --to`): requests whose leave overlaps the dates,
 *   whatever their update time; the watermark is not touched.
 */

export type CorehrSyncDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'metrics' | 'onOutboxWritten' | 'logger' | 'feishu'>;

/** The one row of corehr_sync this sync keeps its watermark and pacing bucket in. */
export const SYNC_STATE = 'leave_requests';
const PAGE_SIZE = 100;

export type CorehrSyncMode =
  | { mode: 'incremental' }
  | { mode: 'since'; since: Date }
  | { mode: 'period'; from: string; to: string };

export interface CorehrSyncReport {
  mode: CorehrSyncMode['mode'];
  /** update times as sent (`yyyy-MM-dd HH:mm:ss` in DEFAULT_TIMEZONE), or the leave dates of a period */
  window: { updatedFrom?: string; updatedTo?: string; from?: string; to?: string };
  pages: number;
  requests: number;
  applied: number;
  duplicate: number;
  ignored: number;
  quarantined: number;
  /** the first quarantined requests, with the reason */
  problems: Array<{ instanceCode: string | null; reason: string }>;
  /** the process ids the doorbells named: the record each was found in, or not found in this window */
  processes?: { matched: Record<string, string>; unmatched: string[] };
  /** the watermark after this sync (ISO), when it moved */
  watermark?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function ensureState(db: CorehrSyncDeps['db'], burst: number): Promise<void> {
  await queryRows(db, sql`insert into corehr_sync (name, tokens, refilled_at) values (${SYNC_STATE}, ${burst}, now()) on conflict (name) do nothing`);
}

/**
 * The bucket's burst: with `rate` a minute refilled continuously, no window of 60 s ever sees more
 * than rate + burst requests, which stays within Feishu's 100 with the default rate of 90.
 */
export const burstOf = (rate: number): number => Math.max(1, Math.min(Math.floor(rate / 10), 100 - rate));

/**
 * Take one request from the bucket every process and Worker shares (one conditional UPDATE, times
 * from the database's clock): 0 when taken, else how many ms until one is there.
 */
export async function takeRequest(db: CorehrSyncDeps['db'], rate: number): Promise<number> {
  const burst = burstOf(rate);
  // The refill is computed from the row's own columns inside the UPDATE: a concurrent taker's
  // UPDATE waits for this one and re-checks its condition against the row as committed, so two
  // callers never both spend the last call.
  const taken = await queryRows<{ ok: boolean }>(
    db,
    sql`update corehr_sync
        set tokens = least(${burst}::numeric, tokens + extract(epoch from (now() - refilled_at))::numeric * ${rate}::numeric / 60) - 1,
            refilled_at = now()
        where name = ${SYNC_STATE}
          and least(${burst}::numeric, tokens + extract(epoch from (now() - refilled_at))::numeric * ${rate}::numeric / 60) >= 1
        returning true as ok`,
  );
  if (taken.length > 0) return 0;
  const [row] = await queryRows<{ avail: string | number }>(
    db,
    sql`select least(${burst}::numeric, tokens + extract(epoch from (now() - refilled_at))::numeric * ${rate}::numeric / 60) as avail
        from corehr_sync where name = ${SYNC_STATE}`,
  );
  if (!row) {
    await ensureState(db, burst);
    return takeRequest(db, rate);
  }
  return Math.max(10, Math.ceil(((1 - Number(row.avail)) * 60_000) / rate));
}

/** Wait for a request from the shared bucket. */
export function pacer(deps: Pick<CorehrSyncDeps, 'db' | 'config' | 'metrics'>): () => Promise<void> {
  return async () => {
    for (;;) {
      const wait = await takeRequest(deps.db, deps.config.COREHR_REQUESTS_PER_MINUTE);
      if (wait === 0) return;
      deps.metrics.inc('leave_bridge_corehr_paced_total', 'CoreHR API requests that waited for the shared rate limit');
      await sleep(wait);
    }
  };
}

const apiTime = (d: Date, zone: string): string => DateTime.fromJSDate(d, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');

interface StateRow {
  watermark: Date | string | null;
}

async function readWatermark(db: CorehrSyncDeps['db']): Promise<Date | null> {
  const [row] = await queryRows<StateRow>(db, sql`select watermark from corehr_sync where name = ${SYNC_STATE}`);
  return row?.watermark ? new Date(row.watermark) : null;
}

/** How far back an incremental sync reads when no sync ever ran. */
export const FIRST_SYNC_LOOKBACK_MS = 86_400_000;

/**
 * Read the requests of a window and apply each; returns what happened. Throws ExternalError on a
 * failure the caller classifies (outbox: transient → retried later; configuration → held).
 */
export async function syncCorehr(deps: CorehrSyncDeps, which: CorehrSyncMode, processIds: string[] = []): Promise<CorehrSyncReport> {
  const feishu = deps.feishu;
  if (!feishu?.leaveRequestPage) {
    throw new ExternalError('configuration', 'the CoreHR sync reads the leave API: set FEISHU_APP_ID and FEISHU_APP_SECRET');
  }
  const zone = deps.config.DEFAULT_TIMEZONE;
  const now = deps.clock.now();
  await ensureState(deps.db, burstOf(deps.config.COREHR_REQUESTS_PER_MINUTE));
  const watermark = await readWatermark(deps.db);
  const query: Omit<LeaveRequestQuery, 'pageToken'> = { pageSize: PAGE_SIZE };
  const report: CorehrSyncReport = {
    mode: which.mode,
    window: {},
    pages: 0,
    requests: 0,
    applied: 0,
    duplicate: 0,
    ignored: 0,
    quarantined: 0,
    problems: [],
  };
  let moveTo: Date | null = null;
  if (which.mode === 'period') {
    query.endDateMin = which.from;
    query.startDateMax = which.to;
    report.window = { from: which.from, to: which.to };
  } else {
    const from =
      which.mode === 'since'
        ? which.since
        : new Date((watermark?.getTime() ?? now.getTime() - FIRST_SYNC_LOOKBACK_MS) - deps.config.COREHR_SYNC_OVERLAP);
    query.updateTimeMin = apiTime(from, zone);
    query.updateTimeMax = apiTime(now, zone);
    report.window = { updatedFrom: query.updateTimeMin, updatedTo: query.updateTimeMax };
    // --since later than the watermark leaves a gap behind it: the watermark stays
    if (which.mode === 'incremental' || watermark === null || which.since.getTime() <= watermark.getTime()) moveTo = now;
  }

  const pace = pacer(deps);
  const m = minimiseFor(deps.config);
  const seen = new Map<string, string>();
  let pageToken: string | undefined;
  for (;;) {
    const page = await feishu.leaveRequestPage({ ...query, ...(pageToken ? { pageToken } : {}) }, pace);
    report.pages += 1;
    // one page's requests together: the group commit writes them in a statement or a few
    const results = await Promise.all(page.items.map((raw) => applyRequest(deps, raw, m)));
    for (const [i, r] of results.entries()) {
      report.requests += 1;
      report[r.status] += 1;
      if (r.status === 'quarantined' && report.problems.length < 20) report.problems.push({ instanceCode: r.instanceCode, reason: r.reason ?? '' });
      const raw = page.items[i];
      const id = typeof raw === 'object' && raw !== null ? (raw as { leave_request_id?: unknown }).leave_request_id : undefined;
      if (typeof id === 'string' || typeof id === 'number') for (const p of processIdsOf(raw)) seen.set(p, corehrInstanceCode(String(id)));
    }
    if (!page.hasMore || !page.pageToken) break;
    pageToken = page.pageToken;
  }

  if (processIds.length > 0) {
    const matched: Record<string, string> = {};
    const unmatched: string[] = [];
    for (const p of processIds) {
      const code = seen.get(p);
      if (code) matched[p] = code;
      else unmatched.push(p);
    }
    report.processes = { matched, unmatched };
  }
  for (const status of ['applied', 'duplicate', 'ignored', 'quarantined'] as const) {
    if (report[status] > 0) deps.metrics.inc('leave_bridge_corehr_requests_total', 'CoreHR leave requests read by the sync, by outcome', { status }, report[status]);
  }
  const summary = { ...report, problems: report.problems.slice(0, 5) };
  if (moveTo !== null) {
    await queryRows(
      deps.db,
      sql`update corehr_sync set watermark = greatest(coalesce(watermark, ${moveTo.toISOString()}::timestamptz), ${moveTo.toISOString()}::timestamptz),
            last_sync_at = ${now.toISOString()}::timestamptz, last_result = ${JSON.stringify(summary)}::jsonb
          where name = ${SYNC_STATE}`,
    );
    report.watermark = (await readWatermark(deps.db))?.toISOString();
  } else {
    await queryRows(
      deps.db,
      sql`update corehr_sync set last_sync_at = ${now.toISOString()}::timestamptz, last_result = ${JSON.stringify(summary)}::jsonb where name = ${SYNC_STATE}`,
    );
  }
  return report;
}

/** One request through the same ingest as an event: its state is one inbox delivery. */
async function applyRequest(deps: CorehrSyncDeps, raw: unknown, m: ReturnType<typeof minimiseFor>): Promise<IngestResult> {
  const record = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : { value: raw };
  const eventKey = await requestEventKey(record);
  const body = { event: record };
  const planned = planDelivery({ eventType: COREHR_REQUEST_EVENT_TYPE, event: record, problem: record === raw ? null : 'a leave request that is not an object' }, m);
  return ingest(deps, { eventKey, eventType: COREHR_REQUEST_EVENT_TYPE, source: 'corehr', payload: redactPayload(body, m) }, planned);
}

/**
 * Queue a periodic sync (outbox kind corehr.sync) when none was queued within the interval, shared
 * by every process and Worker isolate through corehr_sync.last_queued_at. Returns whether it
 * queued one. A tick may come a little early (timers, the cron's minute), so a tenth of the
 * interval counts as on time.
 */
export async function queuePeriodicSync(deps: Pick<CorehrSyncDeps, 'db' | 'config' | 'onOutboxWritten'>, intervalMs: number): Promise<boolean> {
  await ensureState(deps.db, burstOf(deps.config.COREHR_REQUESTS_PER_MINUTE));
  const due = Math.floor(intervalMs * 0.9);
  const [row] = await queryRows<{ queued: boolean }>(
    deps.db,
    sql`with claim as (
          update corehr_sync set last_queued_at = now()
          where name = ${SYNC_STATE} and (last_queued_at is null or last_queued_at <= now() - make_interval(secs => ${due / 1000}))
          returning name
        ), queued as (
          insert into outbox (key, kind, payload)
          select ${COREHR_SYNC_KEY}, ${COREHR_SYNC_KIND}, '{"reason":"periodic"}'::jsonb from claim
          on conflict (key, kind) where status = 'pending' do nothing
          returning id
        )
        select exists (select 1 from claim) as queued`,
  );
  const queued = row?.queued === true;
  if (queued) deps.onOutboxWritten?.([COREHR_SYNC_KEY]);
  return queued;
}

/**
 * Inside `serve`: every COREHR_SYNC_INTERVAL, queue a CoreHR sync, the safety net for doorbells
 * that never rang (a missed event, a restart). The first at start. Returns a stop function.
 */
export function startPeriodicCorehrSync(deps: CorehrSyncDeps): () => Promise<void> {
  const interval = deps.config.COREHR_SYNC_INTERVAL;
  if (!deps.config.COREHR_ENABLED || interval === undefined) {
    if (interval !== undefined) deps.logger.warn('COREHR_SYNC_INTERVAL is set but COREHR_ENABLED is not: periodic CoreHR sync off');
    return async () => {};
  }
  if (!deps.feishu) deps.logger.warn('the CoreHR sync needs FEISHU_APP_ID and FEISHU_APP_SECRET: its outbox rows are held until they are set');
  return runPeriodically(interval, async () => {
    try {
      if (await queuePeriodicSync(deps, interval)) deps.logger.debug('periodic CoreHR sync queued');
    } catch (err) {
      deps.logger.error('could not queue the periodic CoreHR sync', { err });
    }
  });
}
