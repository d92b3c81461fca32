import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encryptEvent, eventSignature } from '../../src/feishu/crypto.js';

/**
 * Load for the ingest benchmark: Feishu's documented leave_approval / leave_approvalV2 examples
 * (test/fixtures, verbatim from the docs), each approval sent twice as Feishu does (V1 and V2, same
 * instance_code, different uuid), made unique per approval (instance code, uuids, employee, dates),
 * encrypted and signed exactly as Feishu does with an encrypt key.
 */
const V1 = JSON.parse(readFileSync(new URL('../../test/fixtures/leave_approval.json', import.meta.url), 'utf8')) as FeishuV1Body;
const V2 = JSON.parse(readFileSync(new URL('../../test/fixtures/leave_approvalV2.json', import.meta.url), 'utf8')) as FeishuV1Body;

interface FeishuV1Body {
  ts: string;
  uuid: string;
  token: string;
  type: string;
  event: Record<string, unknown>;
}

/** An encrypted body with its signature headers, ready to post. */
export interface PreparedRequest extends EncryptedEvent {
  headers: Record<string, string>;
}

export interface EventOptions {
  encryptKey: string;
  verificationToken: string;
  /** distinct employees the approvals are spread over */
  employees?: number;
}

const DAY_MS = 86_400_000;
const FIXTURE_DAY = Date.UTC(2024, 8, 5);

/** Move every 2024-09-05…07 date in the fixture text by `offset` days (keeps V1 and V2 consistent). */
function shiftDates(text: string, offset: number): string {
  return text.replace(/2024-09-0([5-7])/g, (_, d: string) => {
    const t = FIXTURE_DAY + (Number(d) - 5 + offset) * DAY_MS;
    return new Date(t).toISOString().slice(0, 10);
  });
}

function plaintextFor(variant: 'v1' | 'v2', k: number, instanceCode: string, opts: EventOptions): { text: string; uuid: string } {
  const base = variant === 'v1' ? V1 : V2;
  const uuid = randomUUID().replaceAll('-', '');
  const employee = `g${(k % (opts.employees ?? 1000)).toString(36).padStart(5, '0')}`;
  const event: Record<string, unknown> = { ...base.event, instance_code: instanceCode, open_id: `ou_${employee}` };
  if (variant === 'v1') event.employee_id = employee;
  else event.user_id = employee;
  const body = { ...base, ts: (Date.now() / 1000).toFixed(7), uuid, token: opts.verificationToken, event };
  // Spread over a year, so attendance rows land on many dates as they do in a real company.
  return { text: shiftDates(JSON.stringify(body), (k * 7) % 365), uuid };
}

export interface PlaintextEvent {
  text: string;
  uuid: string;
  instanceCode: string;
  variant: 'v1' | 'v2';
}

export interface EncryptedEvent {
  body: Buffer;
  uuid: string;
  instanceCode: string;
  variant: 'v1' | 'v2';
}

/** `count` decrypted bodies, V1 then V2 of each approval next to each other. */
export function plaintextEvents(count: number, opts: EventOptions): PlaintextEvent[] {
  const out: PlaintextEvent[] = new Array(count);
  let instanceCode = '';
  for (let i = 0; i < count; i++) {
    const variant = i % 2 === 0 ? 'v1' : 'v2';
    if (variant === 'v1') instanceCode = randomUUID().toUpperCase();
    out[i] = { ...plaintextFor(variant, Math.floor(i / 2), instanceCode, opts), instanceCode, variant };
  }
  return out;
}

/**
 * `count` encrypted bodies, V1 then V2 of each approval next to each other (so at concurrency ≥ 2
 * the two halves of one approval race, as they do in production). Encryption does not depend on
 * the clock, so it is done ahead; signing (which does) is `signEvents`, right before the load.
 */
export async function encryptEvents(count: number, opts: EventOptions): Promise<EncryptedEvent[]> {
  const plain = plaintextEvents(count, opts);
  const out: EncryptedEvent[] = new Array(count);
  const encoder = new TextEncoder();
  // In slices, so a large batch does not queue tens of thousands of WebCrypto jobs at once.
  const SLICE = 512;
  for (let start = 0; start < count; start += SLICE) {
    const slice = plain.slice(start, start + SLICE).map(({ text, uuid, instanceCode, variant }) =>
      encryptEvent(opts.encryptKey, text).then((encrypted) => ({
        body: Buffer.from(encoder.encode(JSON.stringify({ encrypt: encrypted }))),
        uuid,
        instanceCode,
        variant,
      })),
    );
    const done = await Promise.all(slice);
    for (let j = 0; j < done.length; j++) out[start + j] = done[j]!;
  }
  return out;
}

/**
 * X-Lark-Request-Timestamp / Nonce / Signature over each raw body, timestamped now: the service
 * rejects a timestamp more than 300 s off, so call this right before the load starts.
 */
export async function signEvents(events: EncryptedEvent[], encryptKey: string): Promise<PreparedRequest[]> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const out: PreparedRequest[] = new Array(events.length);
  const SLICE = 1024;
  for (let start = 0; start < events.length; start += SLICE) {
    const end = Math.min(events.length, start + SLICE);
    const slice: Array<Promise<void>> = [];
    for (let i = start; i < end; i++) {
      const e = events[i]!;
      const nonce = randomUUID().slice(0, 8);
      slice.push(
        eventSignature(timestamp, nonce, encryptKey, new Uint8Array(e.body.buffer, e.body.byteOffset, e.body.byteLength) as Uint8Array<ArrayBuffer>).then((signature) => {
          out[i] = {
            ...e,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              'x-lark-request-timestamp': timestamp,
              'x-lark-request-nonce': nonce,
              'x-lark-signature': signature,
            },
          };
        }),
      );
    }
    await Promise.all(slice);
  }
  return out;
}

/** A decrypted event of typical size, for the plain-INSERT baseline's payload column. */
export function samplePlaintext(opts: EventOptions): string {
  return plaintextFor('v2', 0, randomUUID().toUpperCase(), opts).text;
}
