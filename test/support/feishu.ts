import { readFileSync } from 'node:fs';
import * as build from '../../src/feishu/event-builders.js';
import type { FeishuRequest } from '../../src/feishu/event-builders.js';

/** Feishu's documented payload examples (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave), verbatim (including the revert's trailing comma). */
export const FIXTURES = {
  leaveApproval: readFileSync(new URL('../fixtures/leave_approval.json', import.meta.url), 'utf8'),
  leaveApprovalV2: readFileSync(new URL('../fixtures/leave_approvalV2.json', import.meta.url), 'utf8'),
  leaveApprovalRevert: readFileSync(new URL('../fixtures/leave_approval_revert.json', import.meta.url), 'utf8'),
  approvalInstance: readFileSync(new URL('../fixtures/approval_instance.json', import.meta.url), 'utf8'),
};

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

/**
 * The payload examples of the other special approvals and of approval_task
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/…,
 * https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-task-event),
 * verbatim where they parse (test/fixtures/README.md lists the repairs of the two that do not).
 */
export const KIND_FIXTURES = {
  out: fixture('out_approval.json'),
  outRevert: fixture('out_approval_revert.json'),
  work: fixture('work_approval.json'),
  workRevert: fixture('work_approval_revert.json'),
  shift: fixture('shift_approval.json'),
  remedy: fixture('remedy_group_update_v4.json'),
  trip: fixture('trip_group_update_v4.json'),
  task: fixture('approval_task.json'),
};

/** The trip example's own Verification Token (its header.token). */
export const TRIP_DOC_TOKEN = 'ijuh4XAlBSRUIwhBFtLDSfWnIC61234';

/** The token the docs' examples carry; tests configure it as FEISHU_VERIFICATION_TOKEN. */
export const DOC_TOKEN = '41a9425ea7df4536a7623e38fa321bae';
export const TEST_ENCRYPT_KEY = 'test-encrypt-key-0123456789';

export type { FeishuRequest };

interface RequestOptions {
  encryptKey?: string;
  timestamp?: number;
  nonce?: string;
}

/** What Feishu sends with an encrypt key: {"encrypt": …} and the three signature headers. */
export function encryptedRequest(plaintext: string, opts: RequestOptions = {}): Promise<FeishuRequest> {
  return build.encryptedRequest(plaintext, { ...opts, encryptKey: opts.encryptKey ?? TEST_ENCRYPT_KEY });
}

/** Sign a body exactly as given (plaintext or already encrypted). */
export function signedRequest(body: string, opts: RequestOptions = {}): Promise<FeishuRequest> {
  return build.signedRequest(body, { ...opts, encryptKey: opts.encryptKey ?? TEST_ENCRYPT_KEY });
}

let seq = 0;
const uid = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** A leave with test defaults; every field may be overridden. */
export interface LeaveSpec {
  instanceCode?: string;
  employeeId?: string;
  openId?: string;
  start?: string;
  end?: string;
  interval?: number;
  unit?: 'DAY' | 'HALF_DAY' | 'HOUR' | 'HALF_HOUR' | 'MINUTE';
  range?: Array<[string, string]>;
  leaveName?: string;
  uuid?: string;
  token?: string;
}

const leaveSpec = (s: LeaveSpec): build.LeaveEventSpec => ({
  token: s.token ?? DOC_TOKEN,
  instanceCode: s.instanceCode ?? `INST-${uid()}`,
  approvalCode: 'APPROVAL-LEAVE',
  employeeId: s.employeeId ?? 'u_alice',
  openId: s.openId ?? 'ou_alice',
  leaveName: s.leaveName ?? 'Annual leave',
  unit: s.unit ?? 'DAY',
  start: s.start ?? '2024-09-05 00:00:00',
  end: s.end ?? '2024-09-06 00:00:00',
  intervalSeconds: s.interval ?? 86400,
  reason: 'test',
  // a fixed approval time (the docs' example's), so two bodies of one spec differ only in `ts`
  approvedAt: new Date(1589527354_000),
  uuid: s.uuid ?? uid(),
  ...(s.range ? { range: s.range } : {}),
});

/** A leave_approval (V1) body in Feishu's shape. */
export const leaveApprovalV1 = (s: LeaveSpec = {}): string => build.leaveApprovalV1(leaveSpec(s)).body;

/** A leave_approvalV2 body with the non-JSON string encodings Feishu really sends. */
export const leaveApprovalV2 = (s: LeaveSpec = {}): string => build.leaveApprovalV2(leaveSpec(s)).body;

export function leaveRevert(s: { instanceCode: string; uuid?: string; operateTime?: number; token?: string }): string {
  return build.leaveApprovalRevert({
    token: s.token ?? DOC_TOKEN,
    instanceCode: s.instanceCode,
    approvalCode: 'APPROVAL-LEAVE',
    uuid: s.uuid ?? uid(),
    ...(s.operateTime !== undefined ? { now: new Date(s.operateTime * 1000) } : {}),
  }).body;
}

/** What the kinds' builders share in tests: the docs' token, a test app and tenant. */
const delivery = (s: { uuid?: string; token?: string }) => ({ token: s.token ?? DOC_TOKEN, uuid: s.uuid ?? uid(), appId: 'cli_test', tenantKey: 'tenant' });
/** A v1 special approval's codes and requester (u_alice unless given). */
const requestOf = (s: { uuid?: string; instanceCode: string; employeeId?: string }, approvalCode: string) => {
  const employeeId = s.employeeId ?? 'u_alice';
  return { ...delivery(s), instanceCode: s.instanceCode, approvalCode, employeeId, openId: `ou_${employeeId}` };
};
/** a fixed approval time (an example's), so two bodies of one spec differ only in their send time */
const APPROVED_AT = new Date(1589527354_000);

export interface OutSpec {
  instanceCode: string;
  employeeId?: string;
  start?: string;
  end?: string;
  interval?: number;
  unit?: string;
  uuid?: string;
}

/** An out_approval (外出) body, i18n_resources a list of JSON strings as the docs show it. */
export function outApproval(s: OutSpec): string {
  return build.outApproval({
    ...requestOf(s, 'APPROVAL-OUT'),
    outName: 'Client visit',
    i18nKey: '@i18n@out',
    locale: 'en_us',
    unit: s.unit ?? 'HOUR',
    start: s.start ?? '2024-09-05 14:00:00',
    end: s.end ?? '2024-09-05 17:00:00',
    intervalSeconds: s.interval ?? 10800,
    reason: 'client',
    approvedAt: APPROVED_AT,
  }).body;
}

/** out_approval_revert / work_approval_revert / leave_approval_revert: instance, approval, operate_time (s). */
export function specialRevert(type: build.RevertEventType, instanceCode: string, s: { uuid?: string } = {}): string {
  return build.approvalRevert(type, { ...delivery(s), instanceCode, approvalCode: 'APPROVAL-X', now: new Date(1725600000_000) }).body;
}

export interface TripSpec {
  instanceCode: string;
  employeeId?: string;
  peers?: string[];
  schedules?: Array<{ start: string; end: string; interval: number | string }>;
  uuid?: string;
}

const userIds = (userId: string, suffix = userId): build.UserIds => ({ userId, openId: `ou_${suffix}`, unionId: `on_${suffix}` });

/** An approval.instance.trip_group_update_v4 (出差) body, trip_interval strings as the docs show them. */
export function tripApproval(s: TripSpec): string {
  const schedules = s.schedules ?? [{ start: '2024-09-09 09:00:00', end: '2024-09-10 18:00:00', interval: '172800' }];
  return build.tripGroupUpdate({
    ...delivery(s),
    instanceCode: s.instanceCode,
    requester: userIds(s.employeeId ?? 'u_alice', 'x'),
    schedules: schedules.map((x) => ({ start: x.start, end: x.end, intervalSeconds: Number(x.interval), departure: 'Beijing', destination: 'Shanghai', transportation: 'train' })),
    peers: (s.peers ?? []).map((p) => userIds(p)),
    reason: 'conference',
    approvedAt: APPROVED_AT,
  }).body;
}

export interface WorkSpec {
  instanceCode: string;
  employeeId?: string;
  start?: string;
  end?: string;
  interval?: number;
  timeRange?: Array<[string, string]>;
  detail?: Array<{ start: string; end: string; interval: number }>;
  uuid?: string;
}

/** A work_approval (加班) body. */
export function workApproval(s: WorkSpec): string {
  return build.workApproval({
    ...requestOf(s, 'APPROVAL-WORK'),
    workType: 'weekday',
    start: s.start ?? '2024-09-07 18:00:00',
    end: s.end ?? '2024-09-07 22:00:00',
    intervalSeconds: s.interval ?? 14400,
    ...(s.timeRange ? { ranges: s.timeRange } : {}),
    ...(s.detail ? { detail: s.detail.map((d) => ({ start: d.start, end: d.end, intervalSeconds: d.interval })) } : {}),
    reason: 'release',
    approvedAt: APPROVED_AT,
  }).body;
}

/** An approval_instance body (REVERTED sends operate_time as an int64, the others as a string). */
export function approvalInstance(instanceCode: string, status: string, s: { uuid?: string; approvalCode?: string } = {}): string {
  return build.approvalInstance({ ...delivery(s), instanceCode, status, approvalCode: s.approvalCode ?? 'APPROVAL-X', operateTime: new Date(1725600000000), createUuid: 'x' }).body;
}

/** A v1 envelope around an event object. */
function v1(event: Record<string, unknown>, s: { uuid?: string; token?: string } = {}): string {
  return JSON.stringify({ ts: `${Date.now() / 1000}`, uuid: s.uuid ?? uid(), token: s.token ?? DOC_TOKEN, type: 'event_callback', event });
}

/** An approval_task body. */
export function approvalTask(instanceCode: string, t: { taskId: string; status: string; userId?: string; operateTime: number; extra?: string }, s: { uuid?: string } = {}): string {
  return v1(
    {
      app_id: 'cli_test',
      open_id: t.userId ? `ou_${t.userId}` : '',
      tenant_key: 'tenant',
      type: 'approval_task',
      approval_code: 'APPROVAL-X',
      instance_code: instanceCode,
      task_id: t.taskId,
      user_id: t.userId ?? '',
      status: t.status,
      operate_time: String(t.operateTime),
      custom_key: '',
      def_key: '',
      extra: t.extra ?? '',
    },
    s,
  );
}
