import { and, desc, eq, gte, inArray, lte } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { attendanceDays, employees, leaves, payrollExports } from '../db/schema.js';
import type { Clock } from '../deps.js';
import type { ApprovalKind } from '../leave/types.js';
import { canonicalDecimal } from '../shared/decimal.js';
import { fromMicro, toMicro } from '../shared/decimal.js';
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
  /** the policy's payroll code (src/policies/payroll-code.ts); in an export only with that column */
  payroll_code?: string | null;
  /** CoreHR's paid_type of the date (1 not in payroll, 2 affects pay, 3 does not); JSON only, on CoreHR lines */
  paid_type?: number;
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

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sorted in JS by code unit rather than in SQL: the database's collation (and PGlite's) would
 * order mixed-case ids differently from one installation to the next.
 */
export const compareLines = (a: PayrollLine, b: PayrollLine) =>
  cmp(a.date, b.date) || cmp(a.employee_id, b.employee_id) || cmp(a.instance_code, b.instance_code) || cmp(a.unit, b.unit);

/**
 * The attendance lines of a period: only active days of approved leaves, only dates inside
 * [from, to]. A leave that crosses the boundary contributes just its inside days; superseded
 * (re-allocated) and reverted days never appear.
 */
export async function payrollLines(db: Queryable, period: Period, kinds: readonly ApprovalKind[] = DEFAULT_KINDS): Promise<PayrollLine[]> {
  const rows = await db
    .select({
      kind: leaves.kind,
      employeeId: attendanceDays.employeeId,
      leaveOpenId: leaves.openId,
      employeeOpenId: employees.openId,
      email: employees.email,
      emailOverride: employees.emailOverride,
      leaveType: leaves.leaveType,
      leaveTypeKey: leaves.leaveTypeKey,
      date: attendanceDays.date,
      quantity: attendanceDays.quantity,
      unit: attendanceDays.unit,
      instanceCode: attendanceDays.instanceCode,
      paidType: attendanceDays.paidType,
    })
    .from(attendanceDays)
    .innerJoin(leaves, eq(leaves.instanceCode, attendanceDays.instanceCode))
    .leftJoin(employees, eq(employees.employeeId, attendanceDays.employeeId))
    .where(
      and(
        eq(attendanceDays.status, 'active'),
        eq(leaves.status, 'approved'),
        inArray(leaves.kind, [...kinds]),
        gte(attendanceDays.date, period.from),
        lte(attendanceDays.date, period.to),
      ),
    );
  return rows
    .map((r) => ({
      employee_id: r.employeeId,
      open_id: r.leaveOpenId ?? r.employeeOpenId ?? null,
      email: r.emailOverride ?? r.email ?? null,
      leave_type: r.leaveType ?? r.leaveTypeKey ?? null,
      date: r.date,
      quantity: canonicalDecimal(r.quantity),
      unit: r.unit,
      instance_code: r.instanceCode,
      kind: r.kind as ApprovalKind,
      ...(r.paidType !== null ? { paid_type: r.paidType } : {}),
    }))
    .sort(compareLines);
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

const lineKey = (l: Pick<PayrollLine, 'employee_id' | 'instance_code' | 'date' | 'unit'>) =>
  `${l.employee_id}\u0000${l.instance_code}\u0000${l.date}\u0000${l.unit}`;

/** A stored line's kind: lines recorded before kinds existed were leaves. */
const kindOf = (l: PayrollLine): ApprovalKind => l.kind ?? 'leave';
/** the (kind, date) a baseline is kept for: an export of leaves says nothing about overtime */
const slot = (kind: string, date: string) => `${kind}\u0000${date}`;

/**
 * The rule: for every date of the period, the baseline is what the most recent recorded export
 * covering that date said about it (exports of the same or of overlapping periods alike: a
 * monthly export followed by a weekly re-run both count, the newest wins date by date).
 * Adjustments are today's lines minus the baseline, per (employee, leave, date, unit): a revert
 * gives a negative line, a re-allocation a negative and/or positive pair, a late approval a
 * positive line. Dates no earlier export covered have no baseline and produce no adjustments.
 */
export async function computeAdjustments(
  db: Queryable,
  period: Period,
  current: PayrollLine[],
  kinds: readonly ApprovalKind[] = DEFAULT_KINDS,
): Promise<{ adjustments: AdjustmentLine[]; baseline: BaselineExport[] }> {
  const candidates = await db
    .select({ id: payrollExports.id, from: payrollExports.fromDate, to: payrollExports.toDate, createdAt: payrollExports.createdAt, kinds: payrollExports.kinds })
    .from(payrollExports)
    .where(and(lte(payrollExports.fromDate, period.to), gte(payrollExports.toDate, period.from)))
    .orderBy(desc(payrollExports.id));
  // Newest first: each date of each kind belongs to the first export that covers it (and that
  // kind: an export of leaves is no baseline for overtime).
  const owner = new Map<string, number>();
  const used: BaselineExport[] = [];
  const dates = datesOf(period);
  for (const c of candidates) {
    let n = 0;
    const covered = c.kinds ?? DEFAULT_KINDS;
    for (const d of dates) {
      let owns = false;
      for (const kind of kinds) {
        if (covered.includes(kind) && !owner.has(slot(kind, d)) && d >= c.from && d <= c.to) {
          owner.set(slot(kind, d), c.id);
          owns = true;
        }
      }
      if (owns) n++;
    }
    if (n > 0) used.push({ export_id: c.id, from: c.from, to: c.to, exported_at: c.createdAt.toISOString(), dates: n });
    if (owner.size === dates.length * kinds.length) break;
  }
  if (used.length === 0) return { adjustments: [], baseline: [] };

  const stored = await db
    .select({ id: payrollExports.id, lines: payrollExports.lines })
    .from(payrollExports)
    .where(inArray(payrollExports.id, used.map((u) => u.export_id)));
  const before = new Map<string, { line: PayrollLine; exportId: number }>();
  for (const s of stored) {
    for (const line of s.lines as PayrollLine[]) {
      if (owner.get(slot(kindOf(line), line.date)) === s.id) before.set(lineKey(line), { line, exportId: s.id });
    }
  }
  const now = new Map(current.filter((l) => owner.has(slot(kindOf(l), l.date))).map((l) => [lineKey(l), l]));

  const touched = new Set<string>();
  for (const [k, v] of before) if (now.get(k)?.quantity !== v.line.quantity) touched.add(v.line.instance_code);
  for (const [k, v] of now) if (!before.has(k)) touched.add(v.instance_code);
  if (touched.size === 0) return { adjustments: [], baseline: used };

  const statuses = new Map(
    (
      await db
        .select({ instanceCode: leaves.instanceCode, status: leaves.status })
        .from(leaves)
        .where(inArray(leaves.instanceCode, [...touched]))
    ).map((r) => [r.instanceCode, r.status]),
  );
  const inBaseline = new Set([...before.values()].map((v) => v.line.instance_code));
  const reasonFor = (instanceCode: string): AdjustmentReason =>
    statuses.get(instanceCode) !== 'approved' ? 'reverted' : inBaseline.has(instanceCode) ? 'changed' : 'added';

  const out: AdjustmentLine[] = [];
  for (const key of new Set([...before.keys(), ...now.keys()])) {
    const was = before.get(key);
    const is = now.get(key);
    const prev = was ? toMicro(was.line.quantity) : 0n;
    const cur = is ? toMicro(is.quantity) : 0n;
    if (prev === cur) continue;
    // Describe the line as it is now when it still exists, else as it was handed out.
    const base = is ?? was!.line;
    out.push({
      ...pickLine(base),
      quantity: fromMicro(cur - prev),
      reason: reasonFor(base.instance_code),
      previous_quantity: fromMicro(prev),
      current_quantity: fromMicro(cur),
      previous_export_id: was?.exportId ?? owner.get(slot(kindOf(base), base.date))!,
    });
  }
  out.sort(compareLines);
  return { adjustments: out, baseline: used };
}

const pickLine = (l: PayrollLine): PayrollLine => ({
  employee_id: l.employee_id,
  open_id: l.open_id,
  email: l.email,
  leave_type: l.leave_type,
  date: l.date,
  quantity: l.quantity,
  unit: l.unit,
  instance_code: l.instance_code,
  kind: kindOf(l),
  ...(l.paid_type !== undefined ? { paid_type: l.paid_type } : {}),
});

// ---------------------------------------------------------------------------------------------
// The export

export type PayrollFormat = 'csv' | 'json';
/**
 * auto: `adjustments` only when there are some (an earlier export covered the period and today's
 * lines differ from it); include: always, possibly empty; omit: never (lines only).
 */
export type AdjustmentsMode = 'auto' | 'include' | 'omit';

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

/**
 * Compute the lines of a period, their adjustments against what earlier exports said, and record
 * this export (period, time, lines) so the next one can be compared with it. The adjustments are
 * computed and the export recorded in one transaction, so two simultaneous exports each see a
 * consistent baseline.
 */
export async function exportPayroll(
  deps: { db: Queryable; clock: Clock },
  input: Period & { format: PayrollFormat; adjustments?: AdjustmentsMode; kinds?: readonly ApprovalKind[]; columns?: readonly OptionalColumn[] },
): Promise<PayrollExport> {
  const period = { from: input.from, to: input.to };
  const mode = input.adjustments ?? 'auto';
  const kinds = input.kinds ?? DEFAULT_KINDS;
  return deps.db.transaction(async (tx) => {
    const lines = await payrollLines(tx, period, kinds);
    const { adjustments, baseline } = mode === 'omit' ? { adjustments: [], baseline: [] } : await computeAdjustments(tx, period, lines, kinds);
    const exportedAt = deps.clock.now();
    const [row] = await tx
      .insert(payrollExports)
      .values({ fromDate: period.from, toDate: period.to, format: input.format, lineCount: lines.length, lines, kinds: [...kinds], createdAt: exportedAt })
      .returning({ id: payrollExports.id });
    // Without `kinds`, an export is what it always was: leave lines, no kind field.
    const code = await payrollCodeColumn(tx, input.columns?.includes('payroll_code') ?? false);
    const shown = (l: PayrollLine): PayrollLine => {
      const line = input.kinds ? l : withoutKind(l);
      return code ? { ...line, payroll_code: code(l) } : line;
    };
    const result: PayrollExport = { export_id: row!.id, exported_at: exportedAt.toISOString(), from: period.from, to: period.to, lines: lines.map(shown) };
    if (input.kinds) result.kinds = [...kinds];
    if (mode === 'include' || baseline.length > 0) result.baseline = baseline;
    if (mode === 'include' || adjustments.length > 0) result.adjustments = adjustments.map((a) => shown(a) as AdjustmentLine);
    if (code) result.columns = ['payroll_code'];
    return result;
  });
}

function withoutKind<T extends PayrollLine>(l: T): T {
  const { kind: _kind, ...rest } = l;
  return rest as T;
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
export function payrollCsv(exp: PayrollExport): string {
  const withAdjustments = exp.adjustments !== undefined;
  // asked for kinds: every row carries its kind, after all of the columns an export had before
  const kind = (l: PayrollLine) => (exp.kinds ? [l.kind ?? 'leave'] : []);
  // a policy's payroll code: after every other column
  const optional = (l: PayrollLine) => (exp.columns ?? []).map((c) => l[c] ?? '');
  let out = csvRow([...(withAdjustments ? [...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason'] : [...PAYROLL_COLUMNS]), ...(exp.kinds ? ['kind'] : []), ...(exp.columns ?? [])]);
  for (const l of exp.lines) {
    const fields = PAYROLL_COLUMNS.map((c) => l[c]);
    out += csvRow([...(withAdjustments ? [...fields, 'line', ''] : fields), ...kind(l), ...optional(l)]);
  }
  for (const a of exp.adjustments ?? []) out += csvRow([...PAYROLL_COLUMNS.map((c) => a[c]), 'adjustment', a.reason, ...kind(a), ...optional(a)]);
  return out;
}
