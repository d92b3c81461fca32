import { z } from 'zod';
import { normaliseLocal } from '../shared/local-time.js';
import { LEAVE_UNITS, type LeaveEvent, type LeaveUnit } from '../leave/types.js';
import { LooseParseError, parseI18nResources, parseSegments, resolveI18nText } from './strings.js';

/**
 * zod schemas for the approval events we act on, and their reduction to one canonical LeaveEvent.
 * Every quirk is from Feishu's documented payload examples, which are the ground truth
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave and
 * https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-instance-event): numbers that arrive as
 * strings and strings that arrive as numbers, non-JSON list strings, two unit encodings.
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

export const HANDLED_EVENT_TYPES = ['leave_approval', 'leave_approvalV2', 'leave_approval_revert', 'approval_instance'] as const;

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

/**
 * Reduce one approval event (already authenticated, `type` from the v1 event body or the v2
 * header) to the canonical LeaveEvent. Throws UnusableEventError for content we cannot apply.
 */
export function normaliseEvent(eventType: string, event: unknown): LeaveEvent {
  switch (eventType) {
    case 'leave_approval': {
      const e = parse(LeaveApprovalV1, event, eventType);
      if (e.leave_end_time < e.leave_start_time) throw new UnusableEventError('leave_approval: leave ends before it starts');
      return {
        kind: 'approve',
        variant: 'v1',
        instanceCode: e.instance_code,
        approvalCode: e.approval_code,
        tenantKey: e.tenant_key,
        employeeId: e.employee_id,
        openId: e.open_id,
        leaveType: e.leave_type,
        leaveTypeKey: null,
        unit: e.leave_unit,
        intervalSeconds: e.leave_interval,
        startLocal: e.leave_start_time,
        endLocal: e.leave_end_time,
        segments: [[e.leave_start_time, e.leave_end_time]],
        segmentsSource: 'start_end',
        reason: e.leave_reason,
      };
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
    case 'leave_approval_revert': {
      const e = parse(LeaveApprovalRevert, event, eventType);
      return {
        kind: 'revert',
        via: 'leave_approval_revert',
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
          instanceCode: e.instance_code,
          approvalCode: e.approval_code,
          status: e.status,
          operateTime: e.operate_time ?? null,
        };
      }
      return { kind: 'ignore', reason: `approval_instance status ${e.status} changes no leave`, instanceCode: e.instance_code };
    }
    default:
      return { kind: 'ignore', reason: `event type ${eventType} is not handled`, instanceCode: null };
  }
}
