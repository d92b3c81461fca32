import net from 'node:net';
import fc from 'fast-check';
import { eventSignature, sha256, toHex } from '../../src/feishu/crypto.js';
import { WEBHOOK_BODY_LIMIT } from '../../src/routes/webhook.js';
import { createPostgresDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1, leaveApprovalV2, signedRequest } from '../support/feishu.js';
import { FeishuSender } from '../support/sender.js';
import { captureText, http, record, SECRETS, startService, type Figures } from './harness.js';
import { connect, leaveWorkload, verify, type Verdict } from './workload.js';

/*
 * A hostile client. fast-check generates what an attacker (or a broken proxy) can send: random
 * bytes, JSON nested hundreds of thousands deep, strings near the 1 MiB limit, a wrong type in
 * every field of an otherwise valid event, correctly signed garbage, garbage signature headers,
 * malformed HTTP on a raw socket, garbage on the admin API. Good events are interleaved
 * throughout. What must hold:
 *
 * - the process never dies and /healthz answers at the end;
 * - no answer is 5xx (the database is up, so not even 503);
 * - nothing that is not authentic (right signature AND right verification token) gets an inbox
 *   row, a leave or anything else; an authentic event is answered 200 and stored once (an
 *   authentic event whose content is unusable is quarantined, not refused: a refusal makes Feishu
 *   re-push it for hours and blocks the ordered events behind it);
 * - every good event sent in between is applied.
 */

type Expect =
  /** not authentic: refused with a 4xx, nothing stored */
  | { kind: 'refused' }
  /**
   * authentic: 200 and stored under one of these keys (the v1 uuid; or, when it has none or an
   * unusable one, a hash of the body as sent or as decrypted)
   */
  | { kind: 'stored'; keys: string[]; instanceCode: string | null; allow400?: boolean }
  /** no webhook storage involved (raw HTTP, admin API): anything but 5xx */
  | { kind: 'any-non-5xx' };

interface HostileCase {
  family: string;
  note: string;
  expect: Expect;
  send(): Promise<{ status: number | null; body: string }>;
}

export interface Violation {
  family: string;
  note: string;
  status: number | null;
  body: string;
  why: string;
}

export interface HostileChecks {
  cases: number;
  byFamily: Record<string, number>;
  statuses: Record<string, number>;
  violations: Violation[];
  storedUnauthentic: string[];
  authenticMissing: string[];
  leavesUnaccounted: string[];
  goodVerdict: Verdict;
  goodAcked: number;
  goodSent: number;
  alive: boolean;
  healthAfter: number | null;
  seed: number;
  unhandledErrorLines: string[];
}

const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Any JSON value of a different type than `original`. */
const wrongTypeFor = (original: unknown) =>
  fc
    .oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.string({ maxLength: 40 }),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    )
    .filter((v) => typeOf(v) !== typeOf(original));

/** Header values undici will send (HTAB, SP, VCHAR, obs-text); the raw-socket family covers the rest. */
const headerValue = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)),
    maxLength,
  });

const uid = () => `hostile-${Math.random().toString(36).slice(2, 12)}`;

async function bodyKey(outerBody: string): Promise<string> {
  return `sha256:${toHex(await sha256(outerBody))}`;
}

/** A valid V1 or V2 event (parsed), fresh ids, the scenario's token. */
function validEvent(variant: 'v1' | 'v2'): Record<string, unknown> {
  const instanceCode = `HOSTILE-${Math.random().toString(36).slice(2, 10)}`;
  const spec = { uuid: uid(), instanceCode, token: SECRETS.verificationToken };
  return JSON.parse(variant === 'v1' ? leaveApprovalV1(spec) : leaveApprovalV2(spec)) as Record<string, unknown>;
}

const EVENT_FIELDS = {
  v1: Object.keys((validEvent('v1').event as object) ?? {}),
  v2: Object.keys((validEvent('v2').event as object) ?? {}),
};
const TOP_FIELDS = ['ts', 'uuid', 'token', 'type', 'event'];

export class HostileRun {
  private readonly cases: HostileCase[] = [];
  constructor(private readonly webhook: string, private readonly baseUrl: string, private readonly port: number) {}

  private post(headers: Record<string, string>, body: string | Uint8Array, family: string) {
    return async () => {
      const r = await fetch(this.webhook, { method: 'POST', headers, body: body as BodyInit, signal: AbortSignal.timeout(15_000) });
      const text = await r.text();
      captureText(`hostile: ${family}`, text);
      return { status: r.status, body: text };
    };
  }

  /** An authentic (encrypted, signed, right token) delivery of `event` serialised as `text`. */
  private async authentic(family: string, note: string, text: string, event: Record<string, unknown>, opts: { allow400?: boolean } = {}) {
    const req = await encryptedRequest(text, { encryptKey: SECRETS.encryptKey });
    const uuid = event.uuid;
    const tokenOk = event.token === SECRETS.verificationToken;
    const inner = event.event as { instance_code?: unknown } | undefined;
    const instanceCode = typeof inner === 'object' && inner !== null && typeof inner.instance_code === 'string' ? inner.instance_code : null;
    const keys = [await bodyKey(req.body), await bodyKey(text)];
    if (typeof uuid === 'string' && uuid !== '') keys.unshift(uuid);
    const expect: Expect = tokenOk ? { kind: 'stored', keys, instanceCode, allow400: opts.allow400 } : { kind: 'refused' };
    this.cases.push({ family, note, expect, send: this.post(req.headers, req.body, family) });
  }

  /** A wrong type in every field of V1 and V2 (one field per case), then several at once. */
  async wrongTypes(extraRuns: number): Promise<void> {
    let seed = SEED;
    for (const variant of ['v1', 'v2'] as const) {
      for (const field of [...TOP_FIELDS, ...EVENT_FIELDS[variant].map((f) => `event.${f}`)]) {
        const body = validEvent(variant);
        const [where, name] = field.startsWith('event.') ? [body.event as Record<string, unknown>, field.slice(6)] : [body, field];
        const value = fc.sample(wrongTypeFor(where[name]), { numRuns: 1, seed: seed++ })[0];
        where[name] = value;
        await this.authentic('wrong-type', `${variant} ${field} = ${JSON.stringify(value)?.slice(0, 60)}`, JSON.stringify(body), body);
      }
    }
    const multi = fc.sample(
      fc.record({ variant: fc.constantFrom('v1' as const, 'v2' as const), picks: fc.array(fc.nat(), { minLength: 2, maxLength: 6 }), values: fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 6, maxLength: 6 }) }),
      { numRuns: extraRuns, seed: seed++ },
    );
    for (const m of multi) {
      const body = validEvent(m.variant);
      const fields = EVENT_FIELDS[m.variant];
      const ev = body.event as Record<string, unknown>;
      const changed = m.picks.map((p, i) => {
        const f = fields[p % fields.length]!;
        ev[f] = typeOf(m.values[i]) === typeOf(ev[f]) ? [m.values[i]] : m.values[i];
        return f;
      });
      await this.authentic('wrong-type', `${m.variant} several: ${changed.join(',')}`, JSON.stringify(body), body);
    }
  }

  /** Random bytes, signed or not, with random or missing signature headers. */
  async randomBytes(runs: number): Promise<void> {
    const specs = fc.sample(
      fc.record({ bytes: fc.uint8Array({ maxLength: 4096 }), signed: fc.boolean(), contentType: headerValue(40) }),
      { numRuns: runs, seed: SEED + 1 },
    );
    for (const s of specs) {
      const body = new Uint8Array(s.bytes);
      const headers: Record<string, string> = { 'content-type': s.contentType };
      if (s.signed) {
        const ts = String(Math.floor(Date.now() / 1000));
        Object.assign(headers, {
          'x-lark-request-timestamp': ts,
          'x-lark-request-nonce': 'n',
          'x-lark-signature': await eventSignature(ts, 'n', SECRETS.encryptKey, body),
        });
      }
      this.cases.push({ family: 'random-bytes', note: `${body.length} bytes${s.signed ? ', validly signed' : ''}`, expect: { kind: 'refused' }, send: this.post(headers, body, 'random-bytes') });
    }
  }

  /** JSON nested deep: as the whole body (signed), and inside an authentic event. */
  async deepJson(runs: number): Promise<void> {
    const specs = fc.sample(
      // depth × bytes per level stays under the limit once encrypted (base64: 4/3)
      fc.record({ levels: fc.integer({ min: 1_000, max: 120_000 }), shape: fc.constantFrom('array', 'object'), inside: fc.boolean() }).map((r) => ({ ...r, depth: r.shape === 'array' ? r.levels * 3 : r.levels })),
      { numRuns: runs, seed: SEED + 2 },
    );
    for (const s of specs) {
      const open = s.shape === 'array' ? '[' : '{"a":';
      const close = s.shape === 'array' ? ']' : '}';
      const nested = `${open.repeat(s.depth)}1${close.repeat(s.depth)}`;
      if (s.inside) {
        const body = validEvent('v1');
        const text = JSON.stringify(body).replace('"leave_reason":"test"', `"leave_reason":${nested}`);
        // authentic but absurd: quarantined (200) or refused as malformed (400); never a 5xx
        await this.authentic('deep-json', `depth ${s.depth} ${s.shape} inside an authentic event`, text, body, { allow400: true });
      } else {
        const req = await signedRequest(`{"x":${nested}}`, { encryptKey: SECRETS.encryptKey });
        this.cases.push({ family: 'deep-json', note: `depth ${s.depth} ${s.shape}, signed, no token`, expect: { kind: 'refused' }, send: this.post(req.headers, req.body, 'deep-json') });
      }
    }
  }

  /** Strings near the body limit: in a field of an authentic event, as an `encrypt` value, in a header. */
  async hugeStrings(runs: number): Promise<void> {
    const fields = ['uuid', 'event.instance_code', 'event.employee_id', 'event.leave_reason', 'event.leave_type', 'event.leave_start_time', 'event.tenant_key', 'event.open_id'];
    const specs = fc.sample(
      fc.record({
        where: fc.constantFrom(...fields, 'encrypt', 'header'),
        // base64 of the encrypted body grows by 4/3: stay under the limit so the content is what is tested
        size: fc.integer({ min: 10_000, max: 600_000 }),
        unit: fc.constantFrom('a', 'é', '文', '😀', '\u0000', '"', '\\', '\n'),
      }),
      { numRuns: runs, seed: SEED + 3 },
    );
    for (const s of specs) {
      const huge = s.unit.repeat(Math.floor(s.size / Buffer.byteLength(s.unit)));
      if (s.where === 'encrypt') {
        const req = await signedRequest(JSON.stringify({ encrypt: huge }), { encryptKey: SECRETS.encryptKey });
        this.cases.push({ family: 'huge-string', note: `encrypt = ${s.size} B of ${JSON.stringify(s.unit)}`, expect: { kind: 'refused' }, send: this.post(req.headers, req.body, 'huge-string') });
      } else if (s.where === 'header') {
        const req = await encryptedRequest(leaveApprovalV1({ token: SECRETS.verificationToken }), { encryptKey: SECRETS.encryptKey });
        const headers = { ...req.headers, 'x-lark-request-nonce': 'n'.repeat(Math.min(s.size, 100_000)) };
        this.cases.push({ family: 'huge-string', note: `${Math.min(s.size, 100_000)} B nonce header`, expect: { kind: 'refused' }, send: this.post(headers, req.body, 'huge-string') });
      } else {
        const body = validEvent('v1');
        const [obj, name] = s.where.startsWith('event.') ? [body.event as Record<string, unknown>, s.where.slice(6)] : [body, s.where];
        obj[name] = huge;
        const text = JSON.stringify(body);
        if (Buffer.byteLength(text) * 1.4 > WEBHOOK_BODY_LIMIT) continue;
        await this.authentic('huge-string', `${s.where} = ${s.size} B of ${JSON.stringify(s.unit)}`, text, body, { allow400: true });
      }
    }
  }

  /**
   * Absurd content in authentic events, always present (the random families may or may not hit
   * them): each once, so a regression cannot hide behind an unlucky seed.
   */
  async absurdAuthentic(): Promise<void> {
    const add = async (note: string, mutate: (body: Record<string, unknown>, ev: Record<string, unknown>) => void, textOf?: (body: Record<string, unknown>) => string) => {
      const body = validEvent('v1');
      mutate(body, body.event as Record<string, unknown>);
      await this.authentic('absurd', note, textOf ? textOf(body) : JSON.stringify(body), body, { allow400: true });
    };
    const deep = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
    await add('leave_reason nested 100 000 deep', () => {}, (b) => JSON.stringify(b).replace('"leave_reason":"test"', `"leave_reason":${deep(100_000)}`));
    await add('an unknown field nested 5 000 deep', () => {}, (b) => JSON.stringify(b).replace('"leave_reason":"test"', `"leave_reason":"test","extra":${deep(5_000)}`));
    await add('NUL in leave_reason', (_, ev) => (ev.leave_reason = 'sick\u0000'));
    await add('NUL in the uuid', (b) => (b.uuid = `${uid()}\u0000`));
    await add('NUL in employee_id', (_, ev) => (ev.employee_id = 'u_\u0000x'));
    await add('instance_code of 300 000 characters', (_, ev) => (ev.instance_code = 'I'.repeat(300_000)));
    await add('uuid of 300 000 characters', (b) => (b.uuid = 'U'.repeat(300_000)));
    await add('event type of 300 000 characters', (_, ev) => (ev.type = 'T'.repeat(300_000)));
    await add('employee_id of 300 000 characters', (_, ev) => (ev.employee_id = 'E'.repeat(300_000)));
  }

  /** Correctly signed (and encrypted) garbage: JSON without the token, with it, and non-JSON. */
  async signedGarbage(runs: number): Promise<void> {
    const specs = fc.sample(
      fc.record({
        value: fc.jsonValue({ maxDepth: 4 }),
        encrypt: fc.boolean(),
        token: fc.constantFrom('none', 'right', 'wrong'),
        text: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
      }),
      { numRuns: runs, seed: SEED + 4 },
    );
    for (const s of specs) {
      let value: unknown = s.value;
      if (typeOf(value) === 'object') {
        // keep the garbage about content: no envelope switches (encrypt, v2 header) in it
        delete (value as Record<string, unknown>).encrypt;
        delete (value as Record<string, unknown>).header;
      }
      if (s.token !== 'none' && typeOf(value) === 'object') {
        (value as Record<string, unknown>).token = s.token === 'right' ? SECRETS.verificationToken : 'RELSEC-not-the-token';
      }
      const text = s.text ?? JSON.stringify(value);
      const isObj = s.text === undefined && typeOf(value) === 'object';
      if (s.encrypt && isObj && s.token === 'right') {
        const body = value as Record<string, unknown>;
        if (body.type === 'url_verification') continue;
        await this.authentic('signed-garbage', `encrypted ${text.slice(0, 60)}`, text, body);
        continue;
      }
      const req = s.encrypt ? await encryptedRequest(text, { encryptKey: SECRETS.encryptKey }) : await signedRequest(text, { encryptKey: SECRETS.encryptKey });
      // A signed plaintext object with the right token is authentic too: the signature over the raw
      // bytes proves it came from a holder of the encrypt key, encrypted or not.
      if (!s.encrypt && isObj && s.token === 'right' && (value as Record<string, unknown>).type !== 'url_verification') {
        const body = value as Record<string, unknown>;
        const uuid = body.uuid;
        this.cases.push({
          family: 'signed-garbage',
          note: `signed plaintext ${text.slice(0, 60)}`,
          expect: { kind: 'stored', keys: [...(typeof uuid === 'string' && uuid !== '' ? [uuid] : []), await bodyKey(req.body)], instanceCode: null },
          send: this.post(req.headers, req.body, 'signed-garbage'),
        });
        continue;
      }
      const challenge = isObj && s.token === 'right' && (value as Record<string, unknown>).type === 'url_verification';
      this.cases.push({
        family: 'signed-garbage',
        note: `${s.encrypt ? 'encrypted' : 'signed'} ${text.slice(0, 60)}`,
        expect: challenge ? { kind: 'any-non-5xx' } : { kind: 'refused' },
        send: this.post(req.headers, req.body, 'signed-garbage'),
      });
    }
  }

  /** A valid encrypted event with garbage signature headers (or some of them missing). */
  async hostileHeaders(runs: number): Promise<void> {
    const specs = fc.sample(
      fc.record({
        timestamp: fc.option(fc.oneof(headerValue(30), fc.integer().map(String), fc.constant(String(2 ** 53))), { nil: undefined }),
        nonce: fc.option(headerValue(60), { nil: undefined }),
        signature: fc.option(fc.oneof(headerValue(80), fc.stringMatching(/^[0-9a-f]{64}$/)), { nil: undefined }),
        contentType: headerValue(40),
      }),
      { numRuns: runs, seed: SEED + 5 },
    );
    for (const s of specs) {
      const req = await encryptedRequest(leaveApprovalV1({ token: SECRETS.verificationToken, instanceCode: `HOSTILE-HDR-${uid()}` }), { encryptKey: SECRETS.encryptKey });
      const headers: Record<string, string> = { 'content-type': s.contentType };
      if (s.timestamp !== undefined) headers['x-lark-request-timestamp'] = s.timestamp;
      if (s.nonce !== undefined) headers['x-lark-request-nonce'] = s.nonce;
      if (s.signature !== undefined) headers['x-lark-signature'] = s.signature;
      this.cases.push({ family: 'hostile-headers', note: JSON.stringify(headers).slice(0, 120), expect: { kind: 'refused' }, send: this.post(headers, req.body, 'hostile-headers') });
    }
  }

  /** Malformed HTTP on a raw socket: random bytes, control characters in headers, oversized headers. */
  async rawHttp(runs: number): Promise<void> {
    const specs = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((b) => ({ note: `${b.length} random bytes`, bytes: Buffer.from(b) })),
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({
          note: 'control bytes in a header value',
          bytes: Buffer.concat([Buffer.from('POST /webhook/feishu HTTP/1.1\r\nHost: x\r\nX-Lark-Signature: '), Buffer.from(b), Buffer.from('\r\nContent-Length: 2\r\n\r\n{}')]),
        })),
        fc.integer({ min: 17_000, max: 200_000 }).map((n) => ({
          note: `${n} B header`,
          bytes: Buffer.from(`POST /webhook/feishu HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(n)}\r\nContent-Length: 2\r\n\r\n{}`),
        })),
        fc.constantFrom(
          { note: 'content-length and chunked together', bytes: Buffer.from('POST /webhook/feishu HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n') },
          { note: 'negative content-length', bytes: Buffer.from('POST /webhook/feishu HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n') },
          { note: 'bad chunk size', bytes: Buffer.from('POST /webhook/feishu HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n') },
          { note: 'HTTP/0.9', bytes: Buffer.from('GET /healthz\r\n\r\n') },
        ),
      ),
      { numRuns: runs, seed: SEED + 6 },
    );
    for (const s of specs) {
      this.cases.push({ family: 'raw-http', note: s.note, expect: { kind: 'any-non-5xx' }, send: () => rawExchange(this.port, s.bytes) });
    }
  }

  /** Garbage on the admin API and unknown routes: no token, a wrong one, the right one with junk parameters. */
  async adminGarbage(runs: number): Promise<void> {
    const paths = ['/api/leaves', '/api/leaves/', '/api/payroll/export', '/api/reconciliation', '/api/outbox', '/api/outbox/', '/api/events', '/dashboard', '/webhook/feishu', '/metrics', '/readyz'];
    const specs = fc.sample(
      fc.record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        path: fc.constantFrom(...paths),
        tail: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
        query: fc.dictionary(fc.constantFrom('from', 'to', 'format', 'status', 'limit', 'verify', 'employee_id', 'x'), fc.string({ maxLength: 30 }), { maxKeys: 4 }),
        auth: fc.constantFrom('none', 'wrong', 'right'),
        body: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
      }),
      { numRuns: runs, seed: SEED + 7 },
    );
    for (const s of specs) {
      const path = `${s.path}${s.tail !== undefined && s.path.endsWith('/') ? encodeURIComponent(s.tail) + (s.path === '/api/outbox/' ? '/retry' : '') : ''}`;
      const url = `${this.baseUrl}${path}?${new URLSearchParams(s.query).toString()}`;
      const headers: Record<string, string> = {};
      if (s.auth !== 'none') headers.authorization = `Bearer ${s.auth === 'right' ? SECRETS.adminToken : 'RELSEC-wrong-admin'}`;
      const hasBody = s.method !== 'GET' && s.body !== undefined;
      this.cases.push({
        family: 'admin-garbage',
        note: `${s.method} ${path} ${JSON.stringify(s.query)} auth=${s.auth}`,
        expect: { kind: 'any-non-5xx' },
        send: async () => {
          const r = await fetch(url, { method: s.method, headers, body: hasBody ? s.body : undefined, signal: AbortSignal.timeout(15_000) });
          const text = await r.text();
          captureText('hostile: admin-garbage', text);
          return { status: r.status, body: text };
        },
      });
    }
  }

  /** Shuffle (seeded) so families interleave with each other and with the good events. */
  all(): HostileCase[] {
    const order = fc.sample(fc.shuffledSubarray(this.cases.map((_, i) => i), { minLength: this.cases.length, maxLength: this.cases.length }), { numRuns: 1, seed: SEED + 8 })[0]!;
    return order.map((i) => this.cases[i]!);
  }
}

/** Write raw bytes, collect whatever comes back until the server closes (or 2 s of silence). */
function rawExchange(port: number, bytes: Buffer): Promise<{ status: number | null; body: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const finish = () => {
      socket.destroy();
      captureText('hostile: raw-http', got);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : null, body: got.slice(0, 300) });
    };
    let idle = setTimeout(finish, 2000);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (d) => {
      got += d.toString('latin1');
      clearTimeout(idle);
      idle = setTimeout(finish, 2000);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(idle);
      finish();
    });
  });
}

export async function hostileScenario(): Promise<{ figures: Figures; checks: HostileChecks }> {
  const started = Date.now();
  const database = await createPostgresDatabase('lb_rel_hostile');
  const service = await startService('hostile', { DATABASE_URL: database.url! });
  const sql = connect(database.url!);
  try {
    const run = new HostileRun(service.webhook, service.url, Number(new URL(service.url).port));
    await run.absurdAuthentic();
    await run.wrongTypes(20);
    await run.randomBytes(30);
    await run.deepJson(14);
    await run.hugeStrings(20);
    await run.signedGarbage(40);
    await run.hostileHeaders(30);
    await run.rawHttp(20);
    await run.adminGarbage(40);
    const cases = run.all();

    // One good delivery after every few hostile requests.
    const work = leaveWorkload('hostile', 12);
    const good = [...work.deliveries];
    const every = Math.max(1, Math.floor(cases.length / good.length));
    const sender = new FeishuSender({ targets: [service.webhook], encryptKey: SECRETS.encryptKey, deadlineMs: 10_000, onResponse: (t) => captureText('hostile: good event', t) });

    const violations: Violation[] = [];
    const statuses: Record<string, number> = {};
    const byFamily: Record<string, number> = {};
    const acked: HostileCase[] = [];
    const authenticCodes = new Set<string>();
    let requests = 0;
    const resets: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      byFamily[c.family] = (byFamily[c.family] ?? 0) + 1;
      const attempt = async () => {
        requests++;
        try {
          return await c.send();
        } catch (err) {
          const cause = (err as { cause?: { code?: string } }).cause?.code;
          return { status: null, body: `client error: ${(err as Error).message}${cause ? ` (${cause})` : ''}` };
        }
      };
      let res = await attempt();
      if (res.status === null && c.family !== 'raw-http') {
        // The server may close a connection without reading the rest of a refused body (a 413),
        // which the client sees as a reset; a sender would push again. Once.
        resets.push(`${c.family}: ${res.body.slice(0, 80)}`);
        res = await attempt();
      }
      statuses[String(res.status)] = (statuses[String(res.status)] ?? 0) + 1;
      const v = (why: string) => violations.push({ family: c.family, note: c.note.slice(0, 160), status: res.status, body: res.body.slice(0, 300), why });
      if (res.status !== null && res.status >= 500) v('5xx answer');
      if (c.expect.kind === 'refused') {
        // A body over its limit may be refused by closing the connection under the sender before
        // it is read (EPIPE/ECONNRESET while writing), as the security probes accept: nothing of it
        // was taken in, and `alive`/`storedUnauthentic` say whether the service held.
        if (res.status === null) {
          if (!/\((EPIPE|ECONNRESET)\)$/.test(res.body)) v('no HTTP answer');
        } else if (res.status < 400 || res.status >= 500) v('not authentic, yet not refused with a 4xx');
      } else if (c.expect.kind === 'stored') {
        if (c.expect.instanceCode) authenticCodes.add(c.expect.instanceCode);
        if (res.status === 200) acked.push(c);
        else if (!(c.expect.allow400 && res.status === 400)) v('authentic event not acked 200');
      } else if (res.status === null && c.family !== 'raw-http') v('no HTTP answer');
      if (i % every === every - 1 && good.length > 0) {
        await sender.deliver(good.shift()!);
        requests++;
      }
    }
    for (const d of good) await sender.deliver(d);
    requests += sender.stats().pushes - sender.results.length;

    const health = await http('hostile: /healthz after', `${service.url}/healthz`).catch(() => null);
    const goodKeys = new Set(work.deliveries.map((d) => d.id));
    const rows = await sql<Array<{ event_key: string }>>`select event_key from inbox_events`;
    const present = new Set(rows.map((r) => r.event_key));
    // every acked authentic case has its row; every row is a good event's or an acked authentic case's
    const accounted = new Set<string>();
    const authenticMissing: string[] = [];
    for (const c of acked) {
      // NUL cannot be stored in Postgres text: ingest keeps such keys with U+FFFD in its place
      const keys = c.expect.kind === 'stored' ? c.expect.keys.map((k) => k.replaceAll('\u0000', '\uFFFD')) : [];
      const found = keys.filter((k) => present.has(k));
      if (found.length === 0) authenticMissing.push(`${c.family}: ${c.note.slice(0, 80)}`);
      found.forEach((k) => accounted.add(k));
    }
    const storedUnauthentic = rows.map((r) => r.event_key).filter((k) => !goodKeys.has(k) && !accounted.has(k)).map((k) => k.slice(0, 80));
    const goodCodes = new Set(work.leaves.map((l) => l.instanceCode));
    const leaves = await sql<Array<{ instance_code: string }>>`select instance_code from leaves`;
    const leavesUnaccounted = leaves.map((l) => l.instance_code).filter((c) => !goodCodes.has(c) && !authenticCodes.has(c)).map((c) => c.slice(0, 80));
    const goodVerdict = await verify(sql, work.leaves, sender.results, undefined, { onlyExpected: true });

    const checks: HostileChecks = {
      cases: cases.length,
      byFamily,
      statuses,
      violations,
      storedUnauthentic,
      authenticMissing,
      leavesUnaccounted,
      goodVerdict,
      goodAcked: sender.results.filter((r) => r.acked).length,
      goodSent: work.deliveries.length,
      alive: service.alive(),
      healthAfter: health?.status ?? null,
      seed: SEED,
      unhandledErrorLines: service.errorLines().map((l) => l.slice(0, 400)),
    };
    const figures = record({
      scenario: 'hostile',
      title: 'Hostile client (fast-check)',
      events_sent: work.deliveries.length + cases.length,
      requests,
      acked: checks.goodAcked + acked.length,
      applied: goodVerdict.applied,
      duplicates: goodVerdict.duplicates,
      lost: goodVerdict.lost + authenticMissing.length,
      faults_injected: cases.length,
      faults: Object.entries(byFamily)
        .map(([f, n]) => `${n} ${f}`)
        .join(', '),
      wall_ms: Date.now() - started,
      details: {
        seed: SEED,
        good_events: work.deliveries.length,
        authentic_hostile_acked: acked.length,
        connection_resets_retried: resets,
        statuses,
        violations: violations.length,
        violation_samples: violations.slice(0, 40).map((x) => `${x.family} | ${x.note.slice(0, 90)} | ${x.status} | ${x.why} | ${x.body.slice(0, 120)}`),
        service_error_lines: checks.unhandledErrorLines.slice(0, 20),
        stored_unauthentic: storedUnauthentic.length,
      },
    });
    return { figures, checks };
  } finally {
    await service.stop();
    await sql.end();
    await database.close();
  }
}
