/**
 * Feishu's leave events as Feishu sends them, for `leave-bridge trigger` and the tests: one way to
 * build them. Shapes follow the documented examples of the leave approval events
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave): the v1
 * schema (`uuid`, `token` at the top level, `event.type`), V1's integer `leave_unit`, V2's string
 * unit and its NON-JSON list strings (`i18n_resources`, `leave_range`, `leave_detail`), and the
 * revert's integer `operate_time` in seconds.
 *
 * Delivery as Feishu does it: with an encrypt key the body is `{"encrypt": …}` (AES-256-CBC, key =
 * SHA-256 of the encrypt key, IV first) signed with X-Lark-Request-Timestamp/Nonce/Signature over
 * the raw body bytes; without one, the plain JSON (authenticated by its token alone).
 */
import type { LeaveUnit } from '../leave/types.js';
import type { LocalDateTime } from '../shared/local-time.js';
import { encryptEvent, eventSignature } from './crypto.js';

/** One delivery's plaintext and what identifies it. */
export interface BuiltEvent {
  eventType: string;
  /** the dedupe key Feishu gives each delivery (v1 schema `uuid`) */
  uuid: string;
  instanceCode: string;
  /** the decrypted body, token included */
  body: string;
}

export interface LeaveEventSpec {
  /** FEISHU_VERIFICATION_TOKEN: Feishu puts it in every body */
  token: string;
  instanceCode: string;
  approvalCode: string;
  /** the submitter's user_id (V1 `employee_id`, V2 `user_id`) */
  employeeId: string;
  openId: string;
  leaveName: string;
  unit: LeaveUnit;
  start: LocalDateTime;
  end: LocalDateTime;
  intervalSeconds: number;
  /** V2's `leave_range` and `leave_detail`; default one segment, start..end */
  range?: Array<[LocalDateTime, LocalDateTime]>;
  reason?: string;
  appId?: string;
  tenantKey?: string;
  /** default: a fresh one, as every delivery has */
  uuid?: string;
  /** when the event is sent (`ts`); default now */
  now?: Date;
  /** when the approval ended (`end_time`; it started ten minutes before); default `now` */
  approvedAt?: Date;
}

export interface RevertEventSpec {
  token: string;
  instanceCode: string;
  approvalCode: string;
  appId?: string;
  tenantKey?: string;
  uuid?: string;
  /** when the revert happened; default now */
  now?: Date;
}

const V1_UNIT: Record<LeaveUnit, number> = { DAY: 1, HALF_DAY: 2, HOUR: 3, HALF_HOUR: 4, MINUTE: 5 };
const DEFAULT_APP_ID = 'cli_leave_bridge';
const DEFAULT_TENANT_KEY = 'leave-bridge';
/** V2 names the leave type by an i18n key resolved through `i18n_resources` (the docs' own key). */
const I18N_KEY = '@i18n@7276381556766212099';

/** A uuid like Feishu's: 32 lowercase hex digits. */
export const newEventUuid = (): string => crypto.randomUUID().replaceAll('-', '');

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
/** `ts`: seconds with a fraction, as a string ("1502199207.7171419"). */
const ts = (d: Date) => (d.getTime() / 1000).toFixed(7);
/** V2's list strings: `[[a,b],[c,d]]`, no quotes (Feishu's own format, not JSON). */
const looseRanges = (range: Array<[string, string]>) => `[${range.map(([a, b]) => `[${a},${b}]`).join(',')}]`;

function envelope(token: string, uuid: string, now: Date, event: Record<string, unknown>): string {
  return JSON.stringify({ ts: ts(now), uuid, token, type: 'event_callback', event });
}

/** `leave_approval` (V1). */
export function leaveApprovalV1(s: LeaveEventSpec): BuiltEvent {
  const now = s.now ?? new Date();
  const uuid = s.uuid ?? newEventUuid();
  const body = envelope(s.token, uuid, now, {
    app_id: s.appId ?? DEFAULT_APP_ID,
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    employee_id: s.employeeId,
    open_id: s.openId,
    // the approval's own start and end (seconds): submitted a little before it was approved
    start_time: seconds(s.approvedAt ?? now) - 600,
    end_time: seconds(s.approvedAt ?? now),
    leave_type: s.leaveName,
    leave_start_time: s.start,
    leave_end_time: s.end,
    leave_interval: s.intervalSeconds,
    leave_unit: V1_UNIT[s.unit],
    leave_reason: s.reason ?? '',
    tenant_key: s.tenantKey ?? DEFAULT_TENANT_KEY,
    type: 'leave_approval',
  });
  return { eventType: 'leave_approval', uuid, instanceCode: s.instanceCode, body };
}

/** `leave_approvalV2`, with the non-JSON list strings Feishu really sends. */
export function leaveApprovalV2(s: LeaveEventSpec): BuiltEvent {
  const now = s.now ?? new Date();
  const uuid = s.uuid ?? newEventUuid();
  const range = looseRanges(s.range ?? [[s.start, s.end]]);
  const body = envelope(s.token, uuid, now, {
    app_id: s.appId ?? DEFAULT_APP_ID,
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    start_time: seconds(s.approvedAt ?? now) - 600,
    end_time: seconds(s.approvedAt ?? now),
    i18n_resources: `[{is_default=true,locale=zh_cn,texts={${I18N_KEY}=${s.leaveName}}}]`,
    leave_name: I18N_KEY,
    leave_certification: [],
    leave_detail: range,
    leave_difficult_labour: '',
    leave_family_relation_type: '',
    leave_start_time: s.start,
    leave_end_time: s.end,
    leave_feeding_arrive_late: 0,
    leave_feeding_leave_early: 0,
    leave_feeding_rest_daily: 0,
    leave_infant_num: '',
    leave_interval: s.intervalSeconds,
    leave_pregnancy_age: '',
    leave_pregnancy_check_up: '',
    leave_premarital_check_up: '',
    leave_range: range,
    leave_reason: s.reason ?? '',
    leave_unit: s.unit,
    user_id: s.employeeId,
    open_id: s.openId,
    origin_instance_code: '',
    tenant_key: s.tenantKey ?? DEFAULT_TENANT_KEY,
    type: 'leave_approvalV2',
  });
  return { eventType: 'leave_approvalV2', uuid, instanceCode: s.instanceCode, body };
}

/** `leave_approval_revert`: only the codes and when (seconds). */
export function leaveApprovalRevert(s: RevertEventSpec): BuiltEvent {
  const now = s.now ?? new Date();
  const uuid = s.uuid ?? newEventUuid();
  const body = envelope(s.token, uuid, now, {
    app_id: s.appId ?? DEFAULT_APP_ID,
    tenant_key: s.tenantKey ?? DEFAULT_TENANT_KEY,
    type: 'leave_approval_revert',
    instance_code: s.instanceCode,
    approval_code: s.approvalCode,
    operate_time: seconds(now),
  });
  return { eventType: 'leave_approval_revert', uuid, instanceCode: s.instanceCode, body };
}

/** A request as Feishu posts it to the event request URL. */
export interface FeishuRequest {
  body: string;
  headers: Record<string, string>;
}

export interface SignOptions {
  encryptKey: string;
  /** X-Lark-Request-Timestamp (seconds); default now */
  timestamp?: number;
  /** X-Lark-Request-Nonce; default random */
  nonce?: string;
}

/** Sign a body exactly as given (plaintext or already encrypted). */
export async function signedRequest(body: string, opts: SignOptions): Promise<FeishuRequest> {
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = opts.nonce ?? crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  const signature = await eventSignature(timestamp, nonce, opts.encryptKey, new TextEncoder().encode(body));
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

/** What Feishu sends with an encrypt key: {"encrypt": …} and the three signature headers. */
export async function encryptedRequest(plaintext: string, opts: SignOptions): Promise<FeishuRequest> {
  const body = JSON.stringify({ encrypt: await encryptEvent(opts.encryptKey, plaintext) });
  return signedRequest(body, opts);
}

/** A delivery as Feishu makes it: encrypted and signed when an encrypt key is set, else the plain body. */
export function feishuRequest(plaintext: string, opts: { encryptKey: string | undefined; timestamp?: number; nonce?: string }): Promise<FeishuRequest> {
  if (opts.encryptKey === undefined) return Promise.resolve({ body: plaintext, headers: { 'content-type': 'application/json' } });
  return encryptedRequest(plaintext, { ...opts, encryptKey: opts.encryptKey });
}
