import { and, asc, eq, gt, gte, isNotNull, lte, sql, type AnyColumn } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Queryable } from '../../db/client.js';
import { attendanceDays, calendarBlocks, employees, inboxEvents, leaves, outbox } from '../../db/schema.js';
import type { Period } from '../period.js';

/**
 * What the report reads of a leave: the columns its checks use, not the whole row (the reason,
 * the form's extra fields), which would be most of what a page of leaves weighs.
 */
const SCOPE_COLUMNS = {
  instanceCode: leaves.instanceCode,
  kind: leaves.kind,
  employeeId: leaves.employeeId,
  leaveType: leaves.leaveType,
  leaveTypeKey: leaves.leaveTypeKey,
  unit: leaves.unit,
  intervalSeconds: leaves.intervalSeconds,
  startLocal: leaves.startLocal,
  endLocal: leaves.endLocal,
  segments: leaves.segments,
  peers: leaves.peers,
  status: leaves.status,
  detailSource: leaves.detailSource,
  source: leaves.source,
  hasV1: leaves.hasV1,
  hasV2: leaves.hasV2,
  revertedAt: leaves.revertedAt,
  createdAt: leaves.createdAt,
};
export type LeaveRow = Pick<typeof leaves.$inferSelect, keyof typeof SCOPE_COLUMNS>;
/** What the report reads of an outbox message (not its payload). */
const MESSAGE_COLUMNS = {
  id: outbox.id,
  key: outbox.key,
  kind: outbox.kind,
  status: outbox.status,
  attempts: outbox.attempts,
  lastError: outbox.lastError,
  runAfter: outbox.runAfter,
  createdAt: outbox.createdAt,
  updatedAt: outbox.updatedAt,
};
export type OutboxRow = Pick<typeof outbox.$inferSelect, keyof typeof MESSAGE_COLUMNS>;
export type BlockRow = typeof calendarBlocks.$inferSelect;

/**
 * The key of one block of a record in the maps below: the instance code alone for a record's
 * single block (every leave's), the code and the block key for a trip's blocks.
 */
export const blockId = (instanceCode: string, blockKey: string): string => (blockKey === '' ? instanceCode : `${instanceCode}\u0000${blockKey}`);
export type EmployeeRow = typeof employees.$inferSelect;

/**
 * Leaves (of `t`, the table or an alias of it) whose local dates overlap the period (revert-only
 * stubs have no dates and are left out). The last local date a leave touches: an end at 00:00:00
 * closes the day before.
 */
const inPeriod = (period: Period, t: Record<'detailSource' | 'startLocal' | 'endLocal', AnyColumn> = leaves) =>
  and(
    isNotNull(t.detailSource),
    isNotNull(t.startLocal),
    isNotNull(t.endLocal),
    lte(sql`substr(${t.startLocal}, 1, 10)`, period.to),
    gte(sql`substr(${t.endLocal}, 1, 10)`, period.from),
    sql`greatest(substr(${t.startLocal}, 1, 10)::date,
                 case when substr(${t.endLocal}, 12) = '00:00:00' then substr(${t.endLocal}, 1, 10)::date - 1
                      else substr(${t.endLocal}, 1, 10)::date end) >= ${period.from}::date`,
  );

/**
 * One page of the period's leaves, in instance code order, after `after`. The primary key's order:
 * each page is an index range scan that stops at `limit` leaves of the period, so the pages of a
 * report read the table once between them (no sort, no leaves table held anywhere).
 */
export async function leavesInPeriodPage(db: Queryable, period: Period, after: string | null, limit: number): Promise<LeaveRow[]> {
  return db
    .select(SCOPE_COLUMNS)
    .from(leaves)
    .where(and(inPeriod(period), after === null ? undefined : gt(leaves.instanceCode, after)))
    .orderBy(asc(leaves.instanceCode))
    .limit(limit);
}

/** How many of the period's leaves are approved and reverted. */
export async function countLeavesInPeriod(db: Queryable, period: Period): Promise<{ approved: number; reverted: number }> {
  const rows = await db
    .select({ status: leaves.status, n: sql<number>`count(*)::int` })
    .from(leaves)
    .where(inPeriod(period))
    .groupBy(leaves.status);
  const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
  return { approved: of('approved'), reverted: of('reverted') };
}

/** An approved leave of the Approval app and one of Feishu People (CoreHR), of one person, whose times overlap. */
export interface SourcePair {
  employeeId: string;
  corehrCode: string;
  corehrType: string | null;
  corehrStart: string;
  corehrEnd: string;
  approvalCode: string;
  approvalType: string | null;
  approvalStart: string;
  approvalEnd: string;
}

/**
 * One page of the period's pairs of the same time off from both sources, in (CoreHR code, approval
 * code) order after `after`. Found by the database: the two records of a person may be anywhere
 * among the period's leaves, and holding every leave to pair them would grow with the period.
 * Wall-clock times of one format compare as strings (byte order, as the report compares them);
 * touching ends do not overlap.
 */
export async function sourcePairsPage(db: Queryable, period: Period, after: { corehrCode: string; approvalCode: string } | null, limit: number): Promise<SourcePair[]> {
  const c = alias(leaves, 'c');
  const a = alias(leaves, 'a');
  const C = (column: AnyColumn) => sql`${column} collate "C"`;
  return db
    .select({
      employeeId: sql<string>`${c.employeeId}`,
      corehrCode: c.instanceCode,
      corehrType: c.leaveType,
      corehrStart: sql<string>`${c.startLocal}`,
      corehrEnd: sql<string>`${c.endLocal}`,
      approvalCode: a.instanceCode,
      approvalType: a.leaveType,
      approvalStart: sql<string>`${a.startLocal}`,
      approvalEnd: sql<string>`${a.endLocal}`,
    })
    .from(c)
    .innerJoin(a, and(eq(a.employeeId, c.employeeId), sql`${a.source} <> 'corehr'`, sql`${C(a.startLocal)} < ${C(c.endLocal)}`, sql`${C(c.startLocal)} < ${C(a.endLocal)}`))
    .where(
      and(
        eq(c.source, 'corehr'),
        eq(c.status, 'approved'),
        eq(a.status, 'approved'),
        sql`coalesce(${c.kind}, 'leave') = 'leave'`,
        sql`coalesce(${a.kind}, 'leave') = 'leave'`,
        inPeriod(period, c),
        inPeriod(period, a),
        after === null
          ? undefined
          : sql`(${C(c.instanceCode)} > ${after.corehrCode} or (${c.instanceCode} = ${after.corehrCode} and ${C(a.instanceCode)} > ${after.approvalCode}))`,
      ),
    )
    .orderBy(C(c.instanceCode), C(a.instanceCode))
    .limit(limit);
}

/** What the report judges about some of the period's leaves: the leaves and everything recorded about them. */
export interface Facts {
  scope: LeaveRow[];
  messagesByKey: Map<string, OutboxRow[]>;
  /** by blockId: a record's single block under its instance code, a trip's under code and key */
  blockByCode: Map<string, BlockRow>;
  sumsByCode: Map<string, Array<{ instanceCode: string; unit: string; total: string }>>;
  employeeById: Map<string, EmployeeRow>;
  /** the address the calendar uses: the override, else the one from Feishu */
  emailOf: (employeeId: string | null) => string | null;
}

export interface QuarantinedRow {
  id: number;
  eventType: string;
  instanceCode: string | null;
  reason: string | null;
  receivedAt: Date;
}

/** Quarantined events, whatever their date, a page at a time in id order. */
export async function quarantinedPage(db: Queryable, afterId: number, limit: number): Promise<QuarantinedRow[]> {
  return db
    .select({
      id: inboxEvents.id,
      eventType: inboxEvents.eventType,
      instanceCode: inboxEvents.instanceCode,
      reason: inboxEvents.reason,
      receivedAt: inboxEvents.receivedAt,
    })
    .from(inboxEvents)
    .where(and(eq(inboxEvents.status, 'quarantined'), gt(inboxEvents.id, afterId)))
    .orderBy(asc(inboxEvents.id))
    .limit(limit);
}

/**
 * `column` is one of `values`, as one parameter (a JSON array) rather than one parameter per
 * value: a page of a thousand codes is one short statement, whatever the client (postgres.js,
 * PGlite, Hyperdrive) does with arrays.
 */
const oneOf = (column: AnyColumn, values: string[]) => sql`${column} in (select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;

/** Everything recorded about these leaves (a page of the period's), read at once. */
export async function loadFacts(db: Queryable, scope: LeaveRow[]): Promise<Facts> {
  const codes = scope.map((l) => l.instanceCode);
  // a trip's peers have blocks on their own calendars
  const employeeIds = [...new Set(scope.flatMap((l) => [l.employeeId, ...(l.peers ?? [])]).filter((e): e is string => e !== null))];

  const [messages, blocks, sums, people] = await Promise.all([
    codes.length ? db.select(MESSAGE_COLUMNS).from(outbox).where(oneOf(outbox.key, codes)).orderBy(asc(outbox.id)) : Promise.resolve([] as OutboxRow[]),
    codes.length ? db.select().from(calendarBlocks).where(oneOf(calendarBlocks.instanceCode, codes)) : Promise.resolve([] as BlockRow[]),
    codes.length
      ? db
          .select({
            instanceCode: attendanceDays.instanceCode,
            unit: attendanceDays.unit,
            total: sql<string>`sum(${attendanceDays.quantity})::text`,
          })
          .from(attendanceDays)
          .where(and(oneOf(attendanceDays.instanceCode, codes), eq(attendanceDays.status, 'active')))
          .groupBy(attendanceDays.instanceCode, attendanceDays.unit)
      : Promise.resolve([]),
    employeeIds.length ? db.select().from(employees).where(oneOf(employees.employeeId, employeeIds)) : Promise.resolve([]),
  ]);

  const messagesByKey = groupBy(messages, (m) => m.key);
  const blockByCode = new Map(blocks.map((b) => [blockId(b.instanceCode, b.blockKey), b]));
  const sumsByCode = groupBy(sums, (s) => s.instanceCode);
  const employeeById = new Map(people.map((p) => [p.employeeId, p]));
  const emailOf = (employeeId: string | null) => {
    const e = employeeId ? employeeById.get(employeeId) : undefined;
    return e?.emailOverride ?? e?.email ?? null;
  };
  return { scope, messagesByKey, blockByCode, sumsByCode, employeeById, emailOf };
}

/** The facts of several pages as one (verify=google judges the period's calendars as a whole). */
export function mergeFacts(parts: Facts[]): Facts {
  const employeeById = new Map(parts.flatMap((p) => [...p.employeeById]));
  return {
    scope: parts.flatMap((p) => p.scope),
    messagesByKey: new Map(parts.flatMap((p) => [...p.messagesByKey])),
    blockByCode: new Map(parts.flatMap((p) => [...p.blockByCode])),
    sumsByCode: new Map(parts.flatMap((p) => [...p.sumsByCode])),
    employeeById,
    emailOf: (employeeId) => {
      const e = employeeId ? employeeById.get(employeeId) : undefined;
      return e?.emailOverride ?? e?.email ?? null;
    },
  };
}

export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}
