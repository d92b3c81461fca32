/** Recording a payroll export: its lines and their adjustments against the baseline, written by the database in one transaction. */
import { and, desc, eq, gte, lte, sql } from 'drizzle-orm';
import { queryRows, type Queryable } from '../db/client.js';
import { payrollExports } from '../db/schema.js';
import type { Clock } from '../deps.js';
import type { ApprovalKind } from '../leave/types.js';
import { datesOf, type Period } from './period.js';
import { payrollCodeColumn, type OptionalColumn } from '../policies/payroll-code.js';
import { DEFAULT_KINDS, type AdjustmentsMode, type BaselineExport, type PayrollFormat, type RecordedExport } from './payroll-types.js';

// ---------------------------------------------------------------------------------------------
// Lines

/**
 * The order of an export's lines, and of its adjustments: date, employee, approval, unit, each
 * compared byte by byte (`collate "C"`), whatever the database's or PGlite's collation, which
 * would order mixed-case ids differently from one installation to the next.
 */
const EXPORT_ORDER = (t: string) =>
  sql.raw(`${t}.date, ${t}.employee_id collate "C", ${t}.instance_code collate "C", ${t}.unit collate "C"`);

const kindList = (kinds: readonly ApprovalKind[]) => sql.join(kinds.map((k) => sql`${k}`), sql`, `);

/**
 * Record the attendance lines of a period as rows of export `exportId`, numbered in the export's
 * order: only active days of approved approvals of the kinds asked for, only dates inside
 * [from, to]. A leave that crosses the boundary contributes just its inside days; superseded
 * (re-allocated) and reverted days never appear. The database copies them: nothing passes
 * through the service.
 */
async function recordLines(db: Queryable, exportId: number, period: Period, kinds: readonly ApprovalKind[]): Promise<number> {
  const [row] = await queryRows<{ n: number | string }>(
    db,
    sql`with written as (
          insert into payroll_export_lines (export_id, seq, line_type, employee_id, open_id, email, leave_type, date, quantity, unit, instance_code, kind, paid_type)
          select ${exportId}, row_number() over (order by ${EXPORT_ORDER('a')}), 'line',
                 a.employee_id, coalesce(l.open_id, e.open_id), coalesce(e.email_override, e.email), coalesce(l.leave_type, l.leave_type_key),
                 a.date, a.quantity, a.unit, a.instance_code, l.kind, a.paid_type
          from attendance_days a
          join leaves l on l.instance_code = a.instance_code
          left join employees e on e.employee_id = a.employee_id
          where a.status = 'active' and l.status = 'approved' and l.kind in (${kindList(kinds)})
            and a.date >= ${period.from}::date and a.date <= ${period.to}::date
          returning 1)
        select count(*)::int as n from written`,
  );
  return Number(row?.n ?? 0);
}

// ---------------------------------------------------------------------------------------------
// Adjustments

/** Which recorded export is the latest word on each (kind, date) of the period. */
interface Baseline {
  used: BaselineExport[];
  owners: Array<{ kind: string; date: string; export_id: number }>;
}

/**
 * The rule: for every date of the period, the baseline is what the most recent recorded export
 * covering that date said about it (exports of the same or of overlapping periods alike: a
 * monthly export followed by a weekly re-run both count, the newest wins date by date). An export
 * of leaves is no baseline for overtime: the baseline is kept per kind and date.
 */
async function findBaseline(db: Queryable, period: Period, kinds: readonly ApprovalKind[]): Promise<Baseline> {
  const candidates = await db
    .select({ id: payrollExports.id, from: payrollExports.fromDate, to: payrollExports.toDate, createdAt: payrollExports.createdAt, kinds: payrollExports.kinds })
    .from(payrollExports)
    .where(and(lte(payrollExports.fromDate, period.to), gte(payrollExports.toDate, period.from)))
    .orderBy(desc(payrollExports.id));
  // Newest first: each date of each kind belongs to the first export that covers it.
  const owned = new Set<string>();
  const owners: Baseline['owners'] = [];
  const used: BaselineExport[] = [];
  const dates = datesOf(period);
  for (const c of candidates) {
    let n = 0;
    const covered = c.kinds ?? DEFAULT_KINDS;
    for (const d of dates) {
      let owns = false;
      for (const kind of kinds) {
        const slot = `${kind}\u0000${d}`;
        if (covered.includes(kind) && !owned.has(slot) && d >= c.from && d <= c.to) {
          owned.add(slot);
          owners.push({ kind, date: d, export_id: c.id });
          owns = true;
        }
      }
      if (owns) n++;
    }
    if (n > 0) used.push({ export_id: c.id, from: c.from, to: c.to, exported_at: c.createdAt.toISOString(), dates: n });
    if (owned.size === dates.length * kinds.length) break;
  }
  return { used, owners };
}

/**
 * Adjustments are this export's lines minus the baseline, per (employee, leave, date, unit): a
 * revert gives a negative line, a re-allocation a negative and/or positive pair, a late approval a
 * positive line. Dates no earlier export covered have no baseline and produce no adjustments.
 * Each is described as the line is now when it still exists, else as it was handed out, and
 * recorded after the lines (seq after `lineCount`), in the export's order. Done by the database,
 * from the recorded rows of both exports.
 */
async function recordAdjustments(db: Queryable, exportId: number, lineCount: number, baseline: Baseline): Promise<number> {
  const [row] = await queryRows<{ n: number | string }>(
    db,
    sql`with owner as (
          select * from jsonb_to_recordset(${JSON.stringify(baseline.owners)}::jsonb) as o(kind text, date date, export_id bigint)),
        was as (
          select b.employee_id, b.open_id, b.email, b.leave_type, b.date, b.quantity, b.unit, b.instance_code, coalesce(b.kind, 'leave') as kind, b.paid_type, b.export_id
          from payroll_export_lines b
          join owner o on o.export_id = b.export_id and o.date = b.date and o.kind = coalesce(b.kind, 'leave')
          where b.line_type = 'line'),
        was_codes as (select distinct instance_code from was),
        now as (
          select n.employee_id, n.open_id, n.email, n.leave_type, n.date, n.quantity, n.unit, n.instance_code, coalesce(n.kind, 'leave') as kind, n.paid_type, o.export_id as owner_id
          from payroll_export_lines n
          join owner o on o.date = n.date and o.kind = coalesce(n.kind, 'leave')
          where n.export_id = ${exportId} and n.line_type = 'line'),
        diff as (
          select
            coalesce(now.employee_id, was.employee_id) as employee_id,
            case when now.employee_id is null then was.open_id else now.open_id end as open_id,
            case when now.employee_id is null then was.email else now.email end as email,
            case when now.employee_id is null then was.leave_type else now.leave_type end as leave_type,
            coalesce(now.date, was.date) as date,
            coalesce(now.quantity, 0) - coalesce(was.quantity, 0) as quantity,
            coalesce(now.unit, was.unit) as unit,
            coalesce(now.instance_code, was.instance_code) as instance_code,
            coalesce(now.kind, was.kind) as kind,
            case when now.employee_id is null then was.paid_type else now.paid_type end as paid_type,
            coalesce(was.quantity, 0) as previous_quantity,
            coalesce(now.quantity, 0) as current_quantity,
            coalesce(was.export_id, now.owner_id) as previous_export_id
          from now
          full join was on was.employee_id = now.employee_id and was.instance_code = now.instance_code and was.date = now.date and was.unit = now.unit
          where coalesce(now.quantity, 0) <> coalesce(was.quantity, 0)),
        written as (
          insert into payroll_export_lines (export_id, seq, line_type, employee_id, open_id, email, leave_type, date, quantity, unit, instance_code, kind, paid_type,
                                            reason, previous_quantity, current_quantity, previous_export_id)
          select ${exportId}, ${lineCount} + row_number() over (order by ${EXPORT_ORDER('d')}), 'adjustment',
                 d.employee_id, d.open_id, d.email, d.leave_type, d.date, d.quantity, d.unit, d.instance_code, d.kind, d.paid_type,
                 case when coalesce(l.status, '') <> 'approved' then 'reverted' when c.instance_code is not null then 'changed' else 'added' end,
                 d.previous_quantity, d.current_quantity, d.previous_export_id
          from diff d
          left join leaves l on l.instance_code = d.instance_code
          left join was_codes c on c.instance_code = d.instance_code
          returning 1)
        select count(*)::int as n from written`,
  );
  return Number(row?.n ?? 0);
}

// ---------------------------------------------------------------------------------------------
// The export

/** work_mem of an export's transaction: the sort of 150,000 lines (50,000 people × a month) fits. */
const EXPORT_SORT_MEMORY_MB = 64;

/**
 * Record an export of a period: its lines, and their adjustments against what earlier exports
 * said, so the next one can be compared with it. One transaction, so two simultaneous exports
 * each see a consistent baseline. The rows are then read back in chunks (`exportChunks`): an
 * export is never held whole in the service's memory.
 */
export async function recordExport(
  deps: { db: Queryable; clock: Clock },
  input: Period & { format: PayrollFormat; adjustments?: AdjustmentsMode; kinds?: readonly ApprovalKind[]; columns?: readonly OptionalColumn[] },
): Promise<RecordedExport> {
  const period = { from: input.from, to: input.to };
  const mode = input.adjustments ?? 'auto';
  const kinds = input.kinds ?? DEFAULT_KINDS;
  return deps.db.transaction(async (tx) => {
    // The lines are numbered in one sort of the period's rows: in memory rather than in
    // temporary files (Postgres's default work_mem, 4 MB, holds some 20,000 lines). For this
    // transaction only.
    await tx.execute(sql`set local work_mem = '${sql.raw(String(EXPORT_SORT_MEMORY_MB))}MB'`);
    const baseline = mode === 'omit' ? { used: [], owners: [] } : await findBaseline(tx, period, kinds);
    const exportedAt = deps.clock.now();
    const [row] = await tx
      .insert(payrollExports)
      .values({ fromDate: period.from, toDate: period.to, format: input.format, lineCount: 0, lines: null, kinds: [...kinds], createdAt: exportedAt })
      .returning({ id: payrollExports.id });
    const exportId = row!.id;
    const lineCount = await recordLines(tx, exportId, period, kinds);
    const adjustmentCount = baseline.used.length > 0 ? await recordAdjustments(tx, exportId, lineCount, baseline) : 0;
    await tx.update(payrollExports).set({ lineCount }).where(eq(payrollExports.id, exportId));
    // the policies are read with the export; each line's code is resolved as it is streamed
    const code = await payrollCodeColumn(tx, input.columns?.includes('payroll_code') ?? false);
    const result: RecordedExport = {
      export_id: exportId,
      exported_at: exportedAt.toISOString(),
      from: period.from,
      to: period.to,
      withAdjustments: mode === 'include' || adjustmentCount > 0,
      lineCount,
      adjustmentCount,
    };
    if (input.kinds) result.kinds = [...kinds];
    if (mode === 'include' || baseline.used.length > 0) result.baseline = baseline.used;
    if (code) {
      result.columns = ['payroll_code'];
      result.payrollCode = code;
    }
    return result;
  });
}
