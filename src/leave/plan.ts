import { AllocationError } from './allocate.js';
import { daysOf } from './days.js';
import type { ApprovalTask, DayQuantity, LeaveApproval, LeaveEvent, LeaveRevert } from './types.js';

/**
 * What an adapter read from one authentic delivery: the canonical event, or why its content cannot
 * be used. Either way the delivery is stored (an unusable one in quarantine, with the reason), so
 * nothing authentic is lost. `instanceCode` names the approval the delivery is about, when it says.
 */
export type Reading =
  | { event: LeaveEvent; instanceCode: string | null }
  | { problem: string; instanceCode: string | null };

export type Planned =
  | { status: 'applied'; event: LeaveApproval | LeaveRevert | ApprovalTask; days: DayQuantity[] | null }
  | { status: 'ignored'; reason: string; instanceCode: string | null }
  | { status: 'quarantined'; reason: string; instanceCode: string | null };

/** Pure: what a reading means, before any database work. Days that cannot be allocated → quarantine. */
export function plan(reading: Reading): Planned {
  if ('problem' in reading) return { status: 'quarantined', reason: reading.problem, instanceCode: reading.instanceCode };
  const { event, instanceCode } = reading;
  if (event.kind === 'ignore') return { status: 'ignored', reason: event.reason, instanceCode: event.instanceCode };
  if (event.kind === 'revert' || event.kind === 'task') return { status: 'applied', event, days: null };
  try {
    return { status: 'applied', event, days: daysOf(event) };
  } catch (err) {
    if (err instanceof AllocationError) return { status: 'quarantined', reason: err.message, instanceCode };
    throw err;
  }
}

/** The approval a planned delivery belongs to, if any (an unusable one may still name it). */
export const instanceCodeOf = (planned: Planned): string | null =>
  planned.status === 'applied' ? planned.event.instanceCode : planned.instanceCode;
