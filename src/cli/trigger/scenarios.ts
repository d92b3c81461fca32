/**
 * What `leave-bridge trigger` sends: per scenario, the deliveries Feishu makes, in Feishu's order.
 * Approving a leave sends two events, `leave_approval` then `leave_approvalV2` (different uuid,
 * same instance_code); a revert sends `leave_approval_revert`
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave). An out
 * (外出) and an overtime (加班) send one event each way, `out_approval` / `out_approval_revert`
 * and `work_approval`; a trip (出差) sends `approval.instance.trip_group_update_v4` when approved
 * and has no revert event of its own: its cancellation is `approval_instance` CANCELED
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-instance-event),
 * which also reports a request as PENDING when it is submitted. A new scenario is one entry of
 * SCENARIOS.
 */
import {
  approvalInstance,
  approvalRevert,
  leaveApprovalRevert,
  leaveApprovalV1,
  leaveApprovalV2,
  outApproval,
  tripGroupUpdate,
  workApproval,
  type BuiltEvent,
  type DeliverySpec,
  type LeaveEventSpec,
  type TripSchedule,
  type UserIds,
} from '../../feishu/event-builders.js';
import type { ApprovalKind } from '../../leave/types.js';
import { datesOf } from '../../reports/period.js';
import { addDays } from '../../shared/dates.js';
import type { LocalDateTime } from '../../shared/local-time.js';

export interface ScenarioInput {
  token: string;
  instanceCode: string;
  approvalCode: string;
  appId: string | undefined;
  /** the requester */
  employee: UserIds;
  /** who travels along (the trip scenarios'); null for the others */
  peer: UserIds | null;
  /** local dates, both inclusive */
  from: string;
  to: string;
}

export interface Scenario {
  name: string;
  /** the kind of approval it makes */
  kind: ApprovalKind;
  description: string;
  /** it takes a peer (--peer) */
  withPeer?: boolean;
  /** it reports a request still pending (the service acts on it only with tentative holds on) */
  pending?: boolean;
  events(input: ScenarioInput): BuiltEvent[];
}

/** The leave part every approval event of a scenario shares. */
type LeaveShape = Pick<LeaveEventSpec, 'leaveName' | 'unit' | 'start' | 'end' | 'intervalSeconds' | 'range'>;

const at = (date: string, time: string): LocalDateTime => `${date} ${time}`;
const REASON = 'leave-bridge trigger: a test event, not a real request';

const delivery = (input: ScenarioInput): DeliverySpec => ({ token: input.token, ...(input.appId ? { appId: input.appId } : {}) });
const codes = (input: ScenarioInput) => ({ ...delivery(input), instanceCode: input.instanceCode, approvalCode: input.approvalCode });
const requester = (input: ScenarioInput) => ({ employeeId: input.employee.userId, openId: input.employee.openId });

function spec(input: ScenarioInput, leave: LeaveShape): LeaveEventSpec {
  return { ...codes(input), ...requester(input), reason: REASON, ...leave };
}

/** Both approval events, V1 first, as Feishu sends them. */
const approval = (input: ScenarioInput, leave: LeaveShape): BuiltEvent[] => [leaveApprovalV1(spec(input, leave)), leaveApprovalV2(spec(input, leave))];

const revert = (input: ScenarioInput): BuiltEvent => leaveApprovalRevert(codes(input));

/**
 * Whole days from..to: local midnight to the midnight after the last day, as Feishu writes a day
 * leave; V2 lists each day's working hours as its segments (the docs' example: 09:00 to 18:00).
 */
function wholeDays(input: ScenarioInput, leaveName: string): LeaveShape {
  const dates = datesOf(input);
  return {
    leaveName,
    unit: 'DAY',
    start: at(input.from, '00:00:00'),
    end: at(addDays(input.to, 1), '00:00:00'),
    intervalSeconds: dates.length * 86_400,
    range: dates.map((d) => [at(d, '09:00:00'), at(d, '18:00:00')]),
  };
}

/** The afternoon of `from`, then whole days to `to`: the docs' own example is 1.5 days of 事假. */
function halfDays(input: ScenarioInput): LeaveShape {
  const [first, ...rest] = datesOf(input);
  return {
    leaveName: '事假',
    unit: 'HALF_DAY',
    start: at(first!, '12:00:00'),
    end: at(addDays(input.to, 1), '00:00:00'),
    intervalSeconds: 43_200 + rest.length * 86_400,
    range: [[at(first!, '13:30:00'), at(first!, '18:00:00')], ...rest.map((d): [string, string] => [at(d, '09:00:00'), at(d, '18:00:00')])],
  };
}

/** Four hours, 14:00 to 18:00, on each date. */
function hours(input: ScenarioInput): LeaveShape {
  const dates = datesOf(input);
  return {
    leaveName: '调休假',
    unit: 'HOUR',
    start: at(input.from, '14:00:00'),
    end: at(input.to, '18:00:00'),
    intervalSeconds: dates.length * 4 * 3_600,
    range: dates.map((d) => [at(d, '14:00:00'), at(d, '18:00:00')]),
  };
}

/**
 * An out on one date is the docs' example, 15:00 to 18:00 in hours; over several dates it is
 * whole days, midnight to the midnight after `to`. An out is one span: hours spread over several
 * dates would count the nights too.
 */
function out(input: ScenarioInput): BuiltEvent {
  const dates = datesOf(input);
  const span =
    dates.length === 1
      ? { unit: 'HOUR', start: at(input.from, '15:00:00'), end: at(input.from, '18:00:00'), intervalSeconds: 3 * 3_600 }
      : { unit: 'DAY', start: at(input.from, '00:00:00'), end: at(addDays(input.to, 1), '00:00:00'), intervalSeconds: dates.length * 86_400 };
  return outApproval({ ...codes(input), ...requester(input), outName: '客户拜访', reason: REASON, ...span });
}

/**
 * Three hours, 18:00 to 21:00, on each date: one `time_range` per evening, and `work_detail` with
 * each date's seconds, its start and end the date to the minute as the docs show them.
 */
function overtime(input: ScenarioInput): BuiltEvent {
  const dates = datesOf(input);
  const evening = 3 * 3_600;
  return workApproval({
    ...codes(input),
    ...requester(input),
    workType: '工作日加班',
    start: at(input.from, '18:00:00'),
    end: at(input.to, '21:00:00'),
    intervalSeconds: dates.length * evening,
    ranges: dates.map((d) => [at(d, '18:00:00'), at(d, '21:00:00')]),
    detail: dates.map((d) => ({ start: `${d} 00:00`, end: `${d} 00:00`, intervalSeconds: evening })),
    reason: REASON,
  });
}

/**
 * One schedule of whole days when from = to; else two: out at noon on `from` (half a day, like
 * the docs' example, which leaves at 12:00), then on from the next day to the end of `to`.
 */
function trip(input: ScenarioInput): BuiltEvent {
  const dates = datesOf(input);
  const schedules: TripSchedule[] =
    dates.length === 1
      ? [{ start: at(input.from, '00:00:00'), end: at(addDays(input.from, 1), '00:00:00'), intervalSeconds: 86_400, departure: '北京', destination: '上海', tripType: '往返' }]
      : [
          { start: at(input.from, '12:00:00'), end: at(dates[1]!, '00:00:00'), intervalSeconds: 43_200, departure: '北京', destination: '上海', tripType: '单程' },
          { start: at(dates[1]!, '00:00:00'), end: at(addDays(input.to, 1), '00:00:00'), intervalSeconds: (dates.length - 1) * 86_400, departure: '上海', destination: '北京', tripType: '单程' },
        ];
  return tripGroupUpdate({
    ...delivery(input),
    instanceCode: input.instanceCode,
    requester: input.employee,
    schedules: schedules.map((s) => ({ ...s, transportation: '火车' })),
    peers: input.peer ? [input.peer] : [],
    reason: REASON,
  });
}

const instanceStatus = (input: ScenarioInput, status: 'PENDING' | 'CANCELED'): BuiltEvent => approvalInstance({ ...codes(input), status });

export const SCENARIOS: Scenario[] = [
  {
    name: 'leave.approved',
    kind: 'leave',
    description: 'a day leave approved: leave_approval and leave_approvalV2, as Feishu sends both',
    events: (i) => approval(i, wholeDays(i, '年假')),
  },
  {
    name: 'leave.reverted',
    kind: 'leave',
    description: 'a day leave approved, then reverted (leave_approval_revert)',
    events: (i) => [...approval(i, wholeDays(i, '年假')), revert(i)],
  },
  {
    name: 'leave.revert-first',
    kind: 'leave',
    description: 'the revert arrives before the approval it reverts (a re-push overtaken): the leave stays reverted',
    events: (i) => [revert(i), ...approval(i, wholeDays(i, '年假'))],
  },
  {
    name: 'leave.half-day',
    kind: 'leave',
    description: 'HALF_DAY unit: the afternoon of --from, then whole days to --to (0.5 day by default)',
    events: (i) => approval(i, halfDays(i)),
  },
  {
    name: 'leave.hours',
    kind: 'leave',
    description: 'HOUR unit: 14:00 to 18:00 on each date (4 hours a day)',
    events: (i) => approval(i, hours(i)),
  },
  {
    name: 'leave.pending',
    kind: 'leave',
    pending: true,
    description: 'a request submitted, not yet decided (approval_instance PENDING): a tentative hold when the service has CALENDAR_TENTATIVE_HOLDS=true',
    events: (i) => [instanceStatus(i, 'PENDING')],
  },
  {
    name: 'out.approved',
    kind: 'out',
    description: 'an out (外出) approved (out_approval): 15:00 to 18:00 on one date, whole days over several',
    events: (i) => [out(i)],
  },
  {
    name: 'out.reverted',
    kind: 'out',
    description: 'an out approved, then reverted (out_approval_revert)',
    events: (i) => [out(i), approvalRevert('out_approval_revert', codes(i))],
  },
  {
    name: 'overtime.approved',
    kind: 'overtime',
    description: 'overtime (加班) approved (work_approval): 18:00 to 21:00 on each date; hours, no calendar block',
    events: (i) => [overtime(i)],
  },
  {
    name: 'trip.approved',
    kind: 'trip',
    withPeer: true,
    description: 'a trip (出差) approved (trip_group_update_v4) with --peer travelling along: from noon of --from, in two legs over several dates',
    events: (i) => [trip(i)],
  },
  {
    name: 'trip.cancelled',
    kind: 'trip',
    withPeer: true,
    description: 'a trip approved, then cancelled (approval_instance CANCELED: a trip has no revert event of its own)',
    events: (i) => [trip(i), instanceStatus(i, 'CANCELED')],
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
