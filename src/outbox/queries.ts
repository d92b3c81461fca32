import { and, asc, desc, eq, inArray, ne, sql, type SQL } from 'drizzle-orm';
import type { Db, Queryable, Tx } from '../db/client.js';
import { queryRows } from '../db/client.js';
import { leaves, outbox } from '../db/schema.js';
import { enqueue } from './enqueue.js';
import { recordOfOutboxKey, teamCalendarOn, teamOutboxKey } from '../leave/team.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';

/**
 * Row states: pending → running → done | dead | held, plus `superseded` for a row whose work was
 * folded into another row of the same (key, kind) (see requeue below).
 */
export const OUTBOX_STATUSES = ['pending', 'running', 'done', 'dead', 'held', 'superseded'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

/**
 * The same advisory lock ingest takes for an instance_code (src/db/sql/leave_bridge_apply.sql): every
 * transition INTO `pending` happens under it, and so does ingest's enqueue, which is what keeps the
 * partial unique index `outbox_pending_uq` (one pending row per key+kind) from ever firing.
 */
export async function lockKey(tx: Tx, key: string): Promise<void> {
  // a team calendar row ('team:<code>') is enqueued under its record's lock, so it moves under it too
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${recordOfOutboxKey(key)}, 0))`);
}

export interface RequeueTarget {
  id: number;
  key: string;
  kind: string;
}

export interface RequeueResult {
  /** the row that is pending now */
  pendingId: number;
  /** the row folded into it, if two rows of the same key+kind met */
  supersededId: number | null;
}

/**
 * Move a row back to `pending` (durable retry, release of a lease or of a held row, operator
 * retry). The caller holds lockKey(row.key).
 *
 * Collision rule (decided here, once): `outbox_pending_uq` allows one pending row per (key, kind),
 * and a new one may have been enqueued while this row was running, held or dead. Handlers read the
 * leave's CURRENT state, so two such rows would do the same work; the EARLIER row (lower id) stays
 * pending, which keeps the per-key order of rows intact, and the later one becomes `superseded`
 * with `result.superseded_by`. When the earlier row is the other one, it keeps its own schedule.
 */
export async function requeue(
  tx: Tx,
  row: RequeueTarget,
  set: { delayMs: number; attempts?: number | SQL; lastError?: string | null },
): Promise<RequeueResult> {
  const [other] = await tx
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(eq(outbox.key, row.key), eq(outbox.kind, row.kind), eq(outbox.status, 'pending'), ne(outbox.id, row.id)))
    .for('update')
    .limit(1);
  const runAfter = sql`now() + ${set.delayMs}::float8 * interval '1 millisecond'`;
  const fields = {
    leaseUntil: null,
    leasedBy: null,
    updatedAt: sql`now()`,
    ...(set.attempts !== undefined ? { attempts: set.attempts } : {}),
    ...(set.lastError !== undefined ? { lastError: set.lastError } : {}),
  };
  if (other && other.id < row.id) {
    await tx
      .update(outbox)
      .set({ ...fields, status: 'superseded', result: { superseded_by: other.id }, doneAt: sql`now()` })
      .where(eq(outbox.id, row.id));
    return { pendingId: other.id, supersededId: row.id };
  }
  if (other) {
    // Free the unique slot first: both updates are in one transaction under the key lock.
    await tx
      .update(outbox)
      .set({ status: 'superseded', result: { superseded_by: row.id }, leaseUntil: null, leasedBy: null, updatedAt: sql`now()`, doneAt: sql`now()` })
      .where(eq(outbox.id, other.id));
  }
  await tx
    .update(outbox)
    .set({ ...fields, status: 'pending', runAfter })
    .where(eq(outbox.id, row.id));
  return { pendingId: row.id, supersededId: other?.id ?? null };
}

export interface OutboxItem {
  id: number;
  key: string;
  kind: string;
  status: string;
  attempts: number;
  run_after: Date;
  last_error: string | null;
  leased_by: string | null;
  lease_until: Date | null;
  result: unknown;
  created_at: Date;
  updated_at: Date;
  done_at: Date | null;
}

function item(r: typeof outbox.$inferSelect): OutboxItem {
  return {
    id: r.id,
    key: r.key,
    kind: r.kind,
    status: r.status,
    attempts: r.attempts,
    run_after: r.runAfter,
    last_error: r.lastError,
    leased_by: r.leasedBy,
    lease_until: r.leaseUntil,
    result: r.result ?? null,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    done_at: r.doneAt,
  };
}

export async function listOutbox(db: Queryable, f: { status?: OutboxStatus; key?: string; limit?: number } = {}): Promise<OutboxItem[]> {
  const where: SQL[] = [];
  if (f.status) where.push(eq(outbox.status, f.status));
  if (f.key) where.push(eq(outbox.key, f.key));
  const rows = await db
    .select()
    .from(outbox)
    .where(where.length ? and(...where) : undefined)
    // what needs attention first: the oldest of a status; without a filter, the newest rows
    .orderBy(f.status ? asc(outbox.id) : desc(outbox.id))
    .limit(Math.min(f.limit ?? 200, 1000));
  return rows.map(item);
}

export interface RetryResult {
  id: number;
  key: string;
  kind: string;
  status: 'pending' | 'superseded';
  /** when another pending row of the same key+kind existed, the row that now carries the work */
  pending_id: number;
  superseded_id: number | null;
}

/**
 * Operator retry: a dead or held row goes back to pending at once with its attempts reset.
 * 404 for an unknown id, 409 when the row is not dead or held (pending/running ones are already
 * on their way; done ones are done).
 */
export async function retryMessage(deps: Pick<Deps, 'db' | 'onOutboxWritten'>, id: number): Promise<RetryResult> {
  const [head] = await deps.db.select({ key: outbox.key }).from(outbox).where(eq(outbox.id, id)).limit(1);
  if (!head) throw new AppError('outbox_not_found', `no outbox message ${id}`);
  const result = await deps.db.transaction(async (tx) => {
    await lockKey(tx, head.key);
    const [row] = await tx.select().from(outbox).where(eq(outbox.id, id)).for('update').limit(1);
    if (!row) throw new AppError('outbox_not_found', `no outbox message ${id}`);
    if (row.status !== 'dead' && row.status !== 'held') {
      throw new AppError('not_retryable', `outbox message ${id} is ${row.status}; only dead or held messages can be retried`);
    }
    const r = await requeue(tx, row, { delayMs: 0, attempts: 0 });
    return {
      id,
      key: row.key,
      kind: row.kind,
      status: r.pendingId === id ? 'pending' : 'superseded',
      pending_id: r.pendingId,
      superseded_id: r.supersededId,
    } satisfies RetryResult;
  });
  deps.onOutboxWritten?.([result.key]);
  return result;
}

/**
 * Held rows wait for a configuration fix. Release them (attempts untouched: holding never burned
 * any) — all of them (process start, when configuration may have changed) or one employee's
 * (an email override was set). Returns the keys released, for a wake-up.
 */
export async function releaseHeld(db: Db, filter: { employeeId?: string } = {}): Promise<{ count: number; keys: string[] }> {
  const rows = await db
    .select({ id: outbox.id, key: outbox.key, kind: outbox.kind })
    .from(outbox)
    .where(
      and(
        eq(outbox.status, 'held'),
        filter.employeeId !== undefined
          ? inArray(outbox.key, db.select({ k: leaves.instanceCode }).from(leaves).where(eq(leaves.employeeId, filter.employeeId)))
          : undefined,
      ),
    )
    .orderBy(asc(outbox.key), asc(outbox.id));
  if (rows.length === 0) return { count: 0, keys: [] };
  return releaseRows(db, rows);
}

async function releaseRows(db: Db, rows: RequeueTarget[]): Promise<{ count: number; keys: string[] }> {
  const released = new Set<string>();
  let count = 0;
  await db.transaction(async (tx) => {
    // keys in a fixed order: two releasers taking several key locks cannot deadlock each other
    const keys = [...new Set(rows.map((r) => r.key))].sort();
    for (const key of keys) await lockKey(tx, key);
    for (const row of rows) {
      const [still] = await tx.select({ status: outbox.status }).from(outbox).where(eq(outbox.id, row.id)).for('update').limit(1);
      if (still?.status !== 'held') continue;
      await requeue(tx, row, { delayMs: 0 });
      released.add(row.key);
      count++;
    }
  });
  return { count, keys: [...released] };
}

/** Gauges for /metrics: rows per status and the age of the oldest due pending row. */
export async function outboxGauges(db: Queryable): Promise<{ byStatus: Record<string, number>; lagSeconds: number }> {
  const [counts, lag] = await Promise.all([
    queryRows<{ status: string; n: number | string }>(db, sql`select status, count(*)::int as n from outbox group by status`),
    queryRows<{ lag: number | string | null }>(
      db,
      sql`select extract(epoch from (now() - min(run_after)))::float8 as lag from outbox where status = 'pending' and run_after <= now()`,
    ),
  ]);
  const byStatus: Record<string, number> = Object.fromEntries(OUTBOX_STATUSES.map((s) => [s, 0]));
  for (const c of counts) byStatus[c.status] = Number(c.n);
  const l = lag[0]?.lag;
  return { byStatus, lagSeconds: l === null || l === undefined ? 0 : Math.max(0, Number(l)) };
}

export function registerOutboxMetrics(deps: Pick<Deps, 'db' | 'metrics'>): void {
  deps.metrics.collect('leave_bridge_outbox_messages', 'Outbox rows by status', async () => {
    const g = await outboxGauges(deps.db);
    return Object.entries(g.byStatus).map(([status, value]) => ({ labels: { status }, value }));
  });
  deps.metrics.collect('leave_bridge_outbox_lag_seconds', 'Age of the oldest due pending outbox row (0 when none is due)', async () => {
    const g = await outboxGauges(deps.db);
    return [{ labels: {}, value: g.lagSeconds }];
  });
}

export interface SyncRequest {
  instance_code: string;
  /** false when a pending sync of the leave was already waiting (it does the same work) */
  queued: boolean;
}

/**
 * Operator sync: bring Google to an approval's current state again (a block someone changed or
 * deleted by hand, a record that fell behind). A calendar upsert reads the leave when it runs, so
 * it writes the block of an approved leave and removes the block of a reverted one. Re-delivering
 * an event cannot do this: it is a duplicate, and an unchanged approval queues nothing.
 */
export async function requestSync(deps: Pick<Deps, 'db' | 'onOutboxWritten'> & { config?: Deps['config'] }, instanceCode: string): Promise<SyncRequest | null> {
  const [record] = await deps.db.select({ code: leaves.instanceCode }).from(leaves).where(eq(leaves.instanceCode, instanceCode)).limit(1);
  if (!record) return null;
  const team = deps.config !== undefined && teamCalendarOn(deps.config);
  const queued = await deps.db.transaction(async (tx) => {
    await lockKey(tx, instanceCode);
    // the team calendar's event too, when there is one
    if (team) await enqueue(tx, teamOutboxKey(instanceCode), 'team_calendar.sync', { reason: 'operator sync' });
    return enqueue(tx, instanceCode, 'calendar.upsert', { reason: 'operator sync' });
  });
  deps.onOutboxWritten?.(team ? [instanceCode, teamOutboxKey(instanceCode)] : [instanceCode]);
  return { instance_code: instanceCode, queued };
}
