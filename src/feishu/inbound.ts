import { ingest, type IngestDeps, type IngestResult, type IngestSource } from '../leave/ingest.js';
import { plan, type Planned, type Reading } from '../leave/plan.js';
import type { Config } from '../config.js';
import { storable } from '../shared/storable.js';
import { COREHR_REQUEST_EVENT_TYPE, corehrInstanceCode, readCorehrEvent } from './corehr.js';
import { normaliseEvent } from './normalise-event.js';
import { UnusableEventError } from './unusable-event-error.js';

/** One authentic Feishu delivery, from the webhook or the long connection. */
export interface FeishuDelivery {
  eventKey: string;
  eventType: string;
  source: IngestSource;
  /** the decrypted body; the verification token is removed before it is stored */
  body: unknown;
  /** the event object handed to normalise */
  event: unknown;
  /** set when the envelope is authentic but unusable (no id, no event object) */
  problem?: string | null;
}

/** The instance code the raw event names, if any: a quarantined delivery is still listed with it. */
function namedInstance(event: unknown): string | null {
  // 2.0-schema special events (trip, remedy) carry their fields in event.object
  const inner = typeof event === 'object' && event !== null && 'object' in event ? (event as { object: unknown }).object : event;
  const code = typeof inner === 'object' && inner !== null ? (inner as { instance_code?: unknown }).instance_code : undefined;
  return typeof code === 'string' ? code.slice(0, 200) || null : null;
}

/** A CoreHR request's record code, so even a quarantined one is listed with its request. */
function corehrCodeOf(eventType: string, event: unknown): string | null {
  if (eventType !== COREHR_REQUEST_EVENT_TYPE || typeof event !== 'object' || event === null) return null;
  const id = (event as { leave_request_id?: unknown }).leave_request_id;
  return typeof id === 'string' && id !== '' ? corehrInstanceCode(id.slice(0, 180)) : null;
}

/** What the Feishu adapter keeps of what employees write (config STORE_LEAVE_REASONS). */
export interface Minimise {
  storeReasons: boolean;
}

export const minimiseFor = (config: Pick<Config, 'STORE_LEAVE_REASONS'>): Minimise => ({ storeReasons: config.STORE_LEAVE_REASONS });

/**
 * A leave's reason is free text the employee typed, often about their health: unless
 * STORE_LEAVE_REASONS is on it is dropped from the canonical event, so no leave row gets it.
 */
export function withoutReason(reading: Reading, m: Minimise): Reading {
  if (m.storeReasons || !('event' in reading) || reading.event.kind !== 'approve' || reading.event.reason === null) return reading;
  return { ...reading, event: { ...reading.event, reason: null } };
}

/** Read a Feishu event into the domain's canonical form, or say why it cannot be used. */
export function readEvent(eventType: string, event: unknown, problem?: string | null, m: Minimise = { storeReasons: false }): Reading {
  const instanceCode = namedInstance(event);
  if (problem) return { problem, instanceCode: instanceCode ?? corehrCodeOf(eventType, event) };
  try {
    return withoutReason({ event: readCorehrEvent(eventType, event) ?? normaliseEvent(eventType, event), instanceCode: instanceCode ?? corehrCodeOf(eventType, event) }, m);
  } catch (err) {
    if (err instanceof UnusableEventError) return { problem: err.message, instanceCode: instanceCode ?? corehrCodeOf(eventType, event) };
    throw err;
  }
}

/** Pure: what a Feishu delivery means (read, then planned by the domain). */
export const planDelivery = (d: Pick<FeishuDelivery, 'eventType' | 'event' | 'problem'>, m: Minimise = { storeReasons: false }): Planned =>
  plan(readEvent(d.eventType, storable(d.event), d.problem, m));

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The free-text reason each approval kind carries, typed by the employee: `leave_reason` (leave,
 * V1 and V2), `out_reason`, `work_reason` (overtime), `shift_reason`, `remedy_reason`,
 * `trip_reason`, and a CoreHR leave request's `notes`; the 2.0-schema events (trip, remedy) carry
 * theirs under `event.object`.
 */
const REASON_FIELDS = ['leave_reason', 'out_reason', 'work_reason', 'shift_reason', 'remedy_reason', 'trip_reason', 'notes'];

function withoutReasonFields(value: Record<string, unknown>): Record<string, unknown> {
  if (!REASON_FIELDS.some((f) => f in value)) return value;
  const out = { ...value };
  for (const f of REASON_FIELDS) delete out[f];
  return out;
}

/**
 * The event object without the employee's reason, whatever the kind. Only those fields: the
 * payload is kept for audit and replay.
 */
export function redactReason(event: unknown, m: Minimise): unknown {
  if (m.storeReasons || !isRecord(event)) return event;
  const top = withoutReasonFields(event);
  return isRecord(top.object) ? { ...top, object: withoutReasonFields(top.object) } : top;
}

/**
 * What of a delivery's body is stored and shown (admin API, quarantine): the Verification Token
 * replaced by `[redacted]`, and the leave reason removed unless STORE_LEAVE_REASONS.
 */
export function redactPayload(body: unknown, m: Minimise): unknown {
  if (!isRecord(body)) return body;
  const out: Record<string, unknown> = { ...body };
  if ('token' in out) out.token = '[redacted]';
  const header = out.header;
  if (isRecord(header) && 'token' in header) out.header = { ...header, token: '[redacted]' };
  if ('event' in out) out.event = redactReason(out.event, m);
  return out;
}

/**
 * An approval instance's `form` (a JSON string of widgets, as backfill stores it) without the
 * leave widget's reason. A form that does not parse is kept out altogether rather than stored
 * with whatever it holds.
 */
export function redactFormReason(form: string, m: Minimise): string | null {
  if (m.storeReasons) return form;
  let widgets: unknown;
  try {
    widgets = JSON.parse(form);
  } catch {
    return null;
  }
  if (!Array.isArray(widgets)) return null;
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') {
      try {
        return JSON.stringify(scrub(JSON.parse(value)));
      } catch {
        return value;
      }
    }
    if (Array.isArray(value)) return value.filter((sub) => !(isRecord(sub) && typeof sub.id === 'string' && /reason/i.test(sub.id)));
    if (isRecord(value) && 'reason' in value) {
      const { reason: _dropped, ...rest } = value;
      return rest;
    }
    return value;
  };
  return JSON.stringify(widgets.map((w) => (isRecord(w) && 'value' in w ? { ...w, value: scrub(w.value) } : w)));
}

/** Store one Feishu delivery through the domain's ingest; resolves after commit (then ack). */
export function receive(deps: IngestDeps, d: FeishuDelivery): Promise<IngestResult> {
  const m = minimiseFor(deps.config);
  return ingest(deps, { eventKey: d.eventKey, eventType: d.eventType, source: d.source, payload: redactPayload(d.body, m) }, planDelivery(d, m));
}
