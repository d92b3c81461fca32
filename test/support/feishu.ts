import { readFileSync } from 'node:fs';
import { encryptEvent, eventSignature } from '../../src/feishu/crypto.js';

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

export interface FeishuRequest {
  body: string;
  headers: Record<string, string>;
}

/** What Feishu sends with an encrypt key: {"encrypt": …} and the three signature headers. */
export async function encryptedRequest(
  plaintext: string,
  opts: { encryptKey?: string; timestamp?: number; nonce?: string } = {},
): Promise<FeishuRequest> {
  const key = opts.encryptKey ?? TEST_ENCRYPT_KEY;
  const body = JSON.stringify({ encrypt: await encryptEvent(key, plaintext) });
  return signedRequest(body, { ...opts, encryptKey: key });
}

/** Sign a body exactly as given (plaintext or already encrypted). */
export async function signedRequest(
  body: string,
  opts: { encryptKey?: string; timestamp?: number; nonce?: string } = {},
): Promise<FeishuRequest> {
  const key = opts.encryptKey ?? TEST_ENCRYPT_KEY;
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? Math.random().toString(36).slice(2);
  const signature = await eventSignature(timestamp, nonce, key, new TextEncoder().encode(body));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-lark-request-timestamp': timestamp,
      'x-lark-request-nonce': nonce,
      'x-lark-signature': signature,
    },
  };
}

let seq = 0;
const uid = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

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

const V1_UNIT = { DAY: 1, HALF_DAY: 2, HOUR: 3, HALF_HOUR: 4, MINUTE: 5 } as const;

/** A leave_approval (V1) body in Feishu's shape. */
export function leaveApprovalV1(s: LeaveSpec = {}): string {
  return JSON.stringify({
    ts: `${Date.now() / 1000}`,
    uuid: s.uuid ?? uid(),
    token: s.token ?? DOC_TOKEN,
    type: 'event_callback',
    event: {
      app_id: 'cli_test',
      approval_code: 'APPROVAL-LEAVE',
      instance_code: s.instanceCode ?? `INST-${uid()}`,
      employee_id: s.employeeId ?? 'u_alice',
      open_id: s.openId ?? 'ou_alice',
      start_time: 1589527346,
      end_time: 1589527354,
      leave_type: s.leaveName ?? 'Annual leave',
      leave_start_time: s.start ?? '2024-09-05 00:00:00',
      leave_end_time: s.end ?? '2024-09-06 00:00:00',
      leave_interval: s.interval ?? 86400,
      leave_unit: V1_UNIT[s.unit ?? 'DAY'],
      leave_reason: 'test',
      tenant_key: 'tenant',
      type: 'leave_approval',
    },
  });
}

/** A leave_approvalV2 body with the non-JSON string encodings Feishu really sends. */
export function leaveApprovalV2(s: LeaveSpec = {}): string {
  const name = s.leaveName ?? 'Annual leave';
  const range = s.range ?? [[s.start ?? '2024-09-05 00:00:00', s.end ?? '2024-09-06 00:00:00']];
  return JSON.stringify({
    ts: `${Date.now() / 1000}`,
    uuid: s.uuid ?? uid(),
    token: s.token ?? DOC_TOKEN,
    type: 'event_callback',
    event: {
      app_id: 'cli_test',
      approval_code: 'APPROVAL-LEAVE',
      instance_code: s.instanceCode ?? `INST-${uid()}`,
      start_time: 1589527346,
      end_time: 1589527354,
      i18n_resources: `[{is_default=true,locale=en_us,texts={@i18n@1=${name}}}]`,
      leave_name: '@i18n@1',
      leave_certification: [],
      leave_detail: `[${range.map(([a, b]) => `[${a},${b}]`).join(',')}]`,
      leave_start_time: s.start ?? '2024-09-05 00:00:00',
      leave_end_time: s.end ?? '2024-09-06 00:00:00',
      leave_interval: s.interval ?? 86400,
      leave_range: `[${range.map(([a, b]) => `[${a},${b}]`).join(',')}]`,
      leave_reason: 'test',
      leave_unit: s.unit ?? 'DAY',
      user_id: s.employeeId ?? 'u_alice',
      open_id: s.openId ?? 'ou_alice',
      origin_instance_code: '',
      tenant_key: 'tenant',
      type: 'leave_approvalV2',
    },
  });
}

export function leaveRevert(s: { instanceCode: string; uuid?: string; operateTime?: number; token?: string }): string {
  return JSON.stringify({
    ts: `${Date.now() / 1000}`,
    uuid: s.uuid ?? uid(),
    token: s.token ?? DOC_TOKEN,
    type: 'event_callback',
    event: {
      app_id: 'cli_test',
      tenant_key: 'tenant',
      type: 'leave_approval_revert',
      instance_code: s.instanceCode,
      approval_code: 'APPROVAL-LEAVE',
      operate_time: s.operateTime ?? Math.floor(Date.now() / 1000),
    },
  });
}
