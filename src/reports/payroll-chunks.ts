/** Reading a recorded payroll export back in chunks of rows, lines then adjustments, for the renderers. */
import { sql } from 'drizzle-orm';
import { queryRows, type Queryable } from '../db/client.js';
import type { ApprovalKind } from '../leave/types.js';
import type { AdjustmentLine, AdjustmentReason, PAYROLL_COLUMNS, PayrollLine, RecordedExport } from './payroll-types.js';

/**
 * Rows read per query: few round trips, and few enough that a chunk is gone before the garbage
 * collector's next young-generation pass would move it to the old one (which grows the heap).
 */
export const EXPORT_CHUNK_ROWS = 1_000;

/** A line or an adjustment of the JSON export. */
export type ExportLine = PayrollLine & Partial<Omit<AdjustmentLine, keyof PayrollLine>>;

/**
 * A recorded row as the chunk query gives it: the contract's columns, every value already in its
 * exported text form, and what the record keeps beside them (nulls where a line has none).
 */
export interface ChunkRow extends Pick<PayrollLine, (typeof PAYROLL_COLUMNS)[number]> {
  line_type: string;
  kind: string | null;
  paid_type: number | null;
  reason: string | null;
  previous_quantity: string | null;
  current_quantity: string | null;
  previous_export_id: string | null;
}

/**
 * The recorded rows of an export, lines then adjustments, in chunks: ranges of `seq` (numbered
 * 1…n when recorded, so each range is known in advance), which every client reads alike (PGlite,
 * postgres.js, Hyperdrive) and which hold no transaction or cursor open between chunks. The next
 * chunk is asked for while the caller renders this one: at most two are held.
 *
 * A plain statement rather than the query builder, and rows as the database gives them: every row
 * of a large export passes through here, and the database gives each value in the form the export
 * prints (dates as text, decimals without trailing zeros by `trim_scale`), so the CSV is written
 * straight from a row and only the JSON makes an object of each (`exportLine`).
 */
export async function* exportChunks(db: Queryable, exp: Pick<RecordedExport, 'export_id' | 'lineCount' | 'adjustmentCount'>, chunkRows = EXPORT_CHUNK_ROWS): AsyncGenerator<ChunkRow[]> {
  const total = exp.lineCount + exp.adjustmentCount;
  const read = (after: number) =>
    queryRows<ChunkRow>(
      db,
      sql`select line_type, employee_id, open_id, email, leave_type, date::text as date, trim_scale(quantity)::text as quantity, unit,
                 instance_code, kind, paid_type, reason, trim_scale(previous_quantity)::text as previous_quantity,
                 trim_scale(current_quantity)::text as current_quantity, previous_export_id::text as previous_export_id
          from payroll_export_lines
          where export_id = ${exp.export_id} and seq > ${after} and seq <= ${after + chunkRows}
          order by seq`,
    );
  let next = total > 0 ? read(0) : null;
  for (let after = 0; next; after += chunkRows) {
    const rows = await next;
    next = after + chunkRows < total ? read(after + chunkRows) : null;
    // a client that stops reading leaves no query unawaited
    next?.catch(() => {});
    yield rows;
  }
}

/** A recorded row as the export's JSON has it: its members in the order the export has always had them. */
export function exportLine(r: ChunkRow, exp: Pick<RecordedExport, 'kinds' | 'payrollCode'>): ExportLine {
  const line: ExportLine = {
    employee_id: r.employee_id,
    open_id: r.open_id,
    email: r.email,
    leave_type: r.leave_type,
    date: r.date,
    quantity: r.quantity,
    unit: r.unit,
    instance_code: r.instance_code,
  };
  // Without `kinds`, an export is what it always was: leave lines, no kind field.
  if (exp.kinds) line.kind = (r.kind ?? 'leave') as ApprovalKind;
  if (r.paid_type !== null) line.paid_type = r.paid_type;
  if (r.line_type === 'adjustment') {
    line.reason = r.reason as AdjustmentReason;
    line.previous_quantity = r.previous_quantity ?? '0';
    line.current_quantity = r.current_quantity ?? '0';
    line.previous_export_id = Number(r.previous_export_id);
  }
  // last, after every other member, as the column comes after every other column
  if (exp.payrollCode) line.payroll_code = exp.payrollCode({ kind: r.kind ?? 'leave', leave_type: r.leave_type });
  return line;
}
