import { and, asc, eq, gte, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { attendanceDays, calendarBlocks, employees, inboxEvents, leaves, outbox } from '../../db/schema.js';
import { addDays } from '../../shared/dates.js';
import type { Period } from '../period.js';

export type LeaveRow = typeof leaves.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type BlockRow = typeof calendarBlocks.$inferSelect;

/**
 * The key of one block of a record in the maps below: the instance code alone for a record's
 * single block (every leave's), the code and the block key for a trip's blocks.
 */
export const blockId = (instanceCode: string, blockKey: string): string => (blockKey === '' ? instanceCode : `${instanceCode}\u0000${blockKey}`);
type EmployeeRow = typeof employees.$inferSelect;

/** The last local date a leave touches: an end at 00:00:00 closes the day before. */
function lastDate(l: Pick<LeaveRow, 'startLocal' | 'endLocal'>): string {
  const start = l.startLocal!.slice(0, 10);
  const end = l.endLocal!.slice(0, 10);
  const last = l.endLocal!.slice(11) === '00:00:00' ? addDays(end, -1) : end;
  return last < start ? start : last;
}

/** Leaves whose local dates overlap the period (revert-only stubs have no dates and are left out). */
export async function leavesInPeriod(db: Queryable, period: Period): Promise<LeaveRow[]> {
  const rows = await db
    .select()
    .from(leaves)
    .where(
      and(
        isNotNull(leaves.detailSource),
        isNotNull(leaves.startLocal),
        isNotNull(leaves.endLocal),
        lte(sql`substr(${leaves.startLocal}, 1, 10)`, period.to),
        gte(sql`substr(${leaves.endLocal}, 1, 10)`, period.from),
      ),
    )
    .orderBy(asc(leaves.startLocal), asc(leaves.instanceCode));
  return rows.filter((l) => lastDate(l) >= period.from);
}

/** What the report judges, read once: the period's leaves and everything recorded about them. */
export interface Facts {
  scope: LeaveRow[];
  messagesByKey: Map<string, OutboxRow[]>;
  /** by blockId: a record's single block under its instance code, a trip's under code and key */
  blockByCode: Map<string, BlockRow>;
  sumsByCode: Map<string, Array<{ instanceCode: string; unit: string; total: string }>>;
  employeeById: Map<string, EmployeeRow>;
  /** the address the calendar uses: the override, else the one from Feishu */
  emailOf: (employeeId: string | null) => string | null;
  quarantined: Array<{ id: number; eventType: string; instanceCode: string | null; reason: string | null; receivedAt: Date }>;
}

export async function loadFacts(db: Queryable, period: Period): Promise<Facts> {
  const scope = await leavesInPeriod(db, period);
  const codes = scope.map((l) => l.instanceCode);
  // a trip's peers have blocks on their own calendars
  const employeeIds = [...new Set(scope.flatMap((l) => [l.employeeId, ...(l.peers ?? [])]).filter((e): e is string => e !== null))];

  const [messages, blocks, sums, people, quarantined] = await Promise.all([
    codes.length ? db.select().from(outbox).where(inArray(outbox.key, codes)).orderBy(asc(outbox.id)) : Promise.resolve([] as OutboxRow[]),
    codes.length ? db.select().from(calendarBlocks).where(inArray(calendarBlocks.instanceCode, codes)) : Promise.resolve([] as BlockRow[]),
    codes.length
      ? db
          .select({
            instanceCode: attendanceDays.instanceCode,
            unit: attendanceDays.unit,
            total: sql<string>`sum(${attendanceDays.quantity})::text`,
          })
          .from(attendanceDays)
          .where(and(inArray(attendanceDays.instanceCode, codes), eq(attendanceDays.status, 'active')))
          .groupBy(attendanceDays.instanceCode, attendanceDays.unit)
      : Promise.resolve([]),
    employeeIds.length ? db.select().from(employees).where(inArray(employees.employeeId, employeeIds)) : Promise.resolve([]),
    db
      .select({
        id: inboxEvents.id,
        eventType: inboxEvents.eventType,
        instanceCode: inboxEvents.instanceCode,
        reason: inboxEvents.reason,
        receivedAt: inboxEvents.receivedAt,
      })
      .from(inboxEvents)
      .where(eq(inboxEvents.status, 'quarantined'))
      .orderBy(asc(inboxEvents.id)),
  ]);

  const messagesByKey = groupBy(messages, (m) => m.key);
  const blockByCode = new Map(blocks.map((b) => [blockId(b.instanceCode, b.blockKey), b]));
  const sumsByCode = groupBy(sums, (s) => s.instanceCode);
  const employeeById = new Map(people.map((p) => [p.employeeId, p]));
  const emailOf = (employeeId: string | null) => {
    const e = employeeId ? employeeById.get(employeeId) : undefined;
    return e?.emailOverride ?? e?.email ?? null;
  };
  return { scope, messagesByKey, blockByCode, sumsByCode, employeeById, emailOf, quarantined };
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
