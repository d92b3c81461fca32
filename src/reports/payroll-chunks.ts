/** Reading a recorded payroll export back in chunks of rows, lines then adjustments, for the renderers. */
import { and, asc, eq, gt, lte } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { payrollExportLines } from '../db/schema.js';
import type { ApprovalKind } from '../leave/types.js';
import { canonicalDecimal } from '../shared/decimal.js';
import type { AdjustmentLine, AdjustmentReason, PayrollLine, RecordedExport } from './payroll-types.js';

/** Rows read per query: bounded memory, few round trips. */
export const EXPORT_CHUNK_ROWS = 2_000;

export type StoredRow = PayrollLine & { line_type: string } & Partial<Omit<AdjustmentLine, keyof PayrollLine>>;

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
