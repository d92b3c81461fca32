/** Rendering a recorded payroll export as CSV (RFC 4180, formula-neutralised fields), streamed chunk by chunk. */
import type { Queryable } from '../db/client.js';
import type { OptionalColumn } from '../policies/payroll-code.js';
import { EXPORT_CHUNK_ROWS, exportChunks, type ChunkRow } from './payroll-chunks.js';
import { PAYROLL_COLUMNS, type RecordedExport } from './payroll-types.js';

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
/** A field that may need quoting or neutralising; most (dates, ids, numbers) need neither. */
const MAY_NEED_WORK = /[",\r\n]|^[=+\-@\t\r]/;

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
  if (!MAY_NEED_WORK.test(v)) return v;
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
  const columns = exp.columns ?? [];
  // each optional column's value for a row (a Record, so a new column cannot be left out here)
  const optional: Record<OptionalColumn, (l: ChunkRow) => string | null | undefined> = {
    payroll_code: (l) => exp.payrollCode?.({ kind: l.kind ?? 'leave', leave_type: l.leave_type }),
  };
  yield csvRow([...(withAdjustments ? [...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason'] : [...PAYROLL_COLUMNS]), ...(exp.kinds ? ['kind'] : []), ...columns]);
  for await (const rows of exportChunks(db, exp, chunkRows)) {
    // every line of an export passes here: concatenated field by field, no array per line
    let out = '';
    for (const l of rows) {
      let line = csvField(l[PAYROLL_COLUMNS[0]]);
      for (let i = 1; i < PAYROLL_COLUMNS.length; i++) line += `,${csvField(l[PAYROLL_COLUMNS[i]!])}`;
      if (l.line_type === 'adjustment') line += `,adjustment,${csvField(l.reason)}`;
      else if (withAdjustments) line += ',line,';
      // asked for kinds: every row carries its kind, after all of the columns an export had before
      if (exp.kinds) line += `,${csvField(l.kind ?? 'leave')}`;
      // the optional columns (a policy's payroll code): after every other column
      for (const c of columns) line += `,${csvField(optional[c](l) ?? '')}`;
      out += `${line}\r\n`;
    }
    yield out;
  }
}
