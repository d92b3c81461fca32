/** The canonical LeaveApproval built from the parts a v1 event, a span or a trip's schedules give. */
import type { z } from 'zod';
import type { LeaveApproval } from '../leave/types.js';
import { unitFor } from '../leave/days.js';
import type { TripSchedule } from './event-schemas.js';
import { ordered } from './event-fields.js';
import { UnusableEventError } from './unusable-event-error.js';

/** What every v1 approval event says of its instance and requester. */
export const v1Of = (
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
export function span(
  who: Pick<LeaveApproval, 'approvalKind' | 'instanceCode' | 'approvalCode' | 'tenantKey' | 'employeeId' | 'openId'>,
  what: Pick<LeaveApproval, 'leaveType' | 'leaveTypeKey' | 'unit' | 'intervalSeconds' | 'reason'>,
  startLocal: string,
  endLocal: string,
): LeaveApproval {
  return { kind: 'approve', variant: 'v1', ...who, ...what, startLocal, endLocal, segments: [[startLocal, endLocal]], segmentsSource: 'start_end' };
}

export function tripApproval(
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
