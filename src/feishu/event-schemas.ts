/**
 * zod schemas of the approval events we act on, and the event types they are handled under.
 * Every quirk is from Feishu's documented payload examples, which are the ground truth
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave,
 * …/special-event/out-of-office, …/special-event/business-trip, …/special-event/overtime,
 * …/special-event/attendance-record-correction, …/special-event/shift-change, under
 * https://open.feishu.cn/document/server-docs/approval-v4/event/, and
 * https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-instance-event,
 * https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-task-event):
 * numbers that arrive as strings and strings that arrive as numbers, non-JSON list strings, lists
 * of JSON strings, two unit encodings and a misspelt one, seconds documented as milliseconds.
 */
import { z } from 'zod';
import { normaliseLocal } from '../shared/local-time.js';
import { LEAVE_UNITS, type LeaveUnit } from '../leave/types.js';

/** An integer, or a string of one (Feishu sends both). */
export const IntLike = z.union([
  z.number().int(),
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'expected an integer')
    .transform(Number),
]);

const NonNegInt = IntLike.pipe(z.number().int().min(0).max(2_147_483_647));

const OptText = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? null : String(v)));

const Code = z.string().trim().min(1).max(200);

const LocalTime = z.string().transform((v, ctx) => {
  const local = normaliseLocal(v);
  if (local === null) {
    ctx.addIssue({ code: 'custom', message: `expected a local time like 2024-09-05 12:00:00, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return local;
});

const V1_UNITS: Record<number, LeaveUnit> = { 1: 'DAY', 2: 'HALF_DAY', 3: 'HOUR', 4: 'HALF_HOUR', 5: 'MINUTE' };

/** V1 sends 1..5, V2 sends DAY…MINUTE; either may arrive as the other's type in practice. */
const Unit = z.union([z.number(), z.string()]).transform((v, ctx): LeaveUnit => {
  const s = String(v).trim().toUpperCase();
  if (/^\d+$/.test(s) && V1_UNITS[Number(s)]) return V1_UNITS[Number(s)]!;
  if ((LEAVE_UNITS as readonly string[]).includes(s)) return s as LeaveUnit;
  ctx.addIssue({ code: 'custom', message: `unknown leave_unit ${JSON.stringify(v)}` });
  return z.NEVER;
});

/** Seconds since epoch for revert events; accepts int or string. */
const EpochSeconds = IntLike.transform((n) => new Date(n * 1000));
/** Milliseconds since epoch for approval_instance: string normally, int64 for REVERTED. */
const EpochMillis = IntLike.transform((n) => new Date(n));

export const LeaveApprovalV1 = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  employee_id: Code,
  open_id: OptText,
  leave_type: OptText,
  leave_start_time: LocalTime,
  leave_end_time: LocalTime,
  leave_interval: NonNegInt,
  leave_unit: Unit,
  leave_reason: OptText,
});

export const LeaveApprovalV2 = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  user_id: Code,
  open_id: OptText,
  leave_name: OptText,
  i18n_resources: z.unknown().optional(),
  leave_start_time: LocalTime,
  leave_end_time: LocalTime,
  leave_interval: NonNegInt,
  leave_unit: Unit,
  leave_range: z.unknown().optional(),
  leave_detail: z.unknown().optional(),
  leave_reason: OptText,
});

export const LeaveApprovalRevert = z.object({
  instance_code: Code,
  approval_code: OptText,
  operate_time: EpochSeconds.nullish(),
});

export const ApprovalInstance = z.object({
  instance_code: Code,
  approval_code: OptText,
  status: z.string().trim().toUpperCase(),
  operate_time: EpochMillis.nullish(),
});

/**
 * out_unit: HOUR, DAY, and HALF_DAY documented as "HALR_DAY" (the out-of-office page's own field
 * table); the leave units are accepted too, since the form's unit is what is sent.
 */
const OutUnit = z.union([z.number(), z.string()]).transform((v, ctx): LeaveUnit => {
  const s = String(v).trim().toUpperCase();
  if (s === 'HALR_DAY') return 'HALF_DAY';
  if ((LEAVE_UNITS as readonly string[]).includes(s)) return s as LeaveUnit;
  ctx.addIssue({ code: 'custom', message: `unknown out_unit ${JSON.stringify(v)}` });
  return z.NEVER;
});

export const OutApproval = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  user_id: Code,
  open_id: OptText,
  out_name: OptText,
  i18n_resources: z.unknown().optional(),
  out_start_time: LocalTime,
  out_end_time: LocalTime,
  out_interval: NonNegInt,
  out_unit: OutUnit,
  out_reason: OptText,
});

/** The v1 revert events of out and overtime, shaped like leave_approval_revert. */
export const SpecialRevert = LeaveApprovalRevert;

const TimeRange = z.object({ work_start_time: LocalTime, work_end_time: LocalTime });
const WorkDetail = z.object({ start: LocalTime, end: LocalTime, interval: NonNegInt });

export const WorkApproval = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  employee_id: Code,
  open_id: OptText,
  work_type: OptText,
  work_start_time: LocalTime,
  work_end_time: LocalTime,
  work_interval: NonNegInt,
  time_range: z.array(TimeRange).nullish(),
  work_detail: z.array(WorkDetail).nullish(),
  work_reason: OptText,
});

export const ShiftApproval = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  employee_id: Code,
  open_id: OptText,
  shift_time: LocalTime,
  return_time: LocalTime,
  shift_reason: OptText,
});

/**
 * remedy_time: documented in milliseconds, while the page's example (1661333019) is seconds, and
 * the legacy v1 event sends it as a string: accept all three. A value below 10^11 cannot be
 * milliseconds of any date after 1973, so it is read as seconds.
 */
const EpochSecondsOrMillis = IntLike.transform((n) => new Date(Math.abs(n) < 100_000_000_000 ? n * 1000 : n));

const RemedyFields = {
  instance_code: Code,
  employee_id: Code,
  open_id: OptText,
  approval_code: OptText,
  remedy_time: EpochSecondsOrMillis,
  remedy_reason: OptText,
};
/** approval.instance.remedy_group_update_v4 (2.0 schema): event.object */
export const RemedyGroup = z.object({ ...RemedyFields, status: z.string().trim().toUpperCase().nullish() });
/** the legacy v1 remedy_approval */
export const RemedyApprovalV1 = z.object({ ...RemedyFields, tenant_key: OptText });

const UserIds = z.object({ user_id: OptText, open_id: OptText, union_id: OptText });

export const TripSchedule = z.object({
  trip_start_time: LocalTime,
  trip_end_time: LocalTime,
  trip_interval: NonNegInt,
  departure: OptText,
  destination: OptText,
  transportation: OptText,
  trip_type: OptText,
  remark: OptText,
});

/** approval.instance.trip_group_update_v4 (2.0 schema): event.object, trip_interval a string */
export const TripGroup = z.object({
  type: z.string().trim().toUpperCase().nullish(),
  instance_code: Code,
  approval_code: OptText,
  start_user: z.object({ id: UserIds }),
  schedules: z.array(TripSchedule),
  trip_interval: NonNegInt.nullish(),
  trip_reason: OptText,
  trip_peers: z.array(z.object({ id: UserIds })).nullish(),
});

/** the legacy v1 trip_approval (as the official SDKs type it: peers as plain ids) */
export const TripApprovalV1 = z.object({
  instance_code: Code,
  approval_code: OptText,
  tenant_key: OptText,
  employee_id: Code,
  open_id: OptText,
  schedules: z.array(TripSchedule),
  trip_interval: NonNegInt.nullish(),
  trip_reason: OptText,
  trip_peers: z.array(z.string()).nullish(),
});

export const ApprovalTaskEvent = z.object({
  instance_code: Code,
  approval_code: OptText,
  task_id: z.union([z.string().trim().min(1).max(200), z.number().transform(String)]),
  user_id: OptText,
  open_id: OptText,
  status: z.string().trim().toUpperCase().min(1).max(64),
  operate_time: EpochMillis.nullish(),
  extra: z.unknown().optional(),
});

export const TRIP_EVENT = 'approval.instance.trip_group_update_v4';
export const REMEDY_EVENT = 'approval.instance.remedy_group_update_v4';

export const HANDLED_EVENT_TYPES = [
  'leave_approval',
  'leave_approvalV2',
  'leave_approval_revert',
  'out_approval',
  'out_approval_revert',
  'work_approval',
  'work_approval_revert',
  'shift_approval',
  'remedy_approval',
  'trip_approval',
  TRIP_EVENT,
  REMEDY_EVENT,
  'approval_instance',
  'approval_task',
] as const;
