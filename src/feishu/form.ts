import { DateTime } from 'luxon';
import { normaliseLocal, type LocalDateTime } from '../shared/local-time.js';
import { LEAVE_UNITS, UNIT_INFO, type LeaveApproval, type LeaveUnit } from '../leave/types.js';
import { unitFor } from '../leave/days.js';
import type { FeishuInstance } from '../ports.js';

/**
 * The leave inside an approval instance's `form` (GET /open-apis/approval/v4/instances/:id),
 * reduced to the same canonical LeaveApproval the webhook events become (variant 'backfill').
 *
 * `form` is a JSON *string* of widgets. The leave widget, per the instance-get page
 * (open.feishu.cn/document/server-docs/approval-v4/instance/get, 控件值说明):
 *
 *   {"type": "leaveGroup",   "value": {"name", "start", "end", "interval"}}          interval in days
 *   {"type": "leaveGroupV2", "value": {"name", "start", "end", "interval", "unit": "DAY"|"HOUR", "reason"}}
 *
 * start/end are RFC3339 with the submitter's offset. Variants accepted because they occur in the
 * docs themselves: type "widgetLeaveGroupV2" (the page's own example), `value` as a JSON string,
 * and `value` as the list of sub-widgets the instance-create page uses (widgetLeaveGroupType /
 * StartTime / EndTime / Reason, with an interval/unit sub-widget when present).
 */

export class LeaveFormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaveFormError';
  }
}

const LEAVE_TYPES = new Set(['leavegroup', 'leavegroupv2', 'widgetleavegroupv2', 'widgetleavegroup']);

export interface LeaveWidgetValue {
  name: string | null;
  start: unknown;
  end: unknown;
  interval: unknown;
  unit: unknown;
  reason: string | null;
}

type Widget = { id?: unknown; type?: unknown; name?: unknown; value?: unknown };

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LeaveFormError(`${what} is not JSON`);
  }
}

export const isLeaveWidget = (w: Widget) =>
  (typeof w.type === 'string' && LEAVE_TYPES.has(w.type.toLowerCase())) ||
  (typeof w.id === 'string' && LEAVE_TYPES.has(w.id.toLowerCase()));

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : null);

/** The leave widget's value fields, or null when the form has no leave widget. */
export function findLeaveWidget(form: string | unknown[]): LeaveWidgetValue | null {
  const widgets = typeof form === 'string' ? parseJson(form, 'form') : form;
  if (!Array.isArray(widgets)) throw new LeaveFormError('form is not a list of widgets');
  const found = (widgets as Widget[]).find((w) => w && typeof w === 'object' && isLeaveWidget(w));
  if (!found) return null;
  let value = found.value;
  if (typeof value === 'string') value = parseJson(value, 'leave widget value');
  if (Array.isArray(value)) {
    // the instance-create shape: sub-widgets keyed by id
    const byId = new Map<string, unknown>();
    for (const sub of value as Widget[]) {
      if (sub && typeof sub.id === 'string') byId.set(sub.id.toLowerCase(), sub.value);
    }
    const pick = (...ids: string[]) => ids.map((id) => byId.get(id.toLowerCase())).find((v) => v !== undefined);
    return {
      name: text(pick('widgetLeaveGroupType', 'widgetLeaveGroupName')),
      start: pick('widgetLeaveGroupStartTime'),
      end: pick('widgetLeaveGroupEndTime'),
      interval: pick('widgetLeaveGroupInterval', 'widgetLeaveGroupDuration'),
      unit: pick('widgetLeaveGroupUnit'),
      reason: text(pick('widgetLeaveGroupReason')),
    };
  }
  if (!value || typeof value !== 'object') throw new LeaveFormError('leave widget has no value');
  const v = value as Record<string, unknown>;
  return {
    name: text(v.name),
    start: v.start,
    end: v.end,
    interval: v.interval,
    unit: v.unit,
    reason: text(v.reason),
  };
}

const TIME_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const pad = (s: string) => s.padStart(2, '0');

/**
 * A form time → the employee's wall clock. A written offset is the submitter's own, so its
 * date-time part IS the local time (as leave_start_time in the webhook events); a `Z` time or an
 * epoch number carries no local clock, so it is placed in `zone`.
 */
export function formTimeToLocal(value: unknown, zone: string, field: string): LocalDateTime {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{12,13}$/.test(value.trim()))) {
    const ms = Number(value);
    return DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  }
  if (typeof value !== 'string') throw new LeaveFormError(`leave ${field} is missing`);
  const m = TIME_RE.exec(value.trim());
  if (!m) throw new LeaveFormError(`leave ${field} ${JSON.stringify(value)} is not an RFC3339 time`);
  const [, y, mo, d, h, mi, s = '0', offset] = m;
  const literal = normaliseLocal(`${y}-${pad(mo!)}-${pad(d!)} ${pad(h!)}:${pad(mi!)}:${pad(s)}`);
  if (literal === null) throw new LeaveFormError(`leave ${field} ${JSON.stringify(value)} is not a valid time`);
  if (offset && offset.toUpperCase() === 'Z') {
    const dt = DateTime.fromISO(`${literal.replace(' ', 'T')}Z`, { setZone: false }).setZone(zone);
    return dt.toFormat('yyyy-MM-dd HH:mm:ss');
  }
  return literal;
}

function unitOf(raw: unknown): LeaveUnit {
  if (raw === undefined || raw === null || raw === '') return 'DAY';
  const s = String(raw).trim().toUpperCase();
  if ((LEAVE_UNITS as readonly string[]).includes(s)) return s as LeaveUnit;
  const v1: Record<string, LeaveUnit> = { '1': 'DAY', '2': 'HALF_DAY', '3': 'HOUR', '4': 'HALF_HOUR', '5': 'MINUTE' };
  if (v1[s]) return v1[s]!;
  throw new LeaveFormError(`leave unit ${JSON.stringify(raw)} is not known`);
}

function intervalSeconds(raw: unknown, unit: LeaveUnit): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) throw new LeaveFormError(`leave interval ${JSON.stringify(raw)} is not a duration`);
  // HALF_DAY/HALF_HOUR still count in days/hours: the form's interval is in the base unit
  return Math.round(n * UNIT_INFO[unit].baseSeconds);
}

/**
 * The canonical approval of an instance whose form holds a leave widget; null when the form has
 * no leave widget (not a leave approval). Throws LeaveFormError when the widget is unusable.
 */
export function leaveFromInstance(instance: FeishuInstance, zone: string): LeaveApproval | null {
  const widget = findLeaveWidget(instance.form);
  if (!widget) return null;
  if (!instance.userId) {
    throw new LeaveFormError('instance has no user_id (the app needs the contact:user.employee_id:readonly scope)');
  }
  const unit = unitOf(widget.unit);
  const startLocal = formTimeToLocal(widget.start, zone, 'start');
  const endLocal = formTimeToLocal(widget.end, zone, 'end');
  if (endLocal < startLocal) throw new LeaveFormError('leave ends before it starts');
  return {
    kind: 'approve',
    approvalKind: 'leave',
    variant: 'backfill',
    instanceCode: instance.instanceCode,
    approvalCode: instance.approvalCode || null,
    tenantKey: null,
    employeeId: instance.userId,
    openId: instance.openId,
    leaveType: widget.name,
    leaveTypeKey: null,
    unit,
    intervalSeconds: intervalSeconds(widget.interval, unit),
    startLocal,
    endLocal,
    segments: [[startLocal, endLocal]],
    segmentsSource: 'start_end',
    reason: widget.reason,
  };
}

/*
 * The other time-away and time-worked widgets (out 外出, trip 出差, overtime 加班), control types
 * outGroup, tripGroup and workGroup beside leaveGroup in an approval definition's form
 * (https://open.feishu.cn/document/server-docs/approval-v4/approval/create). The instance-get page
 * documents the value of the leave widget only; these are read the same way: RFC3339 times with
 * the submitter's offset and an interval in the widget's unit (out: its unit, else hours;
 * overtime: hours; trip: days per schedule). A trip lists its schedules (`schedule` or
 * `schedules`, each with start, end and interval) and may name its peers (user_ids). A value of
 * another shape is a LeaveFormError naming what is missing, reported by the backfill.
 */

type WidgetKind = 'leave' | 'out' | 'trip' | 'overtime';
const WIDGET_KINDS: Record<string, WidgetKind> = {
  leavegroup: 'leave',
  leavegroupv2: 'leave',
  widgetleavegroup: 'leave',
  widgetleavegroupv2: 'leave',
  outgroup: 'out',
  widgetoutgroup: 'out',
  tripgroup: 'trip',
  widgettripgroup: 'trip',
  workgroup: 'overtime',
  widgetworkgroup: 'overtime',
};

function widgetKind(w: Widget): WidgetKind | null {
  for (const k of [w.type, w.id]) if (typeof k === 'string' && WIDGET_KINDS[k.toLowerCase()]) return WIDGET_KINDS[k.toLowerCase()]!;
  return null;
}

function widgetValue(w: Widget, what: string): Record<string, unknown> {
  const value = typeof w.value === 'string' ? parseJson(w.value, `${what} widget value`) : w.value;
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new LeaveFormError(`${what} widget has no value`);
  return value as Record<string, unknown>;
}

const peersOf = (raw: unknown): string[] =>
  Array.isArray(raw) ? raw.map((p) => (typeof p === 'string' ? p : typeof p === 'object' && p !== null ? text((p as { user_id?: unknown }).user_id) : null)).filter((p): p is string => p !== null) : [];

/**
 * The canonical approval of an instance whose form holds a leave, out, trip or overtime widget
 * (the first such widget); null when it holds none. Throws LeaveFormError when the widget is
 * unusable.
 */
export function approvalFromInstance(instance: FeishuInstance, zone: string): LeaveApproval | null {
  const widgets = typeof instance.form === 'string' ? parseJson(instance.form, 'form') : instance.form;
  if (!Array.isArray(widgets)) throw new LeaveFormError('form is not a list of widgets');
  const found = (widgets as Widget[]).find((w) => w && typeof w === 'object' && widgetKind(w) !== null);
  if (!found) return null;
  const kind = widgetKind(found)!;
  if (kind === 'leave') return leaveFromInstance(instance, zone);
  if (!instance.userId) throw new LeaveFormError('instance has no user_id (the app needs the contact:user.employee_id:readonly scope)');
  const v = widgetValue(found, kind);
  const base = {
    kind: 'approve' as const,
    approvalKind: kind,
    variant: 'backfill' as const,
    instanceCode: instance.instanceCode,
    approvalCode: instance.approvalCode || null,
    tenantKey: null,
    employeeId: instance.userId,
    openId: instance.openId,
    leaveType: text(v.name) ?? text(v.type),
    leaveTypeKey: null,
    reason: text(v.reason),
  };
  if (kind === 'trip') {
    const list = v.schedule ?? v.schedules;
    if (!Array.isArray(list) || list.length === 0) throw new LeaveFormError('trip widget has no schedule');
    const schedules = (list as Array<Record<string, unknown>>).map((s, i) => {
      const start = formTimeToLocal(s?.start, zone, `trip schedule ${i} start`);
      const end = formTimeToLocal(s?.end, zone, `trip schedule ${i} end`);
      if (end < start) throw new LeaveFormError(`trip schedule ${i} ends before it starts`);
      return { start, end, seconds: intervalSeconds(s.interval, 'DAY') };
    });
    const seconds = schedules.map((s) => s.seconds);
    const peers = peersOf(v.peers ?? v.companions).filter((p) => p !== instance.userId);
    return {
      ...base,
      unit: unitFor(seconds, ['HALF_DAY', 'HOUR', 'HALF_HOUR', 'MINUTE']),
      intervalSeconds: seconds.reduce((a, b) => a + b, 0),
      startLocal: schedules.map((s) => s.start).sort()[0]!,
      endLocal: schedules.map((s) => s.end).sort().at(-1)!,
      segments: schedules.map((s) => [s.start, s.end]),
      segmentSeconds: seconds,
      segmentsSource: 'schedules',
      peers: [...new Set(peers)],
    };
  }
  const startLocal = formTimeToLocal(v.start, zone, `${kind} start`);
  const endLocal = formTimeToLocal(v.end, zone, `${kind} end`);
  if (endLocal < startLocal) throw new LeaveFormError(`${kind} ends before it starts`);
  const unit: LeaveUnit = kind === 'out' && v.unit !== undefined ? (String(v.unit).toUpperCase() === 'HALR_DAY' ? 'HALF_DAY' : unitOf(v.unit)) : 'HOUR';
  return { ...base, unit, intervalSeconds: intervalSeconds(v.interval, unit), startLocal, endLocal, segments: [[startLocal, endLocal]], segmentsSource: 'start_end' };
}
