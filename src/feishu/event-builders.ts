/**
 * Feishu's approval events as Feishu sends them, for `leave-bridge trigger` and the tests: one way
 * to build them. Shapes follow the documented payload examples
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave,
 * …/special-event/out-of-office, …/special-event/overtime, …/special-event/business-trip and
 * https://open.feishu.cn/document/server-docs/approval-v4/event/common-event/approval-instance-event):
 * the v1 schema (`uuid`, `token` at the top level, `event.type`) of all but the trip, whose 2.0
 * schema carries the token and its id in `header`; V1's integer `leave_unit`, V2's string unit and
 * its NON-JSON list strings (`i18n_resources`, `leave_range`, `leave_detail`); the out event's
 * `i18n_resources` as a list of JSON strings; the trip's intervals as strings; the reverts' integer
 * `operate_time` in seconds, approval_instance's in milliseconds as a string (an integer for
 * REVERTED).
 *
 * Delivery as Feishu does it: with an encrypt key the body is `{"encrypt": …}` (AES-256-CBC, key =
 * SHA-256 of the encrypt key, IV first) signed with X-Lark-Request-Timestamp/Nonce/Signature over
 * the raw body bytes; without one, the plain JSON (authenticated by its token alone).
 */
import type { LeaveUnit } from '../leave/types.js';
import type { LocalDateTime } from '../shared/local-time.js';
import { encryptEvent, eventSignature } from './crypto.js';
import { TRIP_EVENT } from './event-schemas.js';

/** One delivery's plaintext and what identifies it. */
export interface BuiltEvent {
  eventType: string;
  /** the dedupe key Feishu gives each delivery (v1 schema `uuid`, 2.0 schema `header.event_id`) */
  uuid: string;
  /** where the body carries `uuid` */
  keyName: 'uuid' | 'event_id';
  instanceCode: string;
  /** the decrypted body, token included */
  body: string;
}

/** What every delivery carries besides its event. */
export interface DeliverySpec {
  /** FEISHU_VERIFICATION_TOKEN: Feishu puts it in every body */
  token: string;
  appId?: string;
  tenantKey?: string;
  /** default: a fresh one, as every delivery has */
  uuid?: string;
  /** when the event is sent (`ts`, or the 2.0 header's `event_create_time`); default now */
  now?: Date;
}

export interface LeaveEventSpec extends DeliverySpec {
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
  /** when the approval ended (`end_time`; it started ten minutes before); default `now` */
  approvedAt?: Date;
}

/** A revert happens when it is sent (`operate_time` is `now`). */
export interface RevertEventSpec extends DeliverySpec {
  instanceCode: string;
  approvalCode: string;
}

const V1_UNIT: Record<LeaveUnit, number> = { DAY: 1, HALF_DAY: 2, HOUR: 3, HALF_HOUR: 4, MINUTE: 5 };
const DEFAULT_APP_ID = 'cli_leave_bridge';
const DEFAULT_TENANT_KEY = 'leave-bridge';
/** V2 names the leave type by an i18n key resolved through `i18n_resources` (the docs' own key). */
const I18N_KEY = '@i18n@7276381556766212099';
/** The out event's i18n key (the docs' own). */
const OUT_I18N_KEY = '@i18n@someKey';

/** A uuid like Feishu's: 32 lowercase hex digits. */
export const newEventUuid = (): string => crypto.randomUUID().replaceAll('-', '');

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
/** `ts`: seconds with a fraction, as a string ("1502199207.7171419"). */
const ts = (d: Date) => (d.getTime() / 1000).toFixed(7);
/** V2's list strings: `[[a,b],[c,d]]`, no quotes (Feishu's own format, not JSON). */
const looseRanges = (range: Array<[string, string]>) => `[${range.map(([a, b]) => `[${a},${b}]`).join(',')}]`;

/** A v1 delivery: `ts`, `uuid` and `token` around `event`, whose `type` names the event. */
function v1Event(s: DeliverySpec, instanceCode: string, type: string, fields: Record<string, unknown>): BuiltEvent {
  const uuid = s.uuid ?? newEventUuid();
  const event = { app_id: s.appId ?? DEFAULT_APP_ID, tenant_key: s.tenantKey ?? DEFAULT_TENANT_KEY, ...fields, type };
  const body = JSON.stringify({ ts: ts(s.now ?? new Date()), uuid, token: s.token, type: 'event_callback', event });
  return { eventType: type, uuid, keyName: 'uuid', instanceCode, body };
}

/** The approval's own start and end (seconds): submitted a little before it was approved. */
const approvalTimes = (s: { now?: Date; approvedAt?: Date }) => {
  const end = seconds(s.approvedAt ?? s.now ?? new Date());
  return { start_time: end - 600, end_time: end };
};

/** `leave_approval` (V1). */
export function leaveApprovalV1(s: LeaveEventSpec): BuiltEvent {
  return v1Event(s, s.instanceCode, 'leave_approval', {
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    employee_id: s.employeeId,
    open_id: s.openId,
    ...approvalTimes(s),
    leave_type: s.leaveName,
    leave_start_time: s.start,
    leave_end_time: s.end,
    leave_interval: s.intervalSeconds,
    leave_unit: V1_UNIT[s.unit],
    leave_reason: s.reason ?? '',
  });
}

/** `leave_approvalV2`, with the non-JSON list strings Feishu really sends. */
export function leaveApprovalV2(s: LeaveEventSpec): BuiltEvent {
  const range = looseRanges(s.range ?? [[s.start, s.end]]);
  return v1Event(s, s.instanceCode, 'leave_approvalV2', {
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    ...approvalTimes(s),
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
  });
}

/** The v1 reverts of leave, out and overtime: only the codes and when (seconds). */
export type RevertEventType = 'leave_approval_revert' | 'out_approval_revert' | 'work_approval_revert';

export function approvalRevert(type: RevertEventType, s: RevertEventSpec): BuiltEvent {
  return v1Event(s, s.instanceCode, type, { instance_code: s.instanceCode, approval_code: s.approvalCode, operate_time: seconds(s.now ?? new Date()) });
}

/** `leave_approval_revert`. */
export const leaveApprovalRevert = (s: RevertEventSpec): BuiltEvent => approvalRevert('leave_approval_revert', s);

export interface OutEventSpec extends DeliverySpec {
  instanceCode: string;
  approvalCode: string;
  /** the submitter's user_id */
  employeeId: string;
  openId: string;
  /** the out type's name, sent through `i18n_resources` */
  outName: string;
  /** `out_unit` as sent: HOUR, DAY, or HALF_DAY (spelt HALR_DAY in the page's field table) */
  unit: string;
  start: LocalDateTime;
  end: LocalDateTime;
  intervalSeconds: number;
  reason?: string;
  /** the i18n key `out_name` names; default the docs' own */
  i18nKey?: string;
  /** default zh_cn, the docs' */
  locale?: string;
  approvedAt?: Date;
}

/** `out_approval` (外出): `i18n_resources` a list of JSON strings, one per locale. */
export function outApproval(s: OutEventSpec): BuiltEvent {
  const key = s.i18nKey ?? OUT_I18N_KEY;
  return v1Event(s, s.instanceCode, 'out_approval', {
    i18n_resources: [JSON.stringify({ is_default: true, locale: s.locale ?? 'zh_cn', texts: { [key]: s.outName } })],
    instance_code: s.instanceCode,
    approval_code: s.approvalCode,
    out_image: '',
    out_interval: s.intervalSeconds,
    out_name: key,
    out_reason: s.reason ?? '',
    out_start_time: s.start,
    out_end_time: s.end,
    out_unit: s.unit,
    ...approvalTimes(s),
    open_id: s.openId,
    user_id: s.employeeId,
  });
}

export interface WorkEventSpec extends DeliverySpec {
  instanceCode: string;
  approvalCode: string;
  /** the submitter's user_id (`employee_id`) */
  employeeId: string;
  openId: string;
  workType: string;
  start: LocalDateTime;
  end: LocalDateTime;
  /** `work_interval`, the whole overtime */
  intervalSeconds: number;
  /** `time_range`; default one range, start..end */
  ranges?: Array<[LocalDateTime, LocalDateTime]>;
  /**
   * `work_detail`, the overtime per date: `start` and `end` are that date to the minute
   * ("2018-12-01 00:00", as the docs show them); left out when not given
   */
  detail?: Array<{ start: string; end: string; intervalSeconds: number }>;
  reason?: string;
  approvedAt?: Date;
}

/** `work_approval` (加班). */
export function workApproval(s: WorkEventSpec): BuiltEvent {
  const ranges = s.ranges ?? [[s.start, s.end]];
  return v1Event(s, s.instanceCode, 'work_approval', {
    // time_range is sent when allow_multi_time_range is 1, as in the docs' example (one range)
    allow_multi_time_range: 1,
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    employee_id: s.employeeId,
    open_id: s.openId,
    ...approvalTimes(s),
    time_range: ranges.map(([a, b]) => ({ work_start_time: a, work_end_time: b })),
    // rule_associated 2: paid overtime (加班费), the docs' example
    ...(s.detail ? { work_detail: s.detail.map((d) => ({ start: d.start, end: d.end, rule_associated: 2, interval: d.intervalSeconds })) } : {}),
    work_start_time: s.start,
    work_end_time: s.end,
    work_interval: s.intervalSeconds,
    work_multi_imitate_users: null,
    work_reason: s.reason ?? '',
    work_type: s.workType,
  });
}

/** A person as the 2.0 schema names one: `{"id": {"user_id", "open_id", "union_id"}}`. */
export interface UserIds {
  userId: string;
  openId: string;
  unionId: string;
}

export interface TripSchedule {
  start: LocalDateTime;
  end: LocalDateTime;
  intervalSeconds: number;
  departure?: string;
  /** Feishu's ids of the places; none by default */
  departureId?: string;
  destination?: string;
  destinationIds?: string[];
  transportation?: string;
  /** 单程 (one way) or 往返 (return) */
  tripType?: string;
  remark?: string;
}

export interface TripEventSpec extends DeliverySpec {
  instanceCode: string;
  requester: UserIds;
  schedules: TripSchedule[];
  peers: UserIds[];
  reason?: string;
  approvedAt?: Date;
}

const idsOf = (u: UserIds) => ({ id: { user_id: u.userId, open_id: u.openId, union_id: u.unionId } });

/**
 * `approval.instance.trip_group_update_v4` (出差), 2.0 schema: the token and the delivery's id
 * in `header`, the trip in `event.object`, its intervals and times as strings. It names no
 * approval code.
 */
export function tripGroupUpdate(s: TripEventSpec): BuiltEvent {
  const uuid = s.uuid ?? newEventUuid();
  const times = approvalTimes(s);
  const body = JSON.stringify({
    schema: '2.0',
    header: {
      event_id: uuid,
      token: s.token,
      event_type: TRIP_EVENT,
      app_id: s.appId ?? DEFAULT_APP_ID,
      tenant_key: s.tenantKey ?? DEFAULT_TENANT_KEY,
      event_create_time: ts(s.now ?? new Date()),
    },
    event: {
      object: {
        type: 'APPROVED',
        instance_code: s.instanceCode,
        start_user: idsOf(s.requester),
        start_time: String(times.start_time),
        end_time: String(times.end_time),
        schedules: s.schedules.map((x) => ({
          trip_start_time: x.start,
          trip_end_time: x.end,
          trip_interval: String(x.intervalSeconds),
          departure: x.departure ?? '',
          departure_id: x.departureId ?? '',
          destination: x.destination ?? '',
          destination_ids: x.destinationIds ?? [],
          transportation: x.transportation ?? '',
          trip_type: x.tripType ?? '往返',
          remark: x.remark ?? '',
        })),
        trip_interval: String(s.schedules.reduce((a, x) => a + x.intervalSeconds, 0)),
        trip_reason: s.reason ?? '',
        trip_peers: s.peers.map(idsOf),
      },
    },
  });
  return { eventType: TRIP_EVENT, uuid, keyName: 'event_id', instanceCode: s.instanceCode, body };
}

export interface InstanceEventSpec extends DeliverySpec {
  instanceCode: string;
  approvalCode: string;
  /** PENDING, APPROVED, REJECTED, CANCELED, DELETED, REVERTED… */
  status: string;
  /** when the status changed; default `now` */
  operateTime?: Date;
  /** `event.uuid`: the uuid the instance was created with, when it was; left out otherwise */
  createUuid?: string;
}

/**
 * `approval_instance`: `operate_time` in milliseconds, a string, except for REVERTED, where the
 * page says it is an int64.
 */
export function approvalInstance(s: InstanceEventSpec): BuiltEvent {
  const ms = (s.operateTime ?? s.now ?? new Date()).getTime();
  return v1Event(s, s.instanceCode, 'approval_instance', {
    approval_code: s.approvalCode,
    instance_code: s.instanceCode,
    status: s.status,
    operate_time: s.status === 'REVERTED' ? ms : String(ms),
    instance_operate_time: String(ms),
    ...(s.createUuid !== undefined ? { uuid: s.createUuid } : {}),
  });
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
