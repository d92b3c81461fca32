import type { LocalDateTime } from '../shared/local-time.js';

export const LEAVE_UNITS = ['DAY', 'HALF_DAY', 'HOUR', 'HALF_HOUR', 'MINUTE'] as const;
export type LeaveUnit = (typeof LEAVE_UNITS)[number];
export type BaseUnit = 'day' | 'hour' | 'minute';

/** What a unit means for quantities: the base it is printed in and its granularity in seconds. */
export const UNIT_INFO: Record<LeaveUnit, { base: BaseUnit; baseSeconds: number; stepSeconds: number }> = {
  DAY: { base: 'day', baseSeconds: 86_400, stepSeconds: 86_400 },
  HALF_DAY: { base: 'day', baseSeconds: 86_400, stepSeconds: 43_200 },
  HOUR: { base: 'hour', baseSeconds: 3_600, stepSeconds: 3_600 },
  HALF_HOUR: { base: 'hour', baseSeconds: 3_600, stepSeconds: 1_800 },
  MINUTE: { base: 'minute', baseSeconds: 60, stepSeconds: 60 },
};


/** The approval side of a leave, as either V1, V2 or the instance API (backfill) describes it. */
export interface LeaveApproval {
  kind: 'approve';
  /** v1 = leave_approval, v2 = leave_approvalV2, backfill = approval instance API */
  variant: 'v1' | 'v2' | 'backfill';
  instanceCode: string;
  approvalCode: string | null;
  tenantKey: string | null;
  employeeId: string;
  openId: string | null;
  leaveType: string | null;
  leaveTypeKey: string | null;
  unit: LeaveUnit;
  intervalSeconds: number;
  startLocal: LocalDateTime;
  endLocal: LocalDateTime;
  segments: Array<[LocalDateTime, LocalDateTime]>;
  segmentsSource: 'leave_range' | 'leave_detail' | 'start_end';
  reason: string | null;
}

export interface LeaveRevert {
  kind: 'revert';
  via: 'leave_approval_revert' | 'approval_instance' | 'backfill';
  instanceCode: string;
  approvalCode: string | null;
  /** REVERTED, CANCELED, DELETED for approval_instance; REVERTED otherwise */
  status: 'REVERTED' | 'CANCELED' | 'DELETED';
  operateTime: Date | null;
}

export interface IgnoredEvent {
  kind: 'ignore';
  reason: string;
  instanceCode: string | null;
}

/** The one canonical event every input (webhook, long connection, backfill) is reduced to. */
export type LeaveEvent = LeaveApproval | LeaveRevert | IgnoredEvent;

export interface DayQuantity {
  date: string;
  /** plain decimal, e.g. "1", "0.5", "2.25" */
  quantity: string;
}
