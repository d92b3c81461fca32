import { and, asc, desc, eq, gt, gte, lte, sql } from 'drizzle-orm';
import { queryRows, type Queryable } from '../db/client.js';
import { payrollExportLines, payrollExports } from '../db/schema.js';
import type { Clock } from '../deps.js';
import type { ApprovalKind } from '../leave/types.js';
import { canonicalDecimal } from '../shared/decimal.js';
import { datesOf, type Period } from './period.js';
import { payrollCodeColumn, type OptionalColumn } from '../policies/payroll-code.js';

// ---------------------------------------------------------------------------------------------
// Lines

/** One CSV row: one employee, one leave, one local date (docs/contract.md, columns in this order). */
export interface PayrollLine {
  employee_id: string;
  open_id: string | null;
  email: string | null;
  leave_type: string | null;
  date: string;
  /** plain decimal in `unit`: "1", "0.5", "2.25" */
  quantity: string;
  /** day | hour | minute */
  unit: string;
  instance_code: string;
  /** the approval's kind; in an export only when it was asked for kinds (`kinds=`) */
  kind?: ApprovalKind;
  /** CoreHR's paid_type of the date (1 not in payroll, 2 affects pay, 3 does not); JSON only, CoreHR lines only */
  paid_type?: number;
  /** the policy's payroll code (src/policies/payroll-code.ts); in an export only with that column */
  payroll_code?: string | null;
}

/** What an export covers when it does not say: leaves, as every export did before kinds. */
export const DEFAULT_KINDS: readonly ApprovalKind[] = ['leave'];

/** The kinds with quantities, which an export may ask for (remedy and shift have none). */
export const EXPORT_KINDS = ['leave', 'overtime', 'out', 'trip'] as const satisfies readonly ApprovalKind[];

/** `kinds=leave,overtime` → the kinds, in the order given, or why not. */
export function parseKinds(text: string): ApprovalKind[] | { error: string } {
  const kinds = [...new Set(text.split(',').map((k) => k.trim()).filter((k) => k !== ''))];
  if (kinds.length === 0) return { error: `expected a comma-separated list of ${EXPORT_KINDS.join(', ')}` };
  const bad = kinds.filter((k) => !(EXPORT_KINDS as readonly string[]).includes(k));
  if (bad.length > 0) return { error: `unknown kind ${JSON.stringify(bad[0])}: expected ${EXPORT_KINDS.join(', ')}` };
  return kinds as ApprovalKind[];
}

export const PAYROLL_COLUMNS = ['employee_id', 'open_id', 'email', 'leave_type', 'date', 'quantity', 'unit', 'instance_code'] as const;

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

export type AdjustmentReason = 'reverted' | 'changed' | 'added';

/**
 * A correction to what an earlier export said about one (employee, leave, date, unit): the
 * quantity is the signed difference, so "what was handed out" + adjustments = today's lines.
 */
export interface AdjustmentLine extends PayrollLine {
  /** reverted: the leave was reverted; changed: re-allocated (V2 enriching V1, edited times); added: approved after the export */
  reason: AdjustmentReason;
  previous_quantity: string;
  current_quantity: string;
  /** the recorded export whose figure this corrects */
  previous_export_id: number;
}

export interface BaselineExport {
  export_id: number;
  from: string;
  to: string;
  exported_at: string;
  /** the dates of this period for which that export is the latest word */
  dates: number;
}

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

export type PayrollFormat = 'csv' | 'json';
/**
 * auto: `adjustments` only when there are some (an earlier export covered the period and today's
 * lines differ from it); include: always, possibly empty; omit: never (lines only).
 */
export type AdjustmentsMode = 'auto' | 'include' | 'omit';

/** An export as a whole (the JSON document); the service itself only ever streams it. */
export interface PayrollExport {
  export_id: number;
  exported_at: string;
  from: string;
  to: string;
  lines: PayrollLine[];
  /** the kinds asked for (`kinds=`); absent for an export of leaves that did not ask */
  kinds?: ApprovalKind[];
  /** present when there are adjustments (auto) or when asked for (include) */
  adjustments?: AdjustmentLine[];
  /** the earlier exports the adjustments are relative to, when there are any */
  baseline?: BaselineExport[];
  /** the optional columns every line carries (payroll_code), when there are any */
  columns?: OptionalColumn[];
}

/** A recorded export without its rows: what is needed to stream them. */
export interface RecordedExport {
  export_id: number;
  exported_at: string;
  from: string;
  to: string;
  kinds?: ApprovalKind[];
  baseline?: BaselineExport[];
  /** whether the export shows adjustments (an `adjustments` member, two more CSV columns) */
  withAdjustments: boolean;
  lineCount: number;
  adjustmentCount: number;
  /** the optional columns every line carries (payroll_code), when there are any */
  columns?: OptionalColumn[];
  /** each line's payroll code, from the policies read with the export (with the payroll_code column) */
  payrollCode?: (line: { kind?: string | null; leave_type: string | null }) => string | null;
}

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

/** Rows read per query: bounded memory, few round trips. */
export const EXPORT_CHUNK_ROWS = 2_000;

type StoredRow = PayrollLine & { line_type: string } & Partial<Omit<AdjustmentLine, keyof PayrollLine>>;

/**
 * The recorded rows of an export, lines then adjustments, in chunks: ranges of `seq` (numbered
 * 1…n when recorded, so each range is known in advance), which every client reads alike (PGlite,
 * postgres.js, Hyperdrive) and which hold no transaction or cursor open between chunks. The next
 * chunk is asked for while the caller renders this one: at most two are held.
 */
export async function* exportChunks(
  db: Queryable,
  exp: Pick<RecordedExport, 'export_id' | 'kinds' | 'lineCount' | 'adjustmentCount' | 'payrollCode'>,
  chunkRows = EXPORT_CHUNK_ROWS,
): AsyncGenerator<StoredRow[]> {
  // Without `kinds`, an export is what it always was: leave lines, no kind field.
  const withKind = exp.kinds !== undefined;
  const total = exp.lineCount + exp.adjustmentCount;
  const read = (after: number) =>
    db
      .select({
        lineType: payrollExportLines.lineType,
        employeeId: payrollExportLines.employeeId,
        openId: payrollExportLines.openId,
        email: payrollExportLines.email,
        leaveType: payrollExportLines.leaveType,
        date: payrollExportLines.date,
        quantity: payrollExportLines.quantity,
        unit: payrollExportLines.unit,
        instanceCode: payrollExportLines.instanceCode,
        kind: payrollExportLines.kind,
        paidType: payrollExportLines.paidType,
        reason: payrollExportLines.reason,
        previousQuantity: payrollExportLines.previousQuantity,
        currentQuantity: payrollExportLines.currentQuantity,
        previousExportId: payrollExportLines.previousExportId,
      })
      .from(payrollExportLines)
      .where(and(eq(payrollExportLines.exportId, exp.export_id), gt(payrollExportLines.seq, after), lte(payrollExportLines.seq, after + chunkRows)))
      .orderBy(asc(payrollExportLines.seq))
      // a promise, run once (a query builder runs again on every `then`)
      .then((rows) => rows);
  let next = total > 0 ? read(0) : null;
  for (let after = 0; next; after += chunkRows) {
    const rows = await next;
    next = after + chunkRows < total ? read(after + chunkRows) : null;
    // a client that stops reading leaves no query unawaited
    next?.catch(() => {});
    yield rows.map((r) => {
      // the members in the order the export has always had them
      const line: StoredRow = {
        employee_id: r.employeeId,
        open_id: r.openId,
        email: r.email,
        leave_type: r.leaveType,
        date: r.date,
        quantity: canonicalDecimal(r.quantity),
        unit: r.unit,
        instance_code: r.instanceCode,
        line_type: r.lineType,
      };
      if (withKind) line.kind = (r.kind ?? 'leave') as ApprovalKind;
      if (r.paidType !== null) line.paid_type = r.paidType;
      if (r.lineType === 'adjustment') {
        line.reason = r.reason as AdjustmentReason;
        line.previous_quantity = canonicalDecimal(r.previousQuantity ?? '0');
        line.current_quantity = canonicalDecimal(r.currentQuantity ?? '0');
        line.previous_export_id = r.previousExportId!;
      }
      // last, after every other member, as the column comes after every other column
      if (exp.payrollCode) line.payroll_code = exp.payrollCode({ kind: r.kind ?? 'leave', leave_type: r.leaveType });
      return line;
    });
  }
}

const jsonLine = ({ line_type: _lineType, ...rest }: StoredRow) => rest;

/**
 * The export as JSON, piece by piece: exactly `JSON.stringify(export, null, indent)` of the whole
 * document (members export_id, exported_at, from, to, lines, kinds, baseline, adjustments,
 * columns, in that order), without ever building it.
 */
export async function* payrollJson(db: Queryable, exp: RecordedExport, indent = 0, chunkRows = EXPORT_CHUNK_ROWS): AsyncGenerator<string> {
  const nl = (depth: number) => (indent ? `\n${' '.repeat(indent * depth)}` : '');
  const value = (v: unknown, depth: number) => {
    const text = JSON.stringify(v, null, indent);
    return indent ? text.replace(/\n/g, nl(depth)) : text;
  };
  const colon = indent ? ': ' : ':';
  const member = (first: boolean, key: string) => `${first ? '' : ','}${nl(1)}${JSON.stringify(key)}${colon}`;
  let out = `{${member(true, 'export_id')}${value(exp.export_id, 1)}`;
  out += `${member(false, 'exported_at')}${value(exp.exported_at, 1)}`;
  out += `${member(false, 'from')}${value(exp.from, 1)}`;
  out += `${member(false, 'to')}${value(exp.to, 1)}`;
  out += `${member(false, 'lines')}[`;
  let lines = 0;
  let adjustments = 0;
  const afterLines = () => {
    let tail = `${lines ? nl(1) : ''}]`;
    if (exp.kinds) tail += `${member(false, 'kinds')}${value(exp.kinds, 1)}`;
    if (exp.baseline) tail += `${member(false, 'baseline')}${value(exp.baseline, 1)}`;
    if (exp.withAdjustments) tail += `${member(false, 'adjustments')}[`;
    return tail;
  };
  let linesClosed = false;
  for await (const rows of exportChunks(db, exp, chunkRows)) {
    for (const r of rows) {
      if (r.line_type === 'adjustment') {
        if (!linesClosed) {
          out += afterLines();
          linesClosed = true;
        }
        out += `${adjustments++ ? ',' : ''}${nl(2)}${value(jsonLine(r), 2)}`;
      } else {
        out += `${lines++ ? ',' : ''}${nl(2)}${value(jsonLine(r), 2)}`;
      }
    }
    yield out;
    out = '';
  }
  if (!linesClosed) out += afterLines();
  if (exp.withAdjustments) out += `${adjustments ? nl(1) : ''}]`;
  if (exp.columns) out += `${member(false, 'columns')}${value(exp.columns, 1)}`;
  yield `${out}${nl(0)}}`;
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * One CSV field. RFC 4180: fields holding a comma, a double quote, CR or LF are quoted, quotes
 * doubled. Spreadsheet formula injection (OWASP "CSV Injection"): a text field that starts with
 * = + - @ TAB or CR is prefixed with a single quote so Excel/LibreOffice/Sheets show it as text
 * instead of evaluating it (a leave type named `=HYPERLINK(...)` typed into Feishu would otherwise
 * run in the payroll clerk's spreadsheet). Plain numbers (negative adjustment quantities such as
 * `-0.5`) are left alone: they are data we produced, not formulas.
 */
export function csvField(value: string | null | undefined): string {
  let v = value ?? '';
  if (/^[=+\-@\t\r]/.test(v) && !PLAIN_NUMBER.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const csvRow = (fields: Array<string | null | undefined>) => `${fields.map(csvField).join(',')}\r\n`;

/**
 * Header row and CRLF line ends (RFC 4180). The eight contract columns (docs/contract.md) come first and in
 * that order. Only when the export carries adjustments do two columns follow: `line_type`
 * (`line` | `adjustment`) and `adjustment_reason`; adjustment rows come after all lines, their
 * quantity signed. A plain export keeps exactly the eight contract columns.
 */
export async function* payrollCsv(db: Queryable, exp: RecordedExport, chunkRows = EXPORT_CHUNK_ROWS): AsyncGenerator<string> {
  const { withAdjustments } = exp;
  // asked for kinds: every row carries its kind, after all of the columns an export had before
  const kind = (l: PayrollLine) => (exp.kinds ? [l.kind ?? 'leave'] : []);
  // a policy's payroll code: after every other column
  const optional = (l: PayrollLine) => (exp.columns ?? []).map((c) => l[c] ?? '');
  yield csvRow([...(withAdjustments ? [...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason'] : [...PAYROLL_COLUMNS]), ...(exp.kinds ? ['kind'] : []), ...(exp.columns ?? [])]);
  for await (const rows of exportChunks(db, exp, chunkRows)) {
    let out = '';
    for (const l of rows) {
      const fields = PAYROLL_COLUMNS.map((c) => l[c]);
      if (l.line_type === 'adjustment') out += csvRow([...fields, 'adjustment', l.reason, ...kind(l), ...optional(l)]);
      else out += csvRow([...(withAdjustments ? [...fields, 'line', ''] : fields), ...kind(l), ...optional(l)]);
    }
    yield out;
  }
}
