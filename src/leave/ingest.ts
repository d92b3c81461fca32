import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client.js';
import { createGroupCommit, type GroupCommit } from '../db/group-commit.js';
import type { Deps } from '../deps.js';
import { DatabaseUnavailableError, isConnectionError } from '../errors.js';
import { normaliseEvent, UnusableEventError } from '../feishu/events.js';
import { setOwn } from '../feishu/strings.js';
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
 * Postgres text and jsonb cannot hold U+0000 (22P05 / 22021), and Feishu JSON may legally carry
 * "\u0000" in any string. An authentic event must still be stored, so NUL becomes U+FFFD (the
 * replacement character) in every string and key before anything reaches the database.
 */
export function storable<T>(value: T): T {
  // almost nothing carries a NUL: look before copying (this runs on every event's payload)
  return hasNul(value) ? replaceNul(value) : value;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    for (const k in value) if (k.includes('\u0000') || hasNul((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

function replaceNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map(replaceNul) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, replaceNul(k), replaceNul(v));
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

export type Planned =
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
 * One statement, one transaction: inbox row (dedupe) + leave + attendance days + outbox rows.
 * Returns after commit; only then may the caller ack Feishu.
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

/** One delivery as leave_bridge_ingest(_batch) takes it. */
export interface IngestCall {
  inbox: Record<string, unknown>;
  ev: LeaveEvent | null;
  days: DayQuantity[] | null;
  baseUnit: string | null;
  now: string;
  defaultTz: string;
}

/**
 * One ingest statement at a time per database while it is quick: deliveries that arrive while it
 * runs queue and go together in the next, as soon as it commits. A second statement starts only
 * beside one that has run for GROUP_COMMIT_OVERLAP_AFTER_MS (a lock wait, a slow disk), up to
 * GROUP_COMMIT_IN_FLIGHT. Measured on two cores at 16 and 64 concurrent deliveries (README, Benchmarks):
 * four overlapping statements made 22-32% fewer events/s than one at a time, each event costing
 * more CPU in Postgres and in the service; the batches were smaller, WAL was flushed twice as
 * often, and overlapping statements only competed for the same cores. The pool (16) keeps
 * connections free for the drainer, the admin API and the reports.
 */
const GROUP_COMMIT_IN_FLIGHT = 4;
const GROUP_COMMIT_OVERLAP_AFTER_MS = 50;
const GROUP_COMMIT_MAX_BATCH = 32;

const groupCommits = new WeakMap<object, GroupCommit<IngestCall, IngestRow>>();

function groupCommit(deps: IngestDeps): GroupCommit<IngestCall, IngestRow> {
  let gc = groupCommits.get(deps.db);
  if (gc) return gc;
  const db = deps.db;
  const logger = deps.logger;
  gc = createGroupCommit<IngestCall, IngestRow>({
    maxInFlight: GROUP_COMMIT_IN_FLIGHT,
    maxBatch: GROUP_COMMIT_MAX_BATCH,
    overlapAfterMs: GROUP_COMMIT_OVERLAP_AFTER_MS,
    // The lock each delivery takes first (drizzle/0002_ingest_group_commit.sql): Feishu sends a
    // leave's V1 and V2 events in the same moment, and the second would otherwise wait in a
    // statement of its own for the first's commit, holding up everything batched with it.
    keyOf: (c) => (typeof c.inbox.instanceCode === 'string' ? `leave:${c.inbox.instanceCode}` : `delivery:${String(c.inbox.eventType)}:${String(c.inbox.eventKey)}`),
    runOne: async (c) => {
      const [row] = await queryRows<{ r: IngestRow }>(
        db,
        sql`select leave_bridge_ingest(${JSON.stringify(c.inbox)}::jsonb, ${c.ev ? JSON.stringify(c.ev) : null}::jsonb,
          ${c.days ? JSON.stringify(c.days) : null}::jsonb, ${c.baseUnit}::text, ${c.now}::timestamptz, ${c.defaultTz}::text) as r`,
      );
      return row!.r;
    },
    runBatch: async (calls) => {
      const [row] = await queryRows<{ r: Record<string, IngestRow> }>(
        db,
        sql`select leave_bridge_ingest_batch(${JSON.stringify(calls)}::jsonb) as r`,
      );
      return calls.map((_, i) => row!.r[String(i + 1)]!);
    },
    onBatchFailed: (err, size) => logger.warn('ingest: a batch failed; retrying its deliveries one by one', { size, err }),
  });
  groupCommits.set(db, gc);
  return gc;
}

/** The leave a planned delivery belongs to, if any (an unusable one may still name it). */
const instanceCodeOf = (planned: Planned): string | null =>
  planned.status === 'applied' ? planned.event.instanceCode : planned.instanceCode;

/**
 * One delivery as leave_bridge_ingest(_batch) takes it: its inbox row and, when it applies, the
 * canonical event with its days. (Exported for the benchmarks and the batch equivalence test,
 * which call the SQL functions directly.)
 */
export function ingestCall(
  incoming: Omit<IncomingEvent, 'event' | 'problem'>,
  planned: Planned,
  now: Date,
  defaultTz: string,
): IngestCall {
  const applied = planned.status === 'applied';
  return {
    inbox: {
      eventKey: storable(incoming.eventKey),
      eventType: storable(incoming.eventType),
      source: incoming.source,
      instanceCode: instanceCodeOf(planned),
      status: planned.status,
      reason: applied ? null : storable(planned.reason),
      payload: storable(redactToken(incoming.payload)) ?? {},
    },
    ev: applied ? planned.event : null,
    days: applied ? (planned.days ?? []) : null,
    baseUnit: applied && planned.event.kind === 'approve' ? UNIT_INFO[planned.event.unit].base : null,
    now: now.toISOString(),
    defaultTz,
  };
}

async function ingestPlanned(
  deps: IngestDeps,
  incoming: Omit<IncomingEvent, 'event' | 'problem'>,
  planned: Planned,
): Promise<IngestResult> {
  const instanceCode = instanceCodeOf(planned);
  // One autocommit statement (drizzle/0002_ingest_group_commit.sql): inbox dedupe, leave,
  // attendance and outbox commit together or not at all, in one round trip; under load, together
  // with other deliveries (group commit, src/db/group-commit.ts).
  const committed = await withDatabase(() =>
    groupCommit(deps).submit(ingestCall(incoming, planned, deps.clock.now(), deps.config.DEFAULT_TIMEZONE)),
  );
  const r = committed.value;
  if (committed.batchSize > 1) {
    deps.metrics.inc('leave_bridge_ingest_batched_total', 'Deliveries committed together with others (group commit)', { source: incoming.source });
  }
  if (committed.retriedAlone) {
    deps.metrics.inc('leave_bridge_ingest_batch_retries_total', 'Deliveries run again alone because their batch failed', { source: incoming.source });
  }
  const result: IngestResult =
    r.status === 'duplicate'
      ? { status: 'duplicate', inboxId: null, instanceCode: null, effect: null, reason: null, outboxKeys: [] }
      : {
          status: r.status,
          inboxId: Number(r.inbox_id),
          instanceCode,
          effect: r.effect ?? null,
          reason: r.reason ?? null,
          outboxKeys: r.outbox && instanceCode ? [instanceCode] : [],
        };
  deps.metrics.inc('leave_bridge_events_total', 'Feishu events by outcome', { source: incoming.source, status: result.status });
  if (result.outboxKeys.length > 0) deps.onOutboxWritten?.(result.outboxKeys);
  return result;
}

/** What leave_bridge_ingest / leave_bridge_apply return (jsonb). */
interface IngestRow {
  status: IngestResult['status'];
  inbox_id?: number | string;
  effect?: Effect;
  reason?: string | null;
  outbox?: boolean;
  ignored_reason?: string | null;
}

/** "0.500000" (numeric from the database) → "0.5" */
export function canonicalDecimal(value: string): string {
  if (!value.includes('.')) return value;
  const trimmed = value.replace(/0+$/, '').replace(/\.$/, '');
  return trimmed === '' || trimmed === '-' ? '0' : trimmed;
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

/**
 * Apply a canonical event to its leave inside the caller's transaction (replay; ingest does the
 * same inside leave_bridge_ingest). The rules live in leave_bridge_apply
 * (drizzle/0001_ingest_functions.sql, as replaced by 0002_ingest_group_commit.sql):
 * - everything touching one instance_code is serialised by an advisory lock on it;
 * - a revert marks the leave and its active days reverted and enqueues calendar.delete; a revert
 *   of an unknown instance is remembered (REVERTED) so a late approval cannot resurrect it, or
 *   ignored (CANCELED / DELETED of a still-pending instance);
 * - the first approval creates the leave (revision 1), its days and a calendar.upsert; the
 *   employee's zone (an operator override) or DEFAULT_TIMEZONE is fixed on the leave;
 * - later detail replaces the stored one only if it ranks at least as high (v2 > v1 > backfill:
 *   V2 is the richest, with segments and i18n names; backfill's instance form only knows DAY/HOUR
 *   and a float interval, so it fills in a leave no event described but never rewrites what an
 *   event said);
 *   changed days supersede the active revision with a new one (nothing is deleted), a changed
 *   start, end or employee enqueues calendar.upsert; a leave already reverted keeps the detail for
 *   reports but gets no days and no calendar work.
 */
export async function applyLeaveEvent(
  tx: Tx,
  deps: Pick<Deps, 'config' | 'clock'>,
  event: LeaveApproval | LeaveRevert,
  days: DayQuantity[] | null,
): Promise<Applied> {
  const allocation = event.kind === 'approve' ? (days ?? allocate(event)) : [];
  const [row] = await queryRows<{ r: IngestRow }>(
    tx,
    sql`select leave_bridge_apply(${JSON.stringify(event)}::jsonb, ${JSON.stringify(allocation)}::jsonb,
      ${event.kind === 'approve' ? UNIT_INFO[event.unit].base : null}::text, ${deps.clock.now().toISOString()}::timestamptz,
      ${deps.config.DEFAULT_TIMEZONE}::text) as r`,
  );
  const r = row!.r;
  return { effect: r.effect!, outboxKeys: r.outbox ? [event.instanceCode] : [], ignoredReason: r.ignored_reason ?? null };
}
