import { z } from 'zod';
import { IntLike } from './event-schemas.js';
import { fromMicro, toMicro } from '../shared/decimal.js';
import { fromWallMs, normaliseLocal, wallMs, type LocalDateTime } from '../shared/local-time.js';
import type { DayQuantity, LeaveApproval, LeaveEvent, LeaveRevert, LeaveUnit, SyncDoorbell } from '../leave/types.js';
import { UnusableEventError } from './unusable-event-error.js';

/*
 * Feishu People (飞书人事, CoreHR) leave requests, as GET /open-apis/corehr/v1/leaves/leave_request_history
 * returns them (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history),
 * read into the same canonical approval as an Approval-app leave: kind leave, source corehr.
 *
 * The process events (corehr.process.status.update_v2, corehr.process.updated_v2:
 * https://open.feishu.cn/document/corehr-v1/process-form_variable_data/events/update) carry a
 * process id, a status and a business type, nothing a leave is made of; Feishu's page says a leave
 * process's cancellation and whether it is a correction are only known from the leave API. So they
 * are doorbells: each rings for a sync, and the sync reads the requests.
 */

/** The inbox event type of one leave request read from the API (its payload: `{event: <request>}`). */
export const COREHR_REQUEST_EVENT_TYPE = 'corehr.leave_request';
export const COREHR_PROCESS_EVENT_TYPES = ['corehr.process.status.update_v2', 'corehr.process.updated_v2'] as const;

/** Instance codes of CoreHR requests: their own namespace beside Approval instance codes. */
export const COREHR_CODE_PREFIX = 'corehr-';
export const corehrInstanceCode = (leaveRequestId: string): string => `${COREHR_CODE_PREFIX}${leaveRequestId}`;

/**
 * leave_request_status: 1 approved; 2 in approval, 3 in approval (correction), 4 in approval
 * (cancellation), 5 in approval (return); 6 returned, 7 rejected, 8 cancelled, 9 withdrawn.
 */
export const COREHR_STATUSES: Record<number, string> = {
  1: 'approved',
  2: 'in_approval',
  3: 'correction_in_approval',
  4: 'cancellation_in_approval',
  5: 'return_in_approval',
  6: 'returned',
  7: 'rejected',
  8: 'cancelled',
  9: 'withdrawn',
};
/** The leave stands while a change of it is being approved: a correction, cancellation or return still pending. */
const ACTIVE_STATUSES = new Set([1, 3, 4, 5]);
const NOT_ACTIVE_STATUSES = new Set([6, 7, 8, 9]);

const OptText = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? null : String(v)));
const Decimal = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v).trim();
  if (!/^\d+(\.\d+)?$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: `expected a non-negative decimal, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  try {
    return toMicro(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: `more than 6 decimals: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
});
const I18n = z
  .array(z.object({ lang: z.string().nullish(), value: z.string().nullish() }).passthrough())
  .nullish()
  .transform((v) => v ?? []);
const Ids = z
  .array(z.union([z.string(), z.number()]))
  .nullish()
  .transform((v) => (v ?? []).map(String).filter((s) => s !== ''));

const Detail = z
  .object({
    leave_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD'),
    leave_duration: Decimal,
    leave_duration_unit: IntLike.nullish(),
    paid_type: IntLike.nullish(),
  })
  .passthrough();

export const LeaveRequest = z
  .object({
    leave_request_id: z.union([z.string(), z.number()]).transform(String).pipe(z.string().trim().min(1).max(180)),
    employment_id: OptText,
    leave_type_id: OptText,
    leave_type_name: I18n,
    start_time: OptText,
    end_time: OptText,
    leave_duration: Decimal.nullish(),
    leave_duration_unit: IntLike.nullish(),
    leave_request_status: IntLike,
    notes: OptText,
    details: z.array(Detail).nullish(),
    time_zone: OptText,
    leave_process_id: Ids,
    leave_correct_process_id: Ids,
    leave_cancel_process_id: Ids,
    leave_return_process_id: Ids,
    leave_correct_process_info: z
      .array(z.object({ process_id: OptText, process_status: OptText, process_apply_time: OptText }).passthrough())
      .nullish(),
  })
  .passthrough();
export type LeaveRequestRecord = z.output<typeof LeaveRequest>;

/** Every process id a request names: its own, its corrections', cancellations' and returns'. */
export function processIdsOf(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const r = raw as Record<string, unknown>;
  const ids: string[] = [];
  for (const field of ['leave_process_id', 'leave_correct_process_id', 'leave_cancel_process_id', 'leave_return_process_id']) {
    const v = r[field];
    if (Array.isArray(v)) for (const id of v) if (typeof id === 'string' || typeof id === 'number') ids.push(String(id));
  }
  const info = r.leave_correct_process_info;
  if (Array.isArray(info)) {
    for (const p of info) {
      const id = typeof p === 'object' && p !== null ? (p as { process_id?: unknown }).process_id : undefined;
      if (typeof id === 'string' && id !== '') ids.push(id);
    }
  }
  return [...new Set(ids)];
}

/** The name in the first language of zh-CN, en-US, then whatever comes first. */
function nameOf(names: Array<{ lang?: string | null; value?: string | null }>): string | null {
  const pick = (re: RegExp) => names.find((n) => n.lang && re.test(n.lang) && n.value)?.value ?? null;
  return pick(/^zh[-_]cn$/i) ?? pick(/^en[-_]us$/i) ?? names.find((n) => n.value)?.value ?? null;
}

/**
 * start_time / end_time: `2022-09-09`, `2022-09-09 morning|afternoon`, or (hour leave, where
 * Feishu turned precise times on) `2022-09-09 09:00:00`. A morning is 00:00–12:00, an afternoon
 * 12:00–24:00 of the date, in the request's own zone.
 */
function boundary(value: string, which: 'start' | 'end'): LocalDateTime {
  const v = value.trim();
  const half = /^(\d{4}-\d{2}-\d{2})(?:\s+(morning|afternoon))?$/i.exec(v);
  if (half) {
    const date = normaliseLocal(`${half[1]} 00:00:00`);
    if (date === null) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: ${which}_time ${JSON.stringify(value)} is not a date`);
    const part = half[2]?.toLowerCase();
    const offsetH = which === 'start' ? (part === 'afternoon' ? 12 : 0) : part === 'morning' ? 12 : 24;
    return fromWallMs(wallMs(date) + offsetH * 3_600_000);
  }
  const precise = normaliseLocal(v);
  if (precise === null) {
    throw new UnusableEventError(
      `${COREHR_REQUEST_EVENT_TYPE}: ${which}_time ${JSON.stringify(value)} is not YYYY-MM-DD, "YYYY-MM-DD morning|afternoon" or a time`,
    );
  }
  return precise;
}

const validZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/** leave_duration_unit: 1 day, 2 hour. */
const BASE_SECONDS: Record<number, number> = { 1: 86_400, 2: 3_600 };

function unitFor(durationUnit: number, seconds: number): LeaveUnit {
  if (durationUnit === 1) return seconds % 86_400 === 0 ? 'DAY' : 'HALF_DAY';
  return seconds % 3_600 === 0 ? 'HOUR' : 'HALF_HOUR';
}

/**
 * One leave request as the canonical event: approved (1, or 3–5 while a change of it is pending)
 * → an approval; in approval (2) → a pending approval (tentative holds); returned, rejected,
 * cancelled or withdrawn (6–9) → a revert. Throws UnusableEventError with the reason for what
 * cannot be used: an unknown status, an employee without a Feishu user_id, no dates, a duration
 * that is not its details' sum.
 */
export function readLeaveRequest(raw: unknown): LeaveApproval | LeaveRevert {
  const r = LeaveRequest.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: ${issue.path.join('.') || '(request)'}: ${issue.message}`);
  }
  const q = r.data;
  const instanceCode = corehrInstanceCode(q.leave_request_id);
  const status = q.leave_request_status;
  if (!(status in COREHR_STATUSES)) {
    throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: leave_request_status ${status} is not one CoreHR documents (1–9)`);
  }
  if (NOT_ACTIVE_STATUSES.has(status)) {
    return { kind: 'revert', via: 'corehr', approvalKind: 'leave', instanceCode, approvalCode: null, status: 'CANCELED', operateTime: null };
  }
  if (q.employment_id === null) {
    throw new UnusableEventError(
      `${COREHR_REQUEST_EVENT_TYPE}: employment_id is empty: the employee has no Feishu user_id to map to (user_id_type=user_id); give them a Feishu account, then replay`,
    );
  }
  if (q.start_time === null || q.end_time === null) {
    throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: the request has no ${q.start_time === null ? 'start_time' : 'end_time'}`);
  }
  const start = boundary(q.start_time, 'start');
  const end = boundary(q.end_time, 'end');
  if (wallMs(end) <= wallMs(start)) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: end_time ${q.end_time} is not after start_time ${q.start_time}`);
  const durationUnit = q.leave_duration_unit ?? 1;
  const baseSeconds = BASE_SECONDS[durationUnit];
  if (baseSeconds === undefined) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: leave_duration_unit ${durationUnit} is neither 1 (day) nor 2 (hour)`);
  if (q.leave_duration === null || q.leave_duration === undefined) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: the request has no leave_duration`);
  const micro = q.leave_duration;
  const secondsMicro = micro * BigInt(baseSeconds);
  if (secondsMicro % 1_000_000n !== 0n) {
    throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: leave_duration ${fromMicro(micro)} is not a whole number of seconds`);
  }
  const intervalSeconds = Number(secondsMicro / 1_000_000n);
  if (q.time_zone !== null && !validZone(q.time_zone)) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: time_zone ${JSON.stringify(q.time_zone)} is not a zone`);

  let givenDays: DayQuantity[] | undefined;
  const details = q.details ?? [];
  if (details.length > 0) {
    const byDate = new Map<string, { micro: bigint; paidType: number | null }>();
    details.forEach((d, i) => {
      const unit = d.leave_duration_unit ?? durationUnit;
      if (unit !== durationUnit) {
        throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: details[${i}].leave_duration_unit ${unit} differs from the request's ${durationUnit}`);
      }
      if (normaliseLocal(`${d.leave_date} 00:00:00`) === null) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: details[${i}].leave_date ${d.leave_date} is not a date`);
      if (byDate.has(d.leave_date)) throw new UnusableEventError(`${COREHR_REQUEST_EVENT_TYPE}: details name ${d.leave_date} twice`);
      byDate.set(d.leave_date, { micro: d.leave_duration, paidType: d.paid_type ?? null });
    });
    const sum = [...byDate.values()].reduce((a, d) => a + d.micro, 0n);
    if (sum !== micro) {
      throw new UnusableEventError(
        `${COREHR_REQUEST_EVENT_TYPE}: leave_duration ${fromMicro(micro)} does not match its details, which add up to ${fromMicro(sum)}`,
      );
    }
    givenDays = [...byDate.entries()]
      .filter(([, d]) => d.micro > 0n)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([date, d]) => ({ date, quantity: fromMicro(d.micro), ...(d.paidType !== null ? { paidType: d.paidType } : {}) }));
  }

  return {
    kind: 'approve',
    approvalKind: 'leave',
    variant: 'corehr',
    source: 'corehr',
    instanceCode,
    approvalCode: null,
    tenantKey: null,
    employeeId: q.employment_id,
    openId: null,
    leaveType: nameOf(q.leave_type_name),
    leaveTypeKey: q.leave_type_id,
    unit: unitFor(durationUnit, intervalSeconds),
    intervalSeconds,
    startLocal: start,
    endLocal: end,
    segments: [[start, end]],
    segmentsSource: 'start_end',
    reason: q.notes,
    ...(q.time_zone !== null ? { timezone: q.time_zone } : {}),
    ...(givenDays ? { givenDays } : {}),
    ...(status === 2 ? { pending: true } : {}),
    extra: {
      corehr: {
        leave_request_id: q.leave_request_id,
        leave_request_status: status,
        status_name: COREHR_STATUSES[status],
        leave_type_name: q.leave_type_name,
        start_time: q.start_time,
        end_time: q.end_time,
        leave_duration: fromMicro(micro),
        leave_duration_unit: durationUnit,
        leave_process_id: q.leave_process_id,
        leave_correct_process_id: q.leave_correct_process_id,
        leave_cancel_process_id: q.leave_cancel_process_id,
        leave_return_process_id: q.leave_return_process_id,
        ...(q.leave_correct_process_info ? { leave_correct_process_info: q.leave_correct_process_info } : {}),
        ...(ACTIVE_STATUSES.has(status) && status !== 1 ? { change_pending: COREHR_STATUSES[status] } : {}),
      },
    },
  };
}

const ProcessEvent = z
  .object({
    process_id: z.union([z.string(), z.number()]).transform(String).pipe(z.string().trim().min(1).max(200)),
    status: IntLike.nullish(),
    biz_type: OptText,
  })
  .passthrough();

/** A corehr.process.* event: a doorbell for the CoreHR sync. */
export function readProcessEvent(eventType: string, event: unknown): SyncDoorbell {
  const r = ProcessEvent.safeParse(event);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UnusableEventError(`${eventType}: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  return { kind: 'doorbell', processId: r.data.process_id, status: r.data.status ?? null, bizType: r.data.biz_type, instanceCode: null };
}

/** The CoreHR event types read here; every other type is not CoreHR's. */
export function readCorehrEvent(eventType: string, event: unknown): LeaveEvent | null {
  if (eventType === COREHR_REQUEST_EVENT_TYPE) return readLeaveRequest(event);
  if ((COREHR_PROCESS_EVENT_TYPES as readonly string[]).includes(eventType)) return readProcessEvent(eventType, event);
  return null;
}

const sortedJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${sortedJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
};

/**
 * The inbox key of one state of a request: its id and a digest of everything it says. The same
 * state read twice (by the sync an event rang and by the periodic one) is one delivery, a
 * duplicate the second time; any change is a new delivery.
 */
export async function requestEventKey(raw: Record<string, unknown>): Promise<string> {
  const bytes = new TextEncoder().encode(sortedJson(raw));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hex = [...digest.slice(0, 12)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${String(raw.leave_request_id ?? '').slice(0, 150)}:${hex}`;
}
