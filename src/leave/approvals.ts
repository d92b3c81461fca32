import { and, asc, desc, eq, gte, inArray, isNotNull, lte, sql, type SQL } from 'drizzle-orm';
import { readConsistently, type Db, type Queryable, type Tx } from '../db/client.js';
import { approvalTasks, attendanceDays, calendarBlocks, leaves, outbox } from '../db/schema.js';
import { historyOf, paidTypeOf } from './queries.js';
import { canonicalDecimal } from '../shared/decimal.js';
import { TASK_STATUSES, type ApprovalKind } from './types.js';

/** What an approval record's status means to a reader (a leave is approved or reverted). */
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'reverted';

export interface ApprovalFilter {
  kind?: ApprovalKind;
  status?: ApprovalStatus;
  employeeId?: string;
  /** records overlapping [from, to] (local dates, inclusive) */
  from?: string;
  to?: string;
  limit?: number;
}

type Row = typeof leaves.$inferSelect;

function summary(l: Row) {
  return {
    instance_code: l.instanceCode,
    kind: l.kind,
    source: l.source,
    status: l.status as ApprovalStatus,
    employee_id: l.employeeId,
    open_id: l.openId,
    approval_code: l.approvalCode,
    type_name: l.leaveType,
    unit: l.unit,
    interval_seconds: l.intervalSeconds,
    start: l.startLocal,
    end: l.endLocal,
    timezone: l.timezone,
    segments: l.segments,
    segment_seconds: l.segmentSeconds,
    peers: l.peers ?? [],
    extra: l.extra,
    reason: l.reason,
    detail_source: l.detailSource,
    approved_at: l.approvedAt,
    reverted_at: l.revertedAt,
    updated_at: l.updatedAt,
  };
}

/** Every kind; records known only from a revert of unknown kind are left out (no detail to list). */
export async function listApprovals(db: Queryable, f: ApprovalFilter) {
  const where: SQL[] = [isNotNull(leaves.detailSource)];
  if (f.kind) where.push(eq(leaves.kind, f.kind));
  if (f.status) where.push(eq(leaves.status, f.status));
  if (f.employeeId) where.push(eq(leaves.employeeId, f.employeeId));
  // a record without times (a remedy) counts by when it was last changed
  if (f.from) where.push(gte(sqlDate('end'), f.from));
  if (f.to) where.push(lte(sqlDate('start'), f.to));
  const rows = await db
    .select()
    .from(leaves)
    .where(and(...where))
    .orderBy(desc(leaves.startLocal), asc(leaves.instanceCode))
    .limit(Math.min(f.limit ?? 200, 1000));
  return rows.map(summary);
}

const sqlDate = (edge: 'start' | 'end') =>
  edge === 'start'
    ? sql`coalesce(substr(${leaves.startLocal}, 1, 10), to_char(${leaves.updatedAt} at time zone 'UTC', 'YYYY-MM-DD'))`
    : sql`coalesce(substr(${leaves.endLocal}, 1, 10), to_char(${leaves.updatedAt} at time zone 'UTC', 'YYYY-MM-DD'))`;

/**
 * At one instant, a decision comes before the tasks it opens: an approver's APPROVED (or
 * TRANSFERRED, ROLLBACK…) and the next approver's PENDING carry the same operate_time.
 */
const STATUS_RANK = new Map<string, number>([...TASK_STATUSES.filter((s) => s !== 'PENDING'), 'PENDING'].map((s, i) => [s, i]));

/**
 * An approval's path through its approvers, in one order whatever order its events arrived in:
 * by operate time, then decisions before the tasks they open, then by task id.
 */
export function timeline<T extends { taskId: string; status: string; operateTime: Date | null }>(tasks: T[]): T[] {
  const rank = (s: string) => STATUS_RANK.get(s) ?? TASK_STATUSES.length;
  return [...tasks].sort(
    (a, b) =>
      (a.operateTime?.getTime() ?? 0) - (b.operateTime?.getTime() ?? 0) ||
      rank(a.status) - rank(b.status) ||
      (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0) ||
      (a.status < b.status ? -1 : a.status > b.status ? 1 : 0),
  );
}

export async function approvalTimeline(db: Queryable, instanceCodes: string[]) {
  if (instanceCodes.length === 0) return [];
  return timeline(await db.select().from(approvalTasks).where(inArray(approvalTasks.instanceCode, instanceCodes)));
}

/** One record of any kind with its days, calendar blocks, approval timeline, outbox and event history. */
export function getApproval(db: Db, instanceCode: string) {
  return readConsistently(db, (tx) => readApproval(tx, instanceCode));
}

async function readApproval(db: Tx, instanceCode: string) {
  const [record] = await db.select().from(leaves).where(eq(leaves.instanceCode, instanceCode)).limit(1);
  if (!record) return null;
  const [days, blocks, tasks, messages, history] = await Promise.all([
    db.select().from(attendanceDays).where(eq(attendanceDays.instanceCode, instanceCode)).orderBy(desc(attendanceDays.revision), asc(attendanceDays.employeeId), asc(attendanceDays.date)),
    db.select().from(calendarBlocks).where(eq(calendarBlocks.instanceCode, instanceCode)).orderBy(asc(calendarBlocks.blockKey)),
    approvalTimeline(db, [instanceCode]),
    db.select().from(outbox).where(eq(outbox.key, instanceCode)).orderBy(asc(outbox.id)),
    historyOf(db, instanceCode),
  ]);
  const pending = messages.some((m) => m.status === 'pending' || m.status === 'running' || m.status === 'held');
  const day = (d: (typeof days)[number]) => ({
    employee_id: d.employeeId,
    date: d.date,
    quantity: canonicalDecimal(d.quantity),
    unit: d.unit,
    ...paidTypeOf(d),
  });
  return {
    ...summary(record),
    days: days.filter((d) => d.status === 'active').map(day),
    days_history: days.filter((d) => d.status !== 'active').map((d) => ({ ...day(d), revision: d.revision, status: d.status })),
    calendar: {
      blocks: blocks.map((b) => ({
        block_key: b.blockKey,
        employee_id: b.employeeId ?? (b.blockKey === '' ? record.employeeId : null),
        state: b.state,
        calendar_id: b.calendarId,
        event_id: b.eventId,
        event_type: b.eventType,
        start: b.startAt,
        end: b.endAt,
        fallback_reason: b.fallbackReason,
        synced_at: b.syncedAt,
      })),
      pending,
    },
    tasks: tasks.map((t) => ({
      task_id: t.taskId,
      user_id: t.userId,
      open_id: t.openId,
      status: t.status,
      operate_time: t.operateTime,
      extra: t.extra,
    })),
    outbox: messages.map((m) => ({ id: m.id, kind: m.kind, status: m.status, attempts: m.attempts, last_error: m.lastError, created_at: m.createdAt, done_at: m.doneAt })),
    history,
  };
}
