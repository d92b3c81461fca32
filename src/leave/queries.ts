import { and, asc, desc, eq, gte, inArray, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import { readConsistently, type Db, type Queryable, type Tx } from '../db/client.js';
import { attendanceDays, calendarBlocks, employees, inboxEvents, leaves, outbox } from '../db/schema.js';
import { canonicalDecimal } from '../shared/decimal.js';

export interface LeaveFilter {
  status?: 'approved' | 'reverted';
  employeeId?: string;
  /** leaves overlapping [from, to] (local dates, inclusive) */
  from?: string;
  to?: string;
  limit?: number;
  /** include leaves known only from a revert that arrived first */
  includeRevertOnly?: boolean;
}

type LeaveRow = typeof leaves.$inferSelect;

/** A day's paid_type (CoreHR's), present only where the source gave one. */
export const paidTypeOf = (d: { paidType: number | null }): { paid_type?: number } => (d.paidType !== null ? { paid_type: d.paidType } : {});

function summary(l: LeaveRow) {
  return {
    instance_code: l.instanceCode,
    source: l.source,
    status: l.status as 'approved' | 'reverted',
    employee_id: l.employeeId,
    open_id: l.openId,
    approval_code: l.approvalCode,
    leave_type: l.leaveType,
    unit: l.unit,
    interval_seconds: l.intervalSeconds,
    start: l.startLocal,
    end: l.endLocal,
    timezone: l.timezone,
    segments: l.segments,
    detail_source: l.detailSource,
    received: { v1: l.hasV1, v2: l.hasV2 },
    approved_at: l.approvedAt,
    reverted_at: l.revertedAt,
    updated_at: l.updatedAt,
  };
}

export async function listLeaves(db: Queryable, f: LeaveFilter) {
  // the leave-only view: other kinds are listed by /api/approvals; a revert of unknown kind may be a leave's
  // pending and rejected requests (tentative holds) are not leaves yet: /api/approvals lists them
  const where: SQL[] = [or(eq(leaves.kind, 'leave'), isNull(leaves.kind))!, inArray(leaves.status, ['approved', 'reverted'])];
  if (f.status) where.push(eq(leaves.status, f.status));
  if (f.employeeId) where.push(eq(leaves.employeeId, f.employeeId));
  if (f.from) where.push(gte(sql`substr(${leaves.endLocal}, 1, 10)`, f.from));
  if (f.to) where.push(lte(sql`substr(${leaves.startLocal}, 1, 10)`, f.to));
  if (!f.includeRevertOnly) where.push(isNotNull(leaves.detailSource));
  const rows = await db
    .select()
    .from(leaves)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(leaves.startLocal), asc(leaves.instanceCode))
    .limit(Math.min(f.limit ?? 200, 1000));
  return rows.map(summary);
}

/** One leave with its attendance days, calendar state, outbox messages and event history. */
export function getLeave(db: Db, instanceCode: string) {
  return readConsistently(db, (tx) => readLeave(tx, instanceCode));
}

async function readLeave(db: Tx, instanceCode: string) {
  const [leave] = await db
    .select()
    .from(leaves)
    .where(and(eq(leaves.instanceCode, instanceCode), or(eq(leaves.kind, 'leave'), isNull(leaves.kind)), inArray(leaves.status, ['approved', 'reverted'])))
    .limit(1);
  if (!leave) return null;
  const [days, blocks, messages, history, employee] = await Promise.all([
    db.select().from(attendanceDays).where(eq(attendanceDays.instanceCode, instanceCode)).orderBy(desc(attendanceDays.revision), asc(attendanceDays.date)),
    db.select().from(calendarBlocks).where(and(eq(calendarBlocks.instanceCode, instanceCode), eq(calendarBlocks.blockKey, ''))).limit(1),
    db.select().from(outbox).where(eq(outbox.key, instanceCode)).orderBy(asc(outbox.id)),
    historyOf(db, instanceCode),
    leave.employeeId
      ? db.select().from(employees).where(eq(employees.employeeId, leave.employeeId)).limit(1)
      : Promise.resolve([]),
  ]);
  const active = days.filter((d) => d.status === 'active');
  const block = blocks[0];
  const pending = messages.filter((m) => m.status === 'pending' || m.status === 'running' || m.status === 'held');
  return {
    ...summary(leave),
    email: employee[0]?.emailOverride ?? employee[0]?.email ?? null,
    // CoreHR's paid_type, on the days of CoreHR records only
    days: active.map((d) => ({ date: d.date, quantity: canonicalDecimal(d.quantity), unit: d.unit, ...paidTypeOf(d) })),
    days_history: days
      .filter((d) => d.status !== 'active')
      .map((d) => ({ date: d.date, quantity: canonicalDecimal(d.quantity), unit: d.unit, ...paidTypeOf(d), revision: d.revision, status: d.status })),
    calendar: {
      state: block ? block.state : 'absent',
      event_id: block?.eventId ?? null,
      calendar_id: block?.calendarId ?? null,
      event_type: block?.eventType ?? null,
      start: block?.startAt ?? null,
      end: block?.endAt ?? null,
      fallback_reason: block?.fallbackReason ?? null,
      synced_at: block?.syncedAt ?? null,
      pending: pending.length > 0,
    },
    outbox: messages.map((m) => ({
      id: m.id,
      kind: m.kind,
      status: m.status,
      attempts: m.attempts,
      run_after: m.runAfter,
      last_error: m.lastError,
      created_at: m.createdAt,
      done_at: m.doneAt,
    })),
    history,
  };
}

/** The inbox events of one record, oldest first: what arrived and what each did. */
export function historyOf(db: Queryable, instanceCode: string) {
  return db
    .select({
      id: inboxEvents.id,
      event_type: inboxEvents.eventType,
      event_key: inboxEvents.eventKey,
      source: inboxEvents.source,
      status: inboxEvents.status,
      effect: inboxEvents.effect,
      reason: inboxEvents.reason,
      received_at: inboxEvents.receivedAt,
    })
    .from(inboxEvents)
    .where(eq(inboxEvents.instanceCode, instanceCode))
    .orderBy(asc(inboxEvents.id));
}

export async function listEvents(db: Queryable, f: { status?: string; limit?: number }) {
  return db
    .select({
      id: inboxEvents.id,
      event_type: inboxEvents.eventType,
      event_key: inboxEvents.eventKey,
      source: inboxEvents.source,
      instance_code: inboxEvents.instanceCode,
      status: inboxEvents.status,
      effect: inboxEvents.effect,
      reason: inboxEvents.reason,
      received_at: inboxEvents.receivedAt,
      payload: inboxEvents.payload,
      history: inboxEvents.history,
    })
    .from(inboxEvents)
    .where(f.status ? eq(inboxEvents.status, f.status) : or(eq(inboxEvents.status, 'quarantined'), eq(inboxEvents.status, 'ignored')))
    .orderBy(desc(inboxEvents.id))
    .limit(Math.min(f.limit ?? 100, 1000));
}
