import { AllocationError } from './allocate.js';
import { daysOf } from './days.js';
import type { ApprovalTask, DayQuantity, InstanceStatus, LeaveApproval, LeaveEvent, LeaveRevert, SyncDoorbell } from './types.js';

/**
 * What an adapter read from one authentic delivery: the canonical event, or why its content cannot
 * be used. Either way the delivery is stored (an unusable one in quarantine, with the reason), so
 * nothing authentic is lost. `instanceCode` names the approval the delivery is about, when it says.
 */
export type Reading =
  | { event: LeaveEvent; instanceCode: string | null }
  | { problem: string; instanceCode: string | null };

export type Planned =
  | { status: 'applied'; event: AppliedEvent; days: DayQuantity[] | null }
  | { status: 'ignored'; reason: string; instanceCode: string | null }
  | { status: 'quarantined'; reason: string; instanceCode: string | null };

/** The events that change stored state. */
export type AppliedEvent = LeaveApproval | LeaveRevert | ApprovalTask | InstanceStatus | SyncDoorbell;

/**
 * An instance's PENDING, APPROVED or REJECTED matters only with tentative holds on
 * (CALENDAR_TENTATIVE_HOLDS); without them it changes nothing, as it always did.
 */
export function withHoldsPolicy(planned: Planned, holds: boolean): Planned {
  if (!holds && planned.status === 'applied' && planned.event.kind === 'approve' && planned.event.pending) {
    return { status: 'ignored', reason: `${planned.event.source ?? 'approval'} request ${planned.event.instanceCode} is pending; tentative holds are off`, instanceCode: planned.event.instanceCode };
  }
  if (holds || planned.status !== 'applied' || planned.event.kind !== 'instance') return planned;
  const { status, instanceCode } = planned.event;
  return { status: 'ignored', reason: `approval_instance status ${status} changes no leave`, instanceCode };
}

/** A CoreHR doorbell rings for nothing while the CoreHR sync is off (COREHR_ENABLED): stored, ignored. */
export function withCorehrPolicy(planned: Planned, enabled: boolean): Planned {
  if (enabled || planned.status !== 'applied' || planned.event.kind !== 'doorbell') return planned;
  return { status: 'ignored', reason: `CoreHR process ${planned.event.processId}: the CoreHR sync is off (COREHR_ENABLED)`, instanceCode: null };
}

/** Pure: what a reading means, before any database work. Days that cannot be allocated → quarantine. */
export function plan(reading: Reading): Planned {
  if ('problem' in reading) return { status: 'quarantined', reason: reading.problem, instanceCode: reading.instanceCode };
  const { event, instanceCode } = reading;
  if (event.kind === 'ignore') return { status: 'ignored', reason: event.reason, instanceCode: event.instanceCode };
  if (event.kind === 'revert' || event.kind === 'task' || event.kind === 'instance' || event.kind === 'doorbell') {
    return { status: 'applied', event, days: null };
  }
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
