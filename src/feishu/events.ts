import { z } from 'zod';
import { normaliseLocal } from '../shared/local-time.js';
import { LEAVE_UNITS, type LeaveApproval, type LeaveEvent, type LeaveUnit } from '../leave/types.js';
import { unitFor } from '../leave/days.js';
import { LooseParseError, parseI18nResources, parseLoose, parseSegments, resolveI18nText } from './strings.js';

/**
 * zod schemas for the approval events we act on, and their reduction to one canonical LeaveEvent.
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

/** An authentic event whose content we cannot use: kept in quarantine with this reason. */
export class UnusableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableEventError';
  }
}

const IntLike = z.union([
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

const TripSchedule = z.object({
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

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
    .join('; ');
}

function parse<T extends z.ZodTypeAny>(schema: T, event: unknown, type: string): z.output<T> {
  const r = schema.safeParse(event);
  if (!r.success) throw new UnusableEventError(`${type}: ${describe(r.error)}`);
  return r.data;
}

function segmentsOf(
  raw: unknown,
  field: 'leave_range' | 'leave_detail',
): Array<[string, string]> {
  let pairs: Array<[string, string]>;
  try {
    pairs = parseSegments(raw);
  } catch (err) {
    if (err instanceof LooseParseError) throw new UnusableEventError(`${field}: ${err.message}`);
    throw err;
  }
  return pairs.map(([s, e], i) => {
    const start = normaliseLocal(s);
    const end = normaliseLocal(e);
    if (start === null || end === null) {
      throw new UnusableEventError(`${field}[${i}]: not a pair of local times: ${JSON.stringify([s, e])}`);
    }
    if (end < start) throw new UnusableEventError(`${field}[${i}]: ends before it starts`);
    return [start, end];
  });
}

/** i18n_resources as a list of JSON strings (out_approval), a list of objects, or V2's loose string. */
function i18nName(resources: unknown, key: string | null): string | null {
  let parsed;
  try {
    const list = Array.isArray(resources) ? resources.map((r) => (typeof r === 'string' ? parseLoose(r) : r)) : resources;
    parsed = parseI18nResources(list);
  } catch (err) {
    if (err instanceof LooseParseError) throw new UnusableEventError(`i18n_resources: ${err.message}`);
    throw err;
  }
  return key === null ? null : (resolveI18nText(parsed, key) ?? (key.startsWith('@i18n@') ? null : key));
}

/** What every v1 approval event says of its instance and requester. */
const v1Of = (
  approvalKind: LeaveApproval['approvalKind'],
  e: { instance_code: string; approval_code: string | null; tenant_key: string | null; open_id: string | null },
  employeeId: string,
) =>
  ({
    kind: 'approve',
    approvalKind,
    variant: 'v1',
    instanceCode: e.instance_code,
    approvalCode: e.approval_code,
    tenantKey: e.tenant_key,
    employeeId,
    openId: e.open_id,
  }) as const;

/** A v1 approval of one span, start..end (leave_approval, out_approval). */
function span(
  who: Pick<LeaveApproval, 'approvalKind' | 'instanceCode' | 'approvalCode' | 'tenantKey' | 'employeeId' | 'openId'>,
  what: Pick<LeaveApproval, 'leaveType' | 'leaveTypeKey' | 'unit' | 'intervalSeconds' | 'reason'>,
  startLocal: string,
  endLocal: string,
): LeaveApproval {
  return { kind: 'approve', variant: 'v1', ...who, ...what, startLocal, endLocal, segments: [[startLocal, endLocal]], segmentsSource: 'start_end' };
}

function ordered(type: string, start: string, end: string): void {
  if (end < start) throw new UnusableEventError(`${type}: ends before it starts`);
}

/** A 2.0-schema special event carries its fields in event.object. */
const objectOf = (event: unknown): unknown =>
  typeof event === 'object' && event !== null && 'object' in event ? (event as { object: unknown }).object : event;

function tripApproval(
  type: string,
  variant: 'v1' | 'v2',
  e: { instance_code: string; approval_code: string | null; trip_reason: string | null; trip_interval?: number | null; schedules: z.output<typeof TripSchedule>[] },
  who: { employeeId: string; openId: string | null; tenantKey: string | null },
  peers: string[],
): LeaveApproval {
  if (e.schedules.length === 0) throw new UnusableEventError(`${type}: a trip without schedules`);
  e.schedules.forEach((s, i) => ordered(`${type} schedules[${i}]`, s.trip_start_time, s.trip_end_time));
  const seconds = e.schedules.map((s) => s.trip_interval);
  const starts = e.schedules.map((s) => s.trip_start_time).sort();
  const ends = e.schedules.map((s) => s.trip_end_time).sort();
  return {
    kind: 'approve',
    approvalKind: 'trip',
    variant,
    instanceCode: e.instance_code,
    approvalCode: e.approval_code,
    tenantKey: who.tenantKey,
    employeeId: who.employeeId,
    openId: who.openId,
    leaveType: null,
    leaveTypeKey: null,
    // A trip has no unit: whole or half days when every schedule is, else hours or minutes.
    unit: unitFor(seconds, ['HALF_DAY', 'HOUR', 'HALF_HOUR', 'MINUTE']),
    intervalSeconds: seconds.reduce((a, b) => a + b, 0),
    startLocal: starts[0]!,
    endLocal: ends[ends.length - 1]!,
    segments: e.schedules.map((s) => [s.trip_start_time, s.trip_end_time]),
    segmentSeconds: seconds,
    segmentsSource: 'schedules',
    reason: e.trip_reason,
    peers: [...new Set(peers.filter((p) => p !== who.employeeId))],
    extra: {
      trip_interval: e.trip_interval ?? null,
      schedules: e.schedules.map((s) => ({ departure: s.departure, destination: s.destination, transportation: s.transportation, trip_type: s.trip_type, remark: s.remark })),
    },
  };
}

/**
 * Reduce one approval event (already authenticated, `type` from the v1 event body or the v2
 * header) to the canonical LeaveEvent. Throws UnusableEventError for content we cannot apply.
 */
export function normaliseEvent(eventType: string, event: unknown): LeaveEvent {
  switch (eventType) {
    case 'leave_approval': {
      const e = parse(LeaveApprovalV1, event, eventType);
      if (e.leave_end_time < e.leave_start_time) throw new UnusableEventError('leave_approval: leave ends before it starts');
      return span(
        { approvalKind: 'leave', instanceCode: e.instance_code, approvalCode: e.approval_code, tenantKey: e.tenant_key, employeeId: e.employee_id, openId: e.open_id },
        { leaveType: e.leave_type, leaveTypeKey: null, unit: e.leave_unit, intervalSeconds: e.leave_interval, reason: e.leave_reason },
        e.leave_start_time,
        e.leave_end_time,
      );
    }
    case 'leave_approvalV2': {
      const e = parse(LeaveApprovalV2, event, eventType);
      if (e.leave_end_time < e.leave_start_time) throw new UnusableEventError('leave_approvalV2: leave ends before it starts');
      let resources;
      try {
        resources = parseI18nResources(e.i18n_resources);
      } catch (err) {
        if (err instanceof LooseParseError) throw new UnusableEventError(`i18n_resources: ${err.message}`);
        throw err;
      }
      const key = e.leave_name;
      const name = key === null ? null : (resolveI18nText(resources, key) ?? (key.startsWith('@i18n@') ? null : key));
      const range = segmentsOf(e.leave_range, 'leave_range');
      const detail = range.length > 0 ? [] : segmentsOf(e.leave_detail, 'leave_detail');
      const segments = range.length > 0 ? range : detail.length > 0 ? detail : [[e.leave_start_time, e.leave_end_time] as [string, string]];
      return {
        kind: 'approve',
        approvalKind: 'leave',
        variant: 'v2',
        instanceCode: e.instance_code,
        approvalCode: e.approval_code,
        tenantKey: e.tenant_key,
        employeeId: e.user_id,
        openId: e.open_id,
        leaveType: name,
        leaveTypeKey: key,
        unit: e.leave_unit,
        intervalSeconds: e.leave_interval,
        startLocal: e.leave_start_time,
        endLocal: e.leave_end_time,
        segments,
        segmentsSource: range.length > 0 ? 'leave_range' : detail.length > 0 ? 'leave_detail' : 'start_end',
        reason: e.leave_reason,
      };
    }
    case 'leave_approval_revert':
    case 'out_approval_revert':
    case 'work_approval_revert': {
      const e = parse(LeaveApprovalRevert, event, eventType);
      return {
        kind: 'revert',
        via: eventType,
        approvalKind: eventType === 'leave_approval_revert' ? 'leave' : eventType === 'out_approval_revert' ? 'out' : 'overtime',
        instanceCode: e.instance_code,
        approvalCode: e.approval_code,
        status: 'REVERTED',
        operateTime: e.operate_time ?? null,
      };
    }
    case 'approval_instance': {
      const e = parse(ApprovalInstance, event, eventType);
      if (e.status === 'REVERTED' || e.status === 'CANCELED' || e.status === 'DELETED') {
        return {
          kind: 'revert',
          via: 'approval_instance',
          approvalKind: null,
          instanceCode: e.instance_code,
          approvalCode: e.approval_code,
          status: e.status,
          operateTime: e.operate_time ?? null,
        };
      }
      if (e.status === 'PENDING' || e.status === 'APPROVED' || e.status === 'REJECTED') {
        return { kind: 'instance', instanceCode: e.instance_code, approvalCode: e.approval_code, status: e.status, operateTime: e.operate_time ?? null };
      }
      return { kind: 'ignore', reason: `approval_instance status ${e.status} changes no leave`, instanceCode: e.instance_code };
    }
    case 'out_approval': {
      const e = parse(OutApproval, event, eventType);
      ordered(eventType, e.out_start_time, e.out_end_time);
      return span(
        { approvalKind: 'out', instanceCode: e.instance_code, approvalCode: e.approval_code, tenantKey: e.tenant_key, employeeId: e.user_id, openId: e.open_id },
        { leaveType: i18nName(e.i18n_resources, e.out_name), leaveTypeKey: e.out_name, unit: e.out_unit, intervalSeconds: e.out_interval, reason: e.out_reason },
        e.out_start_time,
        e.out_end_time,
      );
    }
    case 'work_approval': {
      const e = parse(WorkApproval, event, eventType);
      ordered(eventType, e.work_start_time, e.work_end_time);
      const detail = e.work_detail ?? [];
      const ranges = e.time_range ?? [];
      ranges.forEach((r, i) => ordered(`${eventType} time_range[${i}]`, r.work_start_time, r.work_end_time));
      detail.forEach((d, i) => ordered(`${eventType} work_detail[${i}]`, d.start, d.end));
      // work_detail gives the hours per date (each entry's interval on its own dates); without it,
      // work_interval is spread over time_range, else over start..end.
      const base = {
        ...v1Of('overtime', e, e.employee_id),
        leaveType: e.work_type,
        leaveTypeKey: null,
        startLocal: e.work_start_time,
        endLocal: e.work_end_time,
        reason: e.work_reason,
        extra: { work_interval: e.work_interval },
      } as const;
      if (detail.length > 0) {
        const seconds = detail.map((d) => d.interval);
        return {
          ...base,
          unit: unitFor(seconds, ['HOUR', 'HALF_HOUR', 'MINUTE']),
          intervalSeconds: seconds.reduce((a, b) => a + b, 0),
          segments: detail.map((d) => [d.start, d.end]),
          segmentSeconds: seconds,
          segmentsSource: 'work_detail',
        };
      }
      return {
        ...base,
        unit: unitFor([e.work_interval], ['HOUR', 'HALF_HOUR', 'MINUTE']),
        intervalSeconds: e.work_interval,
        segments: ranges.length > 0 ? ranges.map((r) => [r.work_start_time, r.work_end_time]) : [[e.work_start_time, e.work_end_time]],
        segmentsSource: ranges.length > 0 ? 'time_range' : 'start_end',
      };
    }
    case 'shift_approval': {
      const e = parse(ShiftApproval, event, eventType);
      return {
        ...v1Of('shift', e, e.employee_id),
        leaveType: null,
        leaveTypeKey: null,
        unit: null,
        intervalSeconds: null,
        // a swap names two moments (the shift given up, the one worked in return), not a span
        startLocal: e.shift_time,
        endLocal: e.return_time,
        segments: [],
        segmentsSource: 'none',
        reason: e.shift_reason,
        extra: { shift_time: e.shift_time, return_time: e.return_time },
      };
    }
    case REMEDY_EVENT:
    case 'remedy_approval': {
      const v2 = eventType === REMEDY_EVENT;
      const e = v2 ? parse(RemedyGroup, objectOf(event), eventType) : parse(RemedyApprovalV1, event, eventType);
      if (v2 && 'status' in e && e.status && e.status !== 'APPROVED') {
        return { kind: 'ignore', reason: `${eventType} status ${e.status} changes no record`, instanceCode: e.instance_code };
      }
      return {
        kind: 'approve',
        approvalKind: 'remedy',
        variant: v2 ? 'v2' : 'v1',
        instanceCode: e.instance_code,
        approvalCode: e.approval_code,
        tenantKey: 'tenant_key' in e ? (e.tenant_key ?? null) : null,
        employeeId: e.employee_id,
        openId: e.open_id,
        leaveType: null,
        leaveTypeKey: null,
        unit: null,
        intervalSeconds: null,
        startLocal: null,
        endLocal: null,
        segments: [],
        segmentsSource: 'none',
        reason: e.remedy_reason,
        extra: { remedy_time: e.remedy_time.toISOString() },
      };
    }
    case TRIP_EVENT: {
      const e = parse(TripGroup, objectOf(event), eventType);
      if (e.type && e.type !== 'APPROVED') {
        return { kind: 'ignore', reason: `${eventType} type ${e.type} changes no record`, instanceCode: e.instance_code };
      }
      const employeeId = e.start_user.id.user_id;
      if (!employeeId) throw new UnusableEventError(`${eventType}: start_user.id.user_id is missing (the app needs contact:user.employee_id:readonly)`);
      const peers = (e.trip_peers ?? []).map((p, i) => {
        if (!p.id.user_id) throw new UnusableEventError(`${eventType}: trip_peers[${i}].id.user_id is missing`);
        return p.id.user_id;
      });
      return tripApproval(eventType, 'v2', e, { employeeId, openId: e.start_user.id.open_id, tenantKey: null }, peers);
    }
    case 'trip_approval': {
      const e = parse(TripApprovalV1, event, eventType);
      return tripApproval(eventType, 'v1', e, { employeeId: e.employee_id, openId: e.open_id, tenantKey: e.tenant_key }, e.trip_peers ?? []);
    }
    case 'approval_task': {
      const e = parse(ApprovalTaskEvent, event, eventType);
      let extra: unknown = e.extra ?? null;
      // extra is a JSON string (rollback's node ids); kept as sent when it is not JSON
      if (typeof extra === 'string') extra = extra.trim() === '' ? null : (parseJsonOr(extra) ?? extra);
      return {
        kind: 'task',
        instanceCode: e.instance_code,
        approvalCode: e.approval_code,
        taskId: e.task_id,
        userId: e.user_id,
        openId: e.open_id,
        status: e.status,
        operateTime: e.operate_time ?? null,
        extra,
      };
    }
    default:
      return { kind: 'ignore', reason: `event type ${eventType} is not handled`, instanceCode: null };
  }
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
