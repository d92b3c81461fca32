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
