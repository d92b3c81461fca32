import { isNotNull } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { leavePolicies } from '../db/schema.js';
import { PolicySet } from './resolve.js';

/** Columns an export adds after all of its others only when asked (`columns=`) or, for payroll_code, when a policy sets one. */
export const OPTIONAL_COLUMNS = ['payroll_code'] as const;
export type OptionalColumn = (typeof OPTIONAL_COLUMNS)[number];

/** `columns=payroll_code` → the columns, or why not. */
export function parseColumns(text: string): OptionalColumn[] | { error: string } {
  const columns = [...new Set(text.split(',').map((c) => c.trim()).filter((c) => c !== ''))];
  if (columns.length === 0) return { error: `expected a comma-separated list of ${OPTIONAL_COLUMNS.join(', ')}` };
  const bad = columns.find((c) => !(OPTIONAL_COLUMNS as readonly string[]).includes(c));
  if (bad !== undefined) return { error: `unknown column ${JSON.stringify(bad.slice(0, 40))}: expected ${OPTIONAL_COLUMNS.join(', ')}` };
  return columns as OptionalColumn[];
}

/**
 * The export's `payroll_code` column: each line's code from its kind's and type's effective
 * policy (empty where that policy sets none). Null when the column is not wanted: not asked for and
 * no policy sets a code, so an installation without codes keeps the columns it always had.
 */
export async function payrollCodeColumn(
  db: Queryable,
  asked: boolean,
): Promise<((line: { kind?: string | null; leave_type: string | null }) => string | null) | null> {
  if (!asked) {
    const [coded] = await db.select({ kind: leavePolicies.kind }).from(leavePolicies).where(isNotNull(leavePolicies.payrollCode)).limit(1);
    if (!coded) return null;
  }
  // Only payroll codes are read from these policies: the block defaults do not matter here.
  const set = new PolicySet(await db.select().from(leavePolicies), { declineMode: 'declineNone', title: '' });
  return (line) => set.resolve(line.kind ?? 'leave', line.leave_type).payroll_code;
}
