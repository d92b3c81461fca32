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

/**
 * The kinds of approval Feishu reports about time away and time worked
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/function-introduction):
 * leave, out (外出) and trip (出差) are time away, with calendar blocks and day records; overtime
 * (加班) is time worked, day records in hours and no block; remedy (补卡) and shift (换班) are
 * recorded and listed only.
 */
export const APPROVAL_KINDS = ['leave', 'out', 'trip', 'overtime', 'remedy', 'shift'] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

/** Kinds whose approval blocks the requester's (and a trip's peers') calendar. */
export const BLOCKING_KINDS: readonly ApprovalKind[] = ['leave', 'out', 'trip'];
/** Kinds with day records (quantities per local date). */
export const QUANTITY_KINDS: readonly ApprovalKind[] = ['leave', 'out', 'trip', 'overtime'];

export type SegmentsSource = 'leave_range' | 'leave_detail' | 'start_end' | 'schedules' | 'time_range' | 'work_detail' | 'none';

/**
 * The approval side of an approval of any kind, as an event or the instance API (backfill)
 * describes it. The leave-named fields keep their names for every kind: `leaveType` is the
 * kind's type name (leave type, out type, overtime type), `unit`/`intervalSeconds` its quantity.
 */
export interface LeaveApproval {
  kind: 'approve';
  approvalKind: ApprovalKind;
  /**
   * v1 = a v1 event (leave_approval, out_approval, work_approval, shift_approval, trip_approval,
   * remedy_approval), v2 = a richer event (leave_approvalV2, the 2.0-schema trip and remedy
   * events), backfill = approval instance API
   */
  variant: 'v1' | 'v2' | 'backfill' | 'corehr';
  instanceCode: string;
  approvalCode: string | null;
  tenantKey: string | null;
  employeeId: string;
  openId: string | null;
  leaveType: string | null;
  leaveTypeKey: string | null;
  /** null for kinds without a quantity (remedy, shift) */
  unit: LeaveUnit | null;
  intervalSeconds: number | null;
  startLocal: LocalDateTime | null;
  endLocal: LocalDateTime | null;
  /**
   * The time covered. For a trip, one per schedule (each gets its own calendar block); for
   * overtime from work_detail, one zero-length segment per detail entry on its date.
   */
  segments: Array<[LocalDateTime, LocalDateTime]>;
  /** seconds of each segment, when the event gives them per segment (trip schedules, work_detail) */
  segmentSeconds?: number[];
  segmentsSource: SegmentsSource;
  reason: string | null;
  /** a trip's peers (user_ids): they travel too, and get the same blocks and days */
  peers?: string[];
  /** what else the kind's event says, kept for reports (remedy time, shift times, schedules' places) */
  extra?: Record<string, unknown>;
  /** where the record comes from; absent = approval (the Approval app) */
  source?: RecordSource;
  /** a zone the source names for the record (a CoreHR request's time_zone), fixed on it when created */
  timezone?: string;
  /** the day records the source gives itself (CoreHR's details[]), used instead of an allocation */
  givenDays?: DayQuantity[];
  /** a request still pending (CoreHR statuses 2): recorded only with tentative holds on */
  pending?: boolean;
}

/** Approval = the Approval app's events and instances; corehr = Feishu People (CoreHR) leave requests. */
export const RECORD_SOURCES = ['approval', 'corehr'] as const;
export type RecordSource = (typeof RECORD_SOURCES)[number];

/**
 * A CoreHR process event (corehr.process.status.update_v2, corehr.process.updated_v2): it names a
 * process and nothing a record is made of, so it only rings for a sync that reads the requests
 * from the leave API (events are doorbells, the API is the truth).
 */
/** The outbox key of the CoreHR sync (kind corehr.sync): one pending sync at a time, rung by every doorbell. */
export const COREHR_SYNC_KEY = 'corehr';
export const COREHR_SYNC_KIND = 'corehr.sync';

export interface SyncDoorbell {
  kind: 'doorbell';
  processId: string;
  status: number | null;
  bizType: string | null;
  instanceCode: null;
}

export type Approval = LeaveApproval;

export interface LeaveRevert {
  kind: 'revert';
  via: 'leave_approval_revert' | 'out_approval_revert' | 'work_approval_revert' | 'approval_instance' | 'backfill' | 'corehr';
  /** the kind the revert names; null where the event does not say (approval_instance) */
  approvalKind: ApprovalKind | null;
  instanceCode: string;
  approvalCode: string | null;
  /** REVERTED, CANCELED, DELETED for approval_instance; REVERTED otherwise */
  status: 'REVERTED' | 'CANCELED' | 'DELETED';
  operateTime: Date | null;
}

export const TASK_STATUSES = [
  'PENDING',
  'APPROVED',
  'REJECTED',
  'TRANSFERRED',
  'ROLLBACK',
  'DONE',
  'REVERTED',
  'OVERTIME_CLOSE',
  'OVERTIME_RECOVER',
] as const;

/** One step of an approval's path through its approvers (approval_task). */
export interface ApprovalTask {
  kind: 'task';
  instanceCode: string;
  approvalCode: string | null;
  taskId: string;
  /** empty for an automatic approval */
  userId: string | null;
  openId: string | null;
  /** one of TASK_STATUSES, or whatever newer status Feishu sends (kept as sent) */
  status: string;
  operateTime: Date | null;
  extra: unknown;
}

/**
 * A change of an instance's state that is not an approval's detail (approval_instance PENDING,
 * APPROVED, REJECTED). Acted on only with tentative holds on: a pending request is recorded (and
 * held on the calendar), a rejected one undone, an approved one's hold becomes its block.
 */
export interface InstanceStatus {
  kind: 'instance';
  instanceCode: string;
  approvalCode: string | null;
  status: 'PENDING' | 'APPROVED' | 'REJECTED';
  operateTime: Date | null;
}

export interface IgnoredEvent {
  kind: 'ignore';
  reason: string;
  instanceCode: string | null;
}

/** The one canonical event every input (webhook, long connection, backfill) is reduced to. */
export type LeaveEvent = LeaveApproval | LeaveRevert | ApprovalTask | InstanceStatus | SyncDoorbell | IgnoredEvent;
export type ApprovalEvent = LeaveEvent;

export interface DayQuantity {
  date: string;
  /** plain decimal, e.g. "1", "0.5", "2.25" */
  quantity: string;
  /** whose day it is, when not the requester's (a trip's peers) */
  employeeId?: string;
  /** CoreHR's paid_type of the date (1 not in payroll, 2 affects pay, 3 does not) */
  paidType?: number;
}
