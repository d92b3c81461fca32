/**
 * What `leave-bridge trigger <scenario>` sends: per scenario, the deliveries Feishu makes, in
 * Feishu's order. Approving a leave sends two events, `leave_approval` then `leave_approvalV2`
 * (different uuid, same instance_code); a revert sends `leave_approval_revert`
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave). A new
 * scenario is one entry of SCENARIOS.
 */
import { leaveApprovalRevert, leaveApprovalV1, leaveApprovalV2, type BuiltEvent, type LeaveEventSpec } from '../../feishu/event-builders.js';
import { datesOf } from '../../reports/period.js';
import { addDays } from '../../shared/dates.js';
import type { LocalDateTime } from '../../shared/local-time.js';

export interface ScenarioInput {
  token: string;
  instanceCode: string;
  approvalCode: string;
  appId: string | undefined;
  employeeId: string;
  openId: string;
  /** local dates, both inclusive */
  from: string;
  to: string;
}

export interface Scenario {
  name: string;
  description: string;
  events(input: ScenarioInput): BuiltEvent[];
}

/** The leave part every approval event of a scenario shares. */
type LeaveShape = Pick<LeaveEventSpec, 'leaveName' | 'unit' | 'start' | 'end' | 'intervalSeconds' | 'range'>;

const at = (date: string, time: string): LocalDateTime => `${date} ${time}`;
const REASON = 'leave-bridge trigger: a test event, not a real leave';

function spec(input: ScenarioInput, leave: LeaveShape): LeaveEventSpec {
  return {
    token: input.token,
    instanceCode: input.instanceCode,
    approvalCode: input.approvalCode,
    employeeId: input.employeeId,
    openId: input.openId,
    reason: REASON,
    ...(input.appId ? { appId: input.appId } : {}),
    ...leave,
  };
}

/** Both approval events, V1 first, as Feishu sends them. */
const approval = (input: ScenarioInput, leave: LeaveShape): BuiltEvent[] => [leaveApprovalV1(spec(input, leave)), leaveApprovalV2(spec(input, leave))];

const revert = (input: ScenarioInput): BuiltEvent =>
  leaveApprovalRevert({ token: input.token, instanceCode: input.instanceCode, approvalCode: input.approvalCode, ...(input.appId ? { appId: input.appId } : {}) });

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

export const SCENARIOS: Scenario[] = [
  {
    name: 'leave.approved',
    description: 'a day leave approved: leave_approval and leave_approvalV2, as Feishu sends both',
    events: (i) => approval(i, wholeDays(i, '年假')),
  },
  {
    name: 'leave.reverted',
    description: 'a day leave approved, then reverted (leave_approval_revert)',
    events: (i) => [...approval(i, wholeDays(i, '年假')), revert(i)],
  },
  {
    name: 'leave.revert-first',
    description: 'the revert arrives before the approval it reverts (a re-push overtaken): the leave stays reverted',
    events: (i) => [revert(i), ...approval(i, wholeDays(i, '年假'))],
  },
  {
    name: 'leave.half-day',
    description: 'HALF_DAY unit: the afternoon of --from, then whole days to --to (0.5 day by default)',
    events: (i) => approval(i, halfDays(i)),
  },
  {
    name: 'leave.hours',
    description: 'HOUR unit: 14:00 to 18:00 on each date (4 hours a day)',
    events: (i) => approval(i, hours(i)),
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
