/** Recording a payroll export: its lines and their adjustments against the baseline, written by the database in one transaction. */
import { and, desc, eq, gte, lte, sql, type SQL } from 'drizzle-orm';
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
 * The attendance lines of a period, numbered (`seq`) in the export's order: only active days of
 * approved approvals of the kinds asked for, only dates inside [from, to]. A leave that crosses
 * the boundary contributes just its inside days; superseded (re-allocated) and reverted days never
 * appear.
 */
const periodLines = (period: Period, kinds: readonly ApprovalKind[]) =>
  sql`select row_number() over (order by ${EXPORT_ORDER('a')}) as seq,
             a.employee_id, coalesce(l.open_id, e.open_id) as open_id, coalesce(e.email_override, e.email) as email,
             coalesce(l.leave_type, l.leave_type_key) as leave_type, a.date, a.quantity, a.unit, a.instance_code, l.kind, a.paid_type
      from attendance_days a
      join leaves l on l.instance_code = a.instance_code
      left join employees e on e.employee_id = a.employee_id
      where a.status = 'active' and l.status = 'approved' and l.kind in (${kindList(kinds)})
        and a.date >= ${period.from}::date and a.date <= ${period.to}::date`;

const LINE_COLUMNS = sql.raw('employee_id, open_id, email, leave_type, date, quantity, unit, instance_code, kind, paid_type');

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
 * Record the period's lines as rows of export `exportId` and, against a baseline, their
 * adjustments: this export's lines minus the baseline, per (employee, leave, date, unit). A revert
 * gives a negative line, a re-allocation a negative and/or positive pair, a late approval a
 * positive line. Dates no earlier export covered have no baseline and produce no adjustments.
 * Each is described as the line is now when it still exists, else as it was handed out, and
 * recorded after the lines (seq after theirs), in the export's order.
 *
 * One statement, written by the database: nothing passes through the service. The adjustments
 * compare the lines as the statement computes them (not as just written, which the statement
 * cannot see, and whose statistics would not yet say how many there are) with the baseline's
 * recorded rows, read by export id through the table's key, so the cost does not grow with the
 * number of exports ever recorded.
 */
async function recordRows(
  db: Queryable,
  exportId: number,
  period: Period,
  kinds: readonly ApprovalKind[],
  baseline: Baseline,
): Promise<{ lineCount: number; adjustmentCount: number }> {
  const writeLines = sql`insert into payroll_export_lines (export_id, seq, line_type, ${LINE_COLUMNS})
        select ${exportId}, seq, 'line', ${LINE_COLUMNS} from lines
        returning 1`;
  if (baseline.used.length === 0) {
    const [row] = await queryRows<{ lines: number | string }>(
      db,
      sql`with lines as (${periodLines(period, kinds)}), written as (${writeLines})
          select (select count(*) from written)::int as lines`,
    );
    return { lineCount: Number(row?.lines ?? 0), adjustmentCount: 0 };
  }
  const baselineIds = sql.join([...new Set(baseline.used.map((u) => u.export_id))].map((id) => sql`${id}`), sql`, `);
  // Which export owns a (kind, date): a lookup in one JSON object rather than a join. The table's
  // statistics miss an export until it is next analyzed, and a join planned on them read the
  // baseline's rows once per date.
  const owners = JSON.stringify(Object.fromEntries(baseline.owners.map((o) => [`${o.kind}|${o.date}`, o.export_id])));
  const ownerOf = (kind: SQL, date: SQL) => sql`(${owners}::jsonb ->> (${kind} || '|' || to_char(${date}, 'YYYY-MM-DD')))::bigint`;
  const [row] = await queryRows<{ lines: number | string; adjustments: number | string }>(
    db,
    sql`with lines as materialized (${periodLines(period, kinds)}),
        written as (${writeLines}),
        was as (
          select b.employee_id, b.open_id, b.email, b.leave_type, b.date, b.quantity, b.unit, b.instance_code, coalesce(b.kind, 'leave') as kind, b.paid_type, b.export_id
          from payroll_export_lines b
          where b.export_id in (${baselineIds}) and b.line_type = 'line' and ${ownerOf(sql`coalesce(b.kind, 'leave')`, sql`b.date`)} = b.export_id),
        was_codes as (select distinct instance_code from was),
        now as (
          select n.employee_id, n.open_id, n.email, n.leave_type, n.date, n.quantity, n.unit, n.instance_code, n.kind, n.paid_type, ${ownerOf(sql`n.kind`, sql`n.date`)} as owner_id
          from lines n
          where ${ownerOf(sql`n.kind`, sql`n.date`)} is not null),
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
        adjusted as (
          insert into payroll_export_lines (export_id, seq, line_type, ${LINE_COLUMNS}, reason, previous_quantity, current_quantity, previous_export_id)
          select ${exportId}, (select count(*) from lines) + row_number() over (order by ${EXPORT_ORDER('d')}), 'adjustment',
                 d.employee_id, d.open_id, d.email, d.leave_type, d.date, d.quantity, d.unit, d.instance_code, d.kind, d.paid_type,
                 case when coalesce(l.status, '') <> 'approved' then 'reverted' when c.instance_code is not null then 'changed' else 'added' end,
                 d.previous_quantity, d.current_quantity, d.previous_export_id
          from diff d
          left join leaves l on l.instance_code = d.instance_code
          left join was_codes c on c.instance_code = d.instance_code
          returning 1)
        select (select count(*) from written)::int as lines, (select count(*) from adjusted)::int as adjustments`,
  );
  return { lineCount: Number(row?.lines ?? 0), adjustmentCount: Number(row?.adjustments ?? 0) };
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
    const { lineCount, adjustmentCount } = await recordRows(tx, exportId, period, kinds, baseline);
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
