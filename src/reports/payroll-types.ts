/** The shapes of a payroll export (lines, adjustments, the export, its kinds and columns) and `kinds=` parsing. */
import type { ApprovalKind } from '../leave/types.js';
import type { OptionalColumn } from '../policies/payroll-code.js';

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
