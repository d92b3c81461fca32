import { and, eq, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '../db/client.js';
import { attendanceDays, employees, inboxEvents, leaves } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { DatabaseUnavailableError, isConnectionError } from '../errors.js';
import { normaliseEvent, UnusableEventError } from '../feishu/events.js';
import { enqueue } from '../outbox/enqueue.js';
import { allocate, AllocationError } from './allocate.js';
import { UNIT_INFO, type DayQuantity, type LeaveApproval, type LeaveEvent, type LeaveRevert } from './types.js';

/** What ingest needs of the deps object (webhook, long connection, backfill all hand in theirs). */
export type IngestDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'metrics' | 'onOutboxWritten' | 'logger'>;

export type IngestSource = 'webhook' | 'ws' | 'backfill' | 'replay';

export interface IncomingEvent {
  eventKey: string;
  eventType: string;
  source: IngestSource;
  /** what we store: the decrypted body, minus the verification token */
  payload: unknown;
  /** the event object handed to normalise */
  event: unknown;
  /** set when the envelope is authentic but unusable (no id, no event object) */
  problem?: string | null;
}

export type Effect =
  | 'created'
  | 'enriched'
  | 'unchanged'
  | 'reverted'
  | 'revert_remembered'
  | 'already_reverted'
  | 'detail_after_revert';

export interface IngestResult {
  status: 'applied' | 'ignored' | 'quarantined' | 'duplicate';
  inboxId: number | null;
  instanceCode: string | null;
  effect: Effect | null;
  reason: string | null;
  /** leave keys whose outbox got a new message in this transaction */
  outboxKeys: string[];
}

/**
 * Precedence of approval detail: V2 is the richest (segments, i18n names). Backfill ranks lowest:
 * the instance form only knows DAY/HOUR and a float interval, so it fills in a leave no event
 * described but never rewrites what an event said (no new revision, no calendar work).
 */
const DETAIL_RANK = { backfill: 0, v1: 1, v2: 3 } as const;

/**
 * Postgres text and jsonb cannot hold U+0000 (22P05 / 22021), and Feishu JSON may legally carry
 * "\u0000" in any string. An authentic event must still be stored, so NUL becomes U+FFFD (the
 * replacement character) in every string and key before anything reaches the database.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[storable(k)] = storable(v);
    return out as T;
  }
  return value;
}

/** Remove the verification token before a body is stored or shown (admin API, quarantine). */
export function redactToken(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  if ('token' in out) out.token = '[redacted]';
  const header = out.header;
  if (typeof header === 'object' && header !== null && 'token' in header) {
    out.header = { ...(header as Record<string, unknown>), token: '[redacted]' };
  }
  return out;
}

type Planned =
  | { status: 'applied'; event: LeaveApproval | LeaveRevert; days: DayQuantity[] | null }
  | { status: 'ignored'; reason: string; instanceCode: string | null }
  | { status: 'quarantined'; reason: string; instanceCode: string | null };

/** Pure: what the event means, before any database work. Unusable content → quarantine. */
export function plan(incoming: Pick<IncomingEvent, 'eventType' | 'event' | 'problem'>): Planned {
  const instanceCode =
    typeof incoming.event === 'object' && incoming.event !== null && typeof (incoming.event as { instance_code?: unknown }).instance_code === 'string'
      ? ((incoming.event as { instance_code: string }).instance_code.slice(0, 200) || null)
      : null;
  if (incoming.problem) return { status: 'quarantined', reason: incoming.problem, instanceCode };
  let event: LeaveEvent;
  try {
    event = normaliseEvent(incoming.eventType, incoming.event);
  } catch (err) {
    if (err instanceof UnusableEventError) return { status: 'quarantined', reason: err.message, instanceCode };
    throw err;
  }
  if (event.kind === 'ignore') return { status: 'ignored', reason: event.reason, instanceCode: event.instanceCode };
  if (event.kind === 'revert') return { status: 'applied', event, days: null };
  try {
    return { status: 'applied', event, days: allocate(event) };
  } catch (err) {
    if (err instanceof AllocationError) return { status: 'quarantined', reason: err.message, instanceCode };
    throw err;
  }
}

/**
 * Feishu re-pushes anything not answered with 200 within 3 s. When the database stalls (a restart,
 * a failover) postgres.js queues queries through its reconnect backoff instead of failing, so the
 * request would hang past Feishu's deadline; answering 503 before it is clearer and frees the
 * connection. A transaction that still commits after the deadline is harmless: the re-push is a
 * duplicate.
 */
export const INGEST_DEADLINE_MS = 2_500;

async function withDatabase<T>(fn: () => Promise<T>, deadlineMs = INGEST_DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(new Error(`no commit within ${deadlineMs} ms`))), deadlineMs);
  });
  const work = fn();
  work.catch(() => {}); // a late failure after the deadline answered is not unhandled
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (isConnectionError(err)) throw new DatabaseUnavailableError(err);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The one transaction: inbox row (dedupe) + leave + attendance days + outbox rows. Returns after
 * commit; only then may the caller ack Feishu.
 */
export async function ingest(deps: IngestDeps, incoming: IncomingEvent): Promise<IngestResult> {
  return ingestPlanned(deps, incoming, plan({ ...incoming, event: storable(incoming.event) }));
}

/**
 * Ingest an event that is already canonical (backfill builds its LeaveApproval from the instance
 * API): the same transaction and inbox dedupe on (eventKey, eventType) as a webhook delivery.
 * Throws AllocationError instead of quarantining: the caller reports it and a rerun retries it.
 */
export async function ingestNormalised(
  deps: IngestDeps,
  incoming: Omit<IncomingEvent, 'event' | 'problem'>,
  event: LeaveApproval | LeaveRevert,
): Promise<IngestResult> {
  const clean = storable(event);
  const days = clean.kind === 'approve' ? allocate(clean) : null;
  return ingestPlanned(deps, incoming, { status: 'applied', event: clean, days });
}

async function ingestPlanned(
  deps: IngestDeps,
  incoming: Omit<IncomingEvent, 'event' | 'problem'>,
  planned: Planned,
): Promise<IngestResult> {
  const result = await withDatabase(() =>
    deps.db.transaction(async (tx) => {
      // ON CONFLICT DO NOTHING: a concurrent duplicate waits on the unique index until the
      // first commits, then finds the row; no 503 because two deliveries raced.
      const inserted = await tx
        .insert(inboxEvents)
        .values({
          eventKey: storable(incoming.eventKey),
          eventType: storable(incoming.eventType),
          source: incoming.source,
          instanceCode: planned.status === 'applied' ? planned.event.instanceCode : planned.instanceCode,
          status: planned.status,
          reason: planned.status === 'applied' ? null : storable(planned.reason),
          payload: storable(redactToken(incoming.payload)) ?? {},
          receivedAt: deps.clock.now(),
        })
        .onConflictDoNothing({ target: [inboxEvents.eventKey, inboxEvents.eventType] })
        .returning({ id: inboxEvents.id });
      const inboxId = inserted[0]?.id ?? null;
      if (inboxId === null) {
        return { status: 'duplicate', inboxId: null, instanceCode: null, effect: null, reason: null, outboxKeys: [] } satisfies IngestResult;
      }
      if (planned.status !== 'applied') {
        return { status: planned.status, inboxId, instanceCode: planned.instanceCode, effect: null, reason: planned.reason, outboxKeys: [] } satisfies IngestResult;
      }
      const applied = await applyLeaveEvent(tx, deps, planned.event, planned.days);
      await tx.update(inboxEvents).set({ effect: applied.effect, status: applied.ignoredReason ? 'ignored' : 'applied', reason: applied.ignoredReason }).where(eq(inboxEvents.id, inboxId));
      return appliedResult(inboxId, planned.event.instanceCode, applied);
    }),
  );
  deps.metrics.inc('leave_bridge_events_total', 'Feishu events by outcome', { source: incoming.source, status: result.status });
  if (result.outboxKeys.length > 0) deps.onOutboxWritten?.(result.outboxKeys);
  return result;
}

/** Serialise everything that touches one instance_code (V1 and V2 may arrive in the same ms). */
async function lockInstance(tx: Tx, instanceCode: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${instanceCode}, 0))`);
}

async function activeDays(tx: Queryable, instanceCode: string): Promise<DayQuantity[]> {
  const rows = await tx
    .select({ date: attendanceDays.date, quantity: attendanceDays.quantity })
    .from(attendanceDays)
    .where(and(eq(attendanceDays.instanceCode, instanceCode), eq(attendanceDays.status, 'active')))
    .orderBy(attendanceDays.date);
  return rows.map((r) => ({ date: r.date, quantity: canonicalDecimal(r.quantity) }));
}

/** "0.500000" (numeric from the database) → "0.5" */
export function canonicalDecimal(value: string): string {
  if (!value.includes('.')) return value;
  const trimmed = value.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '' || trimmed === '-' ? '0' : trimmed;
}

const sameDays = (a: DayQuantity[], b: DayQuantity[]) =>
  a.length === b.length && a.every((d, i) => d.date === b[i]!.date && d.quantity === b[i]!.quantity);

async function writeDays(tx: Tx, instanceCode: string, employeeId: string, revision: number, unit: LeaveApproval['unit'], days: DayQuantity[]): Promise<void> {
  if (days.length === 0) return;
  await tx.insert(attendanceDays).values(
    days.map((d) => ({ instanceCode, employeeId, date: d.date, quantity: d.quantity, unit: UNIT_INFO[unit].base, revision, status: 'active' })),
  );
}

export interface Applied {
  effect: Effect;
  outboxKeys: string[];
  ignoredReason: string | null;
}

export function appliedResult(inboxId: number, instanceCode: string, applied: Applied): IngestResult {
  return {
    status: applied.ignoredReason ? 'ignored' : 'applied',
    inboxId,
    instanceCode,
    effect: applied.effect,
    reason: applied.ignoredReason,
    outboxKeys: applied.outboxKeys,
  };
}

/** Apply a canonical event to its leave inside the caller's transaction (ingest and replay). */
export async function applyLeaveEvent(
  tx: Tx,
  deps: Pick<Deps, 'config' | 'clock'>,
  event: LeaveApproval | LeaveRevert,
  days: DayQuantity[] | null,
): Promise<Applied> {
  await lockInstance(tx, event.instanceCode);
  const now = deps.clock.now();
  const [existing] = await tx.select().from(leaves).where(eq(leaves.instanceCode, event.instanceCode)).limit(1);

  if (event.kind === 'revert') {
    if (!existing) {
      if (event.status !== 'REVERTED') {
        // CANCELED / DELETED happen to instances still pending: no leave_approval will follow.
        return { effect: 'unchanged', outboxKeys: [], ignoredReason: `${event.status} of an instance that is not a known leave` };
      }
      // Revert before approval (separate deliveries, retries): remember it so the late approval
      // cannot resurrect the leave.
      await tx.insert(leaves).values({
        instanceCode: event.instanceCode,
        approvalCode: event.approvalCode,
        status: 'reverted',
        revertedAt: event.operateTime ?? now,
        createdAt: now,
        updatedAt: now,
      });
      return { effect: 'revert_remembered', outboxKeys: [], ignoredReason: null };
    }
    if (existing.status === 'reverted') return { effect: 'already_reverted', outboxKeys: [], ignoredReason: null };
    await tx.update(leaves).set({ status: 'reverted', revertedAt: event.operateTime ?? now, updatedAt: now }).where(eq(leaves.instanceCode, event.instanceCode));
    await tx
      .update(attendanceDays)
      .set({ status: 'reverted', updatedAt: now })
      .where(and(eq(attendanceDays.instanceCode, event.instanceCode), eq(attendanceDays.status, 'active')));
    await enqueue(tx, event.instanceCode, 'calendar.delete', { reason: event.via });
    return { effect: 'reverted', outboxKeys: [event.instanceCode], ignoredReason: null };
  }

  const allocation = days ?? allocate(event);
  const detail = {
    approvalCode: event.approvalCode,
    tenantKey: event.tenantKey,
    employeeId: event.employeeId,
    openId: event.openId,
    leaveType: event.leaveType,
    leaveTypeKey: event.leaveTypeKey,
    unit: event.unit,
    intervalSeconds: event.intervalSeconds,
    startLocal: event.startLocal,
    endLocal: event.endLocal,
    segments: event.segments,
    segmentsSource: event.segmentsSource,
    reason: event.reason,
    detailSource: event.variant,
  };
  const flags = {
    hasV1: (existing?.hasV1 ?? false) || event.variant === 'v1',
    hasV2: (existing?.hasV2 ?? false) || event.variant === 'v2',
  };
  const [employee] = await tx
    .insert(employees)
    .values({ employeeId: event.employeeId, openId: event.openId, updatedAt: now })
    .onConflictDoUpdate({ target: employees.employeeId, set: { openId: sql`coalesce(excluded.open_id, ${employees.openId})` } })
    // the employee's own zone (an operator override) in the same round trip
    .returning({ timezone: employees.timezone });

  if (!existing) {
    const timezone = employee?.timezone ?? deps.config.DEFAULT_TIMEZONE;
    await tx.insert(leaves).values({ instanceCode: event.instanceCode, ...detail, ...flags, timezone, status: 'approved', approvedAt: now, revision: 1, createdAt: now, updatedAt: now });
    await writeDays(tx, event.instanceCode, event.employeeId, 1, event.unit, allocation);
    await enqueue(tx, event.instanceCode, 'calendar.upsert');
    return { effect: 'created', outboxKeys: [event.instanceCode], ignoredReason: null };
  }

  const replaces = existing.detailSource === null || DETAIL_RANK[event.variant] >= DETAIL_RANK[existing.detailSource as keyof typeof DETAIL_RANK];
  // A name from either variant is better than none (V1 carries a plain name, V2 an i18n one).
  const leaveType = replaces ? (event.leaveType ?? existing.leaveType) : (existing.leaveType ?? event.leaveType);

  if (existing.status === 'reverted') {
    // The revert came first (or this is a late re-push): keep the detail for reports, but the
    // leave stays reverted: no attendance, no calendar block.
    const timezone = existing.timezone ?? employee?.timezone ?? deps.config.DEFAULT_TIMEZONE;
    await tx
      .update(leaves)
      .set({ ...(replaces ? detail : {}), leaveType, ...flags, timezone, updatedAt: now })
      .where(eq(leaves.instanceCode, event.instanceCode));
    return { effect: existing.detailSource === null ? 'detail_after_revert' : 'already_reverted', outboxKeys: [], ignoredReason: null };
  }

  if (!replaces) {
    await tx.update(leaves).set({ ...flags, leaveType, updatedAt: now }).where(eq(leaves.instanceCode, event.instanceCode));
    return { effect: 'unchanged', outboxKeys: [], ignoredReason: null };
  }

  const current = await activeDays(tx, event.instanceCode);
  const daysChanged = !sameDays(current, allocation) || existing.unit !== event.unit;
  const revision = daysChanged ? existing.revision + 1 : existing.revision;
  if (daysChanged) {
    await tx
      .update(attendanceDays)
      .set({ status: 'superseded', updatedAt: now })
      .where(and(eq(attendanceDays.instanceCode, event.instanceCode), eq(attendanceDays.status, 'active')));
    await writeDays(tx, event.instanceCode, event.employeeId, revision, event.unit, allocation);
  }
  const calendarChanged =
    existing.startLocal !== event.startLocal || existing.endLocal !== event.endLocal || existing.employeeId !== event.employeeId;
  await tx
    .update(leaves)
    .set({ ...detail, leaveType, ...flags, revision, updatedAt: now })
    .where(eq(leaves.instanceCode, event.instanceCode));
  if (calendarChanged) await enqueue(tx, event.instanceCode, 'calendar.upsert');
  const changed = daysChanged || calendarChanged || leaveType !== existing.leaveType;
  return { effect: changed ? 'enriched' : 'unchanged', outboxKeys: calendarChanged ? [event.instanceCode] : [], ignoredReason: null };
}
