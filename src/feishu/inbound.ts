import { ingest, type IngestDeps, type IngestResult, type IngestSource } from '../leave/ingest.js';
import { plan, type Planned, type Reading } from '../leave/plan.js';
import { storable } from '../shared/storable.js';
import { normaliseEvent, UnusableEventError } from './events.js';

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

/** Read a Feishu event into the domain's canonical form, or say why it cannot be used. */
export function readEvent(eventType: string, event: unknown, problem?: string | null): Reading {
  const instanceCode = namedInstance(event);
  if (problem) return { problem, instanceCode };
  try {
    return { event: normaliseEvent(eventType, event), instanceCode };
  } catch (err) {
    if (err instanceof UnusableEventError) return { problem: err.message, instanceCode };
    throw err;
  }
}

/** Pure: what a Feishu delivery means (read, then planned by the domain). */
export const planDelivery = (d: Pick<FeishuDelivery, 'eventType' | 'event' | 'problem'>): Planned =>
  plan(readEvent(d.eventType, storable(d.event), d.problem));

/** Remove the verification token before a body is stored or shown (admin API, quarantine). */
export function redactToken(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  if ('token' in out) out.token = '[redacted]';
  const header = out.header;
  if (typeof header === 'object' && header !== null && 'token' in header) {
    out.header = { ...(header as Record<string, unknown>), token: '[redacted]' };
  }
  return out;
}

/** Store one Feishu delivery through the domain's ingest; resolves after commit (then ack). */
export function receive(deps: IngestDeps, d: FeishuDelivery): Promise<IngestResult> {
  return ingest(deps, { eventKey: d.eventKey, eventType: d.eventType, source: d.source, payload: redactToken(d.body) }, planDelivery(d));
}
