/** Reduces one approval event, by its type, to the canonical LeaveEvent. */
import type { LeaveEvent } from '../leave/types.js';
import { unitFor } from '../leave/days.js';
import { LooseParseError, parseI18nResources, resolveI18nText } from './strings.js';
import {
  ApprovalInstance,
  ApprovalTaskEvent,
  LeaveApprovalRevert,
  LeaveApprovalV1,
  LeaveApprovalV2,
  OutApproval,
  REMEDY_EVENT,
  RemedyApprovalV1,
  RemedyGroup,
  ShiftApproval,
  TRIP_EVENT,
  TripApprovalV1,
  TripGroup,
  WorkApproval,
} from './event-schemas.js';
import { i18nName, objectOf, ordered, parse, segmentsOf } from './event-fields.js';
import { span, tripApproval, v1Of } from './canonical-approvals.js';
import { UnusableEventError } from './unusable-event-error.js';

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
