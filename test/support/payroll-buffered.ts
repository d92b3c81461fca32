/**
 * The payroll export as it was computed before it streamed: every line read into memory, sorted
 * in JS by code unit, adjustments computed against earlier exports' lines in Maps, the document
 * built whole and rendered whole. Kept here as the oracle the streamed export must match byte for
 * byte (test/reports/payroll-stream.test.ts).
 */
import { and, desc, eq, gte, inArray, lt, lte } from 'drizzle-orm';
import type { Queryable } from '../../src/db/client.js';
import { attendanceDays, employees, leaves, payrollExportLines, payrollExports } from '../../src/db/schema.js';
import type { ApprovalKind } from '../../src/leave/types.js';
import { csvField } from '../../src/reports/payroll-csv.js';
import {
  DEFAULT_KINDS,
  PAYROLL_COLUMNS,
  type AdjustmentLine,
  type AdjustmentReason,
  type AdjustmentsMode,
  type BaselineExport,
  type PayrollExport,
  type PayrollLine,
} from '../../src/reports/payroll-types.js';
import { datesOf, type Period } from '../../src/reports/period.js';
import { canonicalDecimal, fromMicro, toMicro } from '../../src/shared/decimal.js';

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareLines = (a: PayrollLine, b: PayrollLine) =>
  cmp(a.date, b.date) || cmp(a.employee_id, b.employee_id) || cmp(a.instance_code, b.instance_code) || cmp(a.unit, b.unit);

async function payrollLines(db: Queryable, period: Period, kinds: readonly ApprovalKind[]): Promise<PayrollLine[]> {
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
    }))
    .sort(compareLines);
}

const lineKey = (l: Pick<PayrollLine, 'employee_id' | 'instance_code' | 'date' | 'unit'>) =>
  `${l.employee_id}\u0000${l.instance_code}\u0000${l.date}\u0000${l.unit}`;
const kindOf = (l: PayrollLine): ApprovalKind => l.kind ?? 'leave';
const slot = (kind: string, date: string) => `${kind}\u0000${date}`;

async function computeAdjustments(
  db: Queryable,
  period: Period,
  current: PayrollLine[],
  kinds: readonly ApprovalKind[],
  before: number,
): Promise<{ adjustments: AdjustmentLine[]; baseline: BaselineExport[] }> {
  const candidates = await db
    .select({ id: payrollExports.id, from: payrollExports.fromDate, to: payrollExports.toDate, createdAt: payrollExports.createdAt, kinds: payrollExports.kinds })
    .from(payrollExports)
    .where(and(lte(payrollExports.fromDate, period.to), gte(payrollExports.toDate, period.from), lt(payrollExports.id, before)))
    .orderBy(desc(payrollExports.id));
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
    .select()
    .from(payrollExportLines)
    .where(and(inArray(payrollExportLines.exportId, used.map((u) => u.export_id)), eq(payrollExportLines.lineType, 'line')));
  const was = new Map<string, { line: PayrollLine; exportId: number }>();
  for (const s of stored) {
    const line: PayrollLine = {
      employee_id: s.employeeId,
      open_id: s.openId,
      email: s.email,
      leave_type: s.leaveType,
      date: s.date,
      quantity: canonicalDecimal(s.quantity),
      unit: s.unit,
      instance_code: s.instanceCode,
      ...(s.kind ? { kind: s.kind as ApprovalKind } : {}),
    };
    if (owner.get(slot(kindOf(line), line.date)) === s.exportId) was.set(lineKey(line), { line, exportId: s.exportId });
  }
  const now = new Map(current.filter((l) => owner.has(slot(kindOf(l), l.date))).map((l) => [lineKey(l), l]));
  const touched = new Set<string>();
  for (const [k, v] of was) if (now.get(k)?.quantity !== v.line.quantity) touched.add(v.line.instance_code);
  for (const [k, v] of now) if (!was.has(k)) touched.add(v.instance_code);
  if (touched.size === 0) return { adjustments: [], baseline: used };
  const statuses = new Map(
    (await db.select({ instanceCode: leaves.instanceCode, status: leaves.status }).from(leaves).where(inArray(leaves.instanceCode, [...touched]))).map((r) => [
      r.instanceCode,
      r.status,
    ]),
  );
  const inBaseline = new Set([...was.values()].map((v) => v.line.instance_code));
  const reasonFor = (code: string): AdjustmentReason => (statuses.get(code) !== 'approved' ? 'reverted' : inBaseline.has(code) ? 'changed' : 'added');
  const out: AdjustmentLine[] = [];
  for (const key of new Set([...was.keys(), ...now.keys()])) {
    const w = was.get(key);
    const is = now.get(key);
    const prev = w ? toMicro(w.line.quantity) : 0n;
    const cur = is ? toMicro(is.quantity) : 0n;
    if (prev === cur) continue;
    const base = is ?? w!.line;
    out.push({
      employee_id: base.employee_id,
      open_id: base.open_id,
      email: base.email,
      leave_type: base.leave_type,
      date: base.date,
      quantity: fromMicro(cur - prev),
      unit: base.unit,
      instance_code: base.instance_code,
      kind: kindOf(base),
      reason: reasonFor(base.instance_code),
      previous_quantity: fromMicro(prev),
      current_quantity: fromMicro(cur),
      previous_export_id: w?.exportId ?? owner.get(slot(kindOf(base), base.date))!,
    });
  }
  out.sort(compareLines);
  return { adjustments: out, baseline: used };
}

function withoutKind<T extends PayrollLine>(l: T): T {
  const { kind: _kind, ...rest } = l;
  return rest as T;
}

/** The whole document of export `exportId` as the buffered implementation built it. */
export async function bufferedExport(
  db: Queryable,
  input: Period & { adjustments?: AdjustmentsMode; kinds?: readonly ApprovalKind[] },
  recorded: { export_id: number; exported_at: string },
): Promise<PayrollExport> {
  const period = { from: input.from, to: input.to };
  const mode = input.adjustments ?? 'auto';
  const kinds = input.kinds ?? DEFAULT_KINDS;
  const lines = await payrollLines(db, period, kinds);
  const { adjustments, baseline } = mode === 'omit' ? { adjustments: [], baseline: [] } : await computeAdjustments(db, period, lines, kinds, recorded.export_id);
  const shown = (l: PayrollLine): PayrollLine => (input.kinds ? l : withoutKind(l));
  const result: PayrollExport = { export_id: recorded.export_id, exported_at: recorded.exported_at, from: period.from, to: period.to, lines: lines.map(shown) };
  if (input.kinds) result.kinds = [...kinds];
  if (mode === 'include' || baseline.length > 0) result.baseline = baseline;
  if (mode === 'include' || adjustments.length > 0) result.adjustments = adjustments.map((a) => shown(a) as AdjustmentLine);
  return result;
}

const csvRow = (fields: Array<string | null | undefined>) => `${fields.map(csvField).join(',')}\r\n`;

/** The CSV of a whole document, built as one string. */
export function bufferedCsv(exp: PayrollExport): string {
  const withAdjustments = exp.adjustments !== undefined;
  const kind = (l: PayrollLine) => (exp.kinds ? [l.kind ?? 'leave'] : []);
  let out = csvRow([...(withAdjustments ? [...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason'] : [...PAYROLL_COLUMNS]), ...(exp.kinds ? ['kind'] : [])]);
  for (const l of exp.lines) {
    const fields = PAYROLL_COLUMNS.map((c) => l[c]);
    out += csvRow([...(withAdjustments ? [...fields, 'line', ''] : fields), ...kind(l)]);
  }
  for (const a of exp.adjustments ?? []) out += csvRow([...PAYROLL_COLUMNS.map((c) => a[c]), 'adjustment', a.reason, ...kind(a)]);
  return out;
}
