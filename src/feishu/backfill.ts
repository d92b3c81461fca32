import { DateTime } from 'luxon';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { AllocationError } from '../leave/allocate.js';
import { ingestNormalised, type Effect, type IngestResult } from '../leave/ingest.js';
import type { LeaveRevert } from '../leave/types.js';
import { ExternalError, type FeishuInstance, type FeishuPort } from '../ports.js';
import { runPeriodically } from '../shared/periodic.js';
import { approvalFromInstance, LeaveFormError } from './form.js';
import { minimiseFor, redactFormReason, type Minimise } from './inbound.js';

/**
 * Backfill: read approval instances from the Open API and feed them to the SAME ingest as the
 * webhook. Each instance becomes canonical events with deterministic keys
 * (`backfill:<instance_code>:approved` / `:reverted`), so the inbox dedupes a second run, and the
 * leave merge (by instance_code, backfill ranking below V1/V2) makes a run after the webhook
 * events a no-op.
 */

export type BackfillDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'metrics' | 'onOutboxWritten' | 'logger' | 'feishu'>;

export type BackfillOutcome = 'approved' | 'reverted' | 'skipped' | 'unchanged' | 'error';

export interface BackfillItem {
  instanceCode: string;
  /** Feishu's status, `+reverted` when the reverted flag is set; null when it could not be read */
  status: string | null;
  outcome: BackfillOutcome;
  detail: string | null;
}

export interface BackfillReport {
  approvalCode: string;
  from: string;
  to: string;
  listed: number;
  approved: number;
  reverted: number;
  skipped: number;
  unchanged: number;
  errors: Array<{ instanceCode: string | null; message: string }>;
  items: BackfillItem[];
}

export const BACKFILL_EVENT_TYPE = 'backfill';

/** Effects that change what we hold; everything else (duplicate, unchanged, already_reverted) does not. */
const CHANGING: ReadonlySet<Effect> = new Set<Effect>(['created', 'enriched', 'reverted', 'revert_remembered', 'detail_after_revert']);
const changed = (r: IngestResult | null) => r !== null && r.status !== 'duplicate' && r.effect !== null && CHANGING.has(r.effect);

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** [from 00:00, to 24:00) local in `zone` as epoch ms (end inclusive, so -1). */
export function creationRange(from: string, to: string, zone: string): { startMs: number; endMs: number } {
  const f = DATE_RE.test(from) ? DateTime.fromISO(from, { zone }) : null;
  const t = DATE_RE.test(to) ? DateTime.fromISO(to, { zone }) : null;
  if (!f?.isValid) throw new AppError('invalid_date', `from: expected a date like 2024-09-01, got ${JSON.stringify(from)}`);
  if (!t?.isValid) throw new AppError('invalid_date', `to: expected a date like 2024-09-30, got ${JSON.stringify(to)}`);
  if (t < f) throw new AppError('invalid_range', `to (${to}) is before from (${from})`);
  return { startMs: f.startOf('day').toMillis(), endMs: t.plus({ days: 1 }).startOf('day').toMillis() - 1 };
}

function snapshot(i: FeishuInstance, m: Minimise) {
  return {
    instance_code: i.instanceCode,
    approval_code: i.approvalCode,
    status: i.status,
    reverted: i.reverted,
    user_id: i.userId,
    open_id: i.openId,
    start_time: i.startTimeMs,
    end_time: i.endTimeMs,
    form: redactFormReason(i.form, m),
  };
}

/** Errors that would fail every remaining instance too: stop the run and say so. */
const isFatal = (err: unknown) =>
  (err instanceof ExternalError && err.failure === 'configuration') || (err instanceof AppError && err.status === 503);

async function backfillOne(deps: BackfillDeps & { feishu: FeishuPort }, instanceCode: string): Promise<BackfillItem> {
  const instance = await deps.feishu.getInstance(instanceCode);
  if (!instance) return { instanceCode, status: null, outcome: 'skipped', detail: 'instance not found' };
  const isReverted = instance.status === 'REVERTED' || instance.reverted;
  const status = instance.reverted && instance.status !== 'REVERTED' ? `${instance.status}+reverted` : instance.status;
  if (instance.status !== 'APPROVED' && !isReverted) {
    return { instanceCode, status, outcome: 'skipped', detail: `status ${instance.status} is not a granted leave` };
  }
  const m = minimiseFor(deps.config);
  // a leave, out, trip or overtime widget (remedy and shift forms carry no time away or worked)
  const read = approvalFromInstance(instance, deps.config.DEFAULT_TIMEZONE);
  // the employee's reason is not kept unless STORE_LEAVE_REASONS (src/feishu/inbound.ts)
  const approval = read && !m.storeReasons ? { ...read, reason: null } : read;
  if (!approval && !isReverted) return { instanceCode, status, outcome: 'skipped', detail: 'the form has no leave widget' };

  const payload = { source: 'feishu-instance-api', instance: snapshot(instance, m) };
  const approved = approval
    ? await ingestNormalised(deps, { eventKey: `backfill:${instanceCode}:approved`, eventType: BACKFILL_EVENT_TYPE, source: 'backfill', payload }, approval)
    : null;
  if (!isReverted) {
    return { instanceCode, status, outcome: changed(approved) ? 'approved' : 'unchanged', detail: approved?.effect ?? approved?.status ?? null };
  }
  const revert: LeaveRevert = {
    kind: 'revert',
    via: 'backfill',
    approvalKind: approval?.approvalKind ?? null,
    instanceCode,
    approvalCode: instance.approvalCode || null,
    status: 'REVERTED',
    // the instance API does not say when it was reverted; ingest uses its clock
    operateTime: null,
  };
  const reverted = await ingestNormalised(
    deps,
    { eventKey: `backfill:${instanceCode}:reverted`, eventType: BACKFILL_EVENT_TYPE, source: 'backfill', payload },
    revert,
  );
  return {
    instanceCode,
    status,
    outcome: changed(approved) || changed(reverted) ? 'reverted' : 'unchanged',
    detail: [approved?.effect, reverted.effect ?? reverted.status].filter(Boolean).join(', ') || null,
  };
}

/**
 * Backfill one approval definition's instances created between `from` and `to` (local dates,
 * inclusive, in DEFAULT_TIMEZONE). Per-instance problems are reported, not thrown; bad
 * credentials or an unreachable database stop the run (they would fail every instance).
 */
export async function backfill(
  deps: BackfillDeps,
  opts: { approvalCode: string; from: string; to: string; concurrency?: number },
): Promise<BackfillReport> {
  const feishu = deps.feishu;
  if (!feishu) throw new ExternalError('configuration', 'backfill needs the Feishu Open API: set FEISHU_APP_ID and FEISHU_APP_SECRET');
  const { startMs, endMs } = creationRange(opts.from, opts.to, deps.config.DEFAULT_TIMEZONE);
  const codes = await feishu.listInstanceCodes(opts.approvalCode, startMs, endMs);
  const items: BackfillItem[] = new Array(codes.length);
  const full = { ...deps, feishu };

  // A few at a time: Feishu allows 50 instance reads per second; ordering between instances is
  // irrelevant (each is its own leave, serialised in ingest by instance_code).
  let next = 0;
  let fatal: unknown = null;
  const worker = async () => {
    while (fatal === null && next < codes.length) {
      const index = next++;
      const code = codes[index]!;
      try {
        items[index] = await backfillOne(full, code);
      } catch (err) {
        if (isFatal(err)) {
          fatal ??= err;
          return;
        }
        const known = err instanceof ExternalError || err instanceof LeaveFormError || err instanceof AllocationError;
        if (!known) deps.logger.error('backfill: unexpected failure', { instanceCode: code, error: err });
        items[index] = { instanceCode: code, status: null, outcome: 'error', detail: err instanceof Error ? err.message : String(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, codes.length)) }, worker));
  if (fatal !== null) throw fatal;

  const count = (o: BackfillOutcome) => items.filter((i) => i.outcome === o).length;
  const report: BackfillReport = {
    approvalCode: opts.approvalCode,
    from: opts.from,
    to: opts.to,
    listed: codes.length,
    approved: count('approved'),
    reverted: count('reverted'),
    skipped: count('skipped'),
    unchanged: count('unchanged'),
    errors: items.filter((i) => i.outcome === 'error').map((i) => ({ instanceCode: i.instanceCode, message: i.detail ?? 'error' })),
    items,
  };
  for (const outcome of ['approved', 'reverted', 'skipped', 'unchanged', 'error'] as const) {
    const n = count(outcome);
    if (n > 0) deps.metrics.inc('leave_bridge_backfill_instances_total', 'Approval instances read by backfill, by outcome', { outcome }, n);
  }
  return report;
}

/** BACKFILL_APPROVAL_CODES: comma or whitespace separated */
export const approvalCodesOf = (value: string | undefined): string[] =>
  (value ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Inside `serve`: every BACKFILL_INTERVAL, backfill the last 2 local days (yesterday and today)
 * for each of BACKFILL_APPROVAL_CODES, catching events Feishu gave up re-pushing (~7.1 h) or that
 * arrived while we were down. The next run is scheduled only after the previous one finished, so
 * runs never overlap in a process; across processes the inbox keys make overlap harmless.
 * Returns a stop function that waits for a run in progress.
 */
export function startPeriodicBackfill(deps: BackfillDeps, config: Config): () => Promise<void> {
  const codes = approvalCodesOf(config.BACKFILL_APPROVAL_CODES);
  const interval = config.BACKFILL_INTERVAL;
  if (interval === undefined || codes.length === 0) {
    if (interval !== undefined) deps.logger.warn('BACKFILL_INTERVAL is set but BACKFILL_APPROVAL_CODES is empty: periodic backfill off');
    return async () => {};
  }
  if (!deps.feishu) {
    deps.logger.warn('periodic backfill needs FEISHU_APP_ID and FEISHU_APP_SECRET: off');
    return async () => {};
  }
  return runPeriodically(interval, async (stopped) => {
    const today = DateTime.fromJSDate(deps.clock.now(), { zone: config.DEFAULT_TIMEZONE });
    const from = today.minus({ days: 1 }).toISODate()!;
    const to = today.toISODate()!;
    for (const approvalCode of codes) {
      if (stopped()) return;
      try {
        const r = await backfill(deps, { approvalCode, from, to });
        const level = r.errors.length > 0 ? 'warn' : 'info';
        deps.logger[level]('periodic backfill', {
          approvalCode,
          from,
          to,
          listed: r.listed,
          approved: r.approved,
          reverted: r.reverted,
          skipped: r.skipped,
          unchanged: r.unchanged,
          errors: r.errors.slice(0, 5),
        });
      } catch (err) {
        deps.logger.error('periodic backfill failed', { approvalCode, error: err });
      }
    }
  });
}
