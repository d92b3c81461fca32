import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptEvent, eventSignature } from '../../src/feishu/crypto.js';
import { inboxEvents, leaves } from '../../src/db/schema.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { approvalTask, DOC_TOKEN, encryptedRequest, FIXTURES, leaveApprovalV1, outApproval, signedRequest, TEST_ENCRYPT_KEY, tripApproval, workApproval, type FeishuRequest } from '../support/feishu.js';

type Stored = 'nothing' | 'quarantined' | 'ignored' | 'applied';

interface Case {
  name: string;
  make: () => Promise<FeishuRequest> | FeishuRequest;
  status: number;
  code?: string;
  stored: Stored;
  /** for quarantine: a fragment of the recorded reason */
  reason?: RegExp;
  env?: Record<string, string | undefined>;
}

const now = () => Math.floor(Date.now() / 1000);
const withEvent = (patch: (e: Record<string, unknown>) => void, uuid = `bad-${Math.random()}`) => {
  const body = JSON.parse(leaveApprovalV1({ uuid })) as { event: Record<string, unknown> };
  patch(body.event);
  return JSON.stringify(body);
};
/** A body of another kind with its event (v1) or event.object (2.0 schema) patched. */
const patched = (body: string, patch: (e: Record<string, unknown>) => void) => {
  const parsed = JSON.parse(body) as { event: Record<string, unknown> & { object?: Record<string, unknown> } };
  patch(parsed.event.object ?? parsed.event);
  return JSON.stringify(parsed);
};
const badOut = (patch: (e: Record<string, unknown>) => void) => patched(outApproval({ instanceCode: `BAD-OUT-${Math.random()}` }), patch);
const badTrip = (patch: (e: Record<string, unknown>) => void) => patched(tripApproval({ instanceCode: `BAD-TRIP-${Math.random()}`, peers: ['u_p'] }), patch);
const badWork = (patch: (e: Record<string, unknown>) => void) => patched(workApproval({ instanceCode: `BAD-WORK-${Math.random()}` }), patch);
const plain = (body: string | Uint8Array): FeishuRequest => ({ body: body as string, headers: { 'content-type': 'application/json' } });

const cases: Case[] = [
  { name: 'not JSON', make: () => signedRequest('{"encrypt": '), status: 400, code: 'invalid_json', stored: 'nothing' },
  { name: 'a JSON array', make: () => signedRequest('[1,2]'), status: 400, code: 'invalid_json', stored: 'nothing' },
  { name: 'empty body', make: () => signedRequest(''), status: 400, code: 'invalid_json', stored: 'nothing' },
  {
    name: 'not UTF-8, correctly signed',
    make: async () => {
      const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
      const r = await signedRequest('x');
      const ts = r.headers['x-lark-request-timestamp']!;
      const nonce = r.headers['x-lark-request-nonce']!;
      const signature = await eventSignature(ts, nonce, TEST_ENCRYPT_KEY, bytes);
      return { body: bytes as unknown as string, headers: { ...r.headers, 'x-lark-signature': signature } };
    },
    status: 400,
    code: 'invalid_body',
    stored: 'nothing',
  },
  {
    // the signature is checked over the raw bytes before they are decoded or parsed
    name: 'not UTF-8, signed for other bytes',
    make: async () => {
      const r = await signedRequest('x');
      return { ...r, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) as unknown as string };
    },
    status: 401,
    code: 'bad_signature',
    stored: 'nothing',
  },
  { name: 'wrong verification token', make: () => encryptedRequest(leaveApprovalV1({ token: 'not-the-token' })), status: 401, code: 'bad_token', stored: 'nothing' },
  {
    name: 'no token at all',
    make: () => encryptedRequest(JSON.stringify({ ...JSON.parse(leaveApprovalV1()), token: undefined })),
    status: 401,
    code: 'bad_token',
    stored: 'nothing',
  },
  {
    name: 'forged signature',
    make: async () => {
      const r = await encryptedRequest(leaveApprovalV1());
      return { ...r, headers: { ...r.headers, 'x-lark-signature': 'a'.repeat(64) } };
    },
    status: 401,
    code: 'bad_signature',
    stored: 'nothing',
  },
  {
    name: 'signature made with another key',
    make: async () => {
      const body = JSON.stringify({ encrypt: await encryptEvent(TEST_ENCRYPT_KEY, leaveApprovalV1()) });
      return signedRequest(body, { encryptKey: 'attacker-key' });
    },
    status: 401,
    code: 'bad_signature',
    stored: 'nothing',
  },
  {
    name: 'body tampered after signing',
    make: async () => {
      const r = await encryptedRequest(leaveApprovalV1());
      return { ...r, body: r.body.replace('"}', '=="}') };
    },
    status: 401,
    code: 'bad_signature',
    stored: 'nothing',
  },
  {
    name: 'missing signature headers on an encrypted event',
    make: async () => plain((await encryptedRequest(leaveApprovalV1())).body),
    status: 401,
    code: 'missing_signature',
    stored: 'nothing',
  },
  {
    name: 'only some signature headers',
    make: async () => {
      const r = await encryptedRequest(leaveApprovalV1());
      const { 'x-lark-request-nonce': _n, ...headers } = r.headers;
      return { ...r, headers };
    },
    status: 401,
    code: 'missing_signature',
    stored: 'nothing',
  },
  { name: 'stale timestamp (10 min old)', make: () => encryptedRequest(leaveApprovalV1(), { timestamp: now() - 600 }), status: 401, code: 'stale_timestamp', stored: 'nothing' },
  { name: 'timestamp from the future', make: () => encryptedRequest(leaveApprovalV1(), { timestamp: now() + 600 }), status: 401, code: 'stale_timestamp', stored: 'nothing' },
  {
    name: 'non-numeric timestamp',
    make: async () => {
      const r = await encryptedRequest(leaveApprovalV1());
      return { ...r, headers: { ...r.headers, 'x-lark-request-timestamp': 'yesterday' } };
    },
    status: 401,
    code: 'bad_timestamp',
    stored: 'nothing',
  },
  {
    name: 'ciphertext made with another key (signed correctly)',
    make: async () => signedRequest(JSON.stringify({ encrypt: await encryptEvent('other-key', leaveApprovalV1()) })),
    // authentic (the signature over the raw bytes matched) but malformed
    status: 400,
    code: 'invalid_ciphertext',
    stored: 'nothing',
  },
  { name: 'encrypt is not base64 (signed correctly)', make: () => signedRequest(JSON.stringify({ encrypt: '***not base64***' })), status: 400, code: 'invalid_ciphertext', stored: 'nothing' },
  {
    name: 'unsigned ciphertext made with another key (a url_verification is authenticated by decryption)',
    make: async () => ({
      body: JSON.stringify({ encrypt: await encryptEvent('other-key', JSON.stringify({ type: 'url_verification', token: DOC_TOKEN, challenge: 'c' })) }),
      headers: { 'content-type': 'application/json' },
    }),
    status: 401,
    code: 'decrypt_failed',
    stored: 'nothing',
  },
  { name: 'encrypt is not a string', make: () => signedRequest(JSON.stringify({ encrypt: 42 })), status: 400, code: 'invalid_body', stored: 'nothing' },
  {
    name: 'decrypted text is not JSON',
    make: async () => signedRequest(JSON.stringify({ encrypt: await encryptEvent(TEST_ENCRYPT_KEY, 'hello') })),
    status: 400,
    code: 'invalid_json',
    stored: 'nothing',
  },
  {
    name: 'body over 1 MiB',
    make: () => signedRequest(JSON.stringify({ encrypt: 'A'.repeat(1024 * 1024 + 10) })),
    status: 413,
    code: 'body_too_large',
    stored: 'nothing',
  },
  {
    name: 'url_verification with the wrong token',
    make: () => plain(JSON.stringify({ type: 'url_verification', token: 'nope', challenge: 'c' })),
    status: 401,
    code: 'bad_token',
    stored: 'nothing',
  },
  {
    name: 'encrypted body but no encrypt key configured',
    make: () => encryptedRequest(leaveApprovalV1()),
    env: { FEISHU_ENCRYPT_KEY: undefined },
    status: 400,
    code: 'encrypt_key_missing',
    stored: 'nothing',
  },
  {
    name: 'v2 schema with a wrong header.token',
    make: () => encryptedRequest(JSON.stringify({ schema: '2.0', header: { event_id: 'e1', event_type: 'leave_approval', token: 'x' }, event: {} })),
    status: 401,
    code: 'bad_token',
    stored: 'nothing',
  },
  {
    name: 'JSON nested 10,000 levels deep',
    make: () => signedRequest(`{"encrypt":"x","a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
    status: 400,
    code: 'too_deep',
    stored: 'nothing',
  },
  {
    name: 'an authentic body nested too deep after decryption',
    make: () => encryptedRequest(JSON.stringify({ ...JSON.parse(leaveApprovalV1()), extra: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`) })),
    status: 400,
    code: 'too_deep',
    stored: 'nothing',
  },
  // Authentic but unusable: acked (Feishu must not block later events) and kept for replay.
  // the other kinds' malformed variants: each quarantined with its reason, nothing lost
  { name: 'out_approval without out_start_time', make: () => encryptedRequest(badOut((e) => delete e.out_start_time)), status: 200, stored: 'quarantined', reason: /out_start_time/ },
  { name: 'out_approval with a negative out_interval', make: () => encryptedRequest(badOut((e) => (e.out_interval = -3600))), status: 200, stored: 'quarantined', reason: /out_interval/ },
  { name: 'out_approval with an unknown out_unit', make: () => encryptedRequest(badOut((e) => (e.out_unit = 'WEEK'))), status: 200, stored: 'quarantined', reason: /unknown out_unit "WEEK"/ },
  { name: 'out_approval that ends before it starts', make: () => encryptedRequest(badOut((e) => (e.out_end_time = '2024-09-05 08:00:00'))), status: 200, stored: 'quarantined', reason: /ends before it starts/ },
  { name: 'out_approval whose interval cannot split exactly', make: () => encryptedRequest(badOut((e) => (e.out_interval = 3601))), status: 200, stored: 'quarantined', reason: /cannot be split/ },
  { name: 'trip without schedules', make: () => encryptedRequest(badTrip((e) => (e.schedules = []))), status: 200, stored: 'quarantined', reason: /a trip without schedules/ },
  { name: 'trip with no schedules field', make: () => encryptedRequest(badTrip((e) => delete e.schedules)), status: 200, stored: 'quarantined', reason: /schedules/ },
  {
    name: 'trip schedule without trip_end_time',
    make: () => encryptedRequest(badTrip((e) => delete (e.schedules as Array<Record<string, unknown>>)[0]!.trip_end_time)),
    status: 200,
    stored: 'quarantined',
    reason: /schedules\.0\.trip_end_time/,
  },
  {
    name: 'trip schedule with a negative trip_interval',
    make: () => encryptedRequest(badTrip((e) => ((e.schedules as Array<Record<string, unknown>>)[0]!.trip_interval = '-86400'))),
    status: 200,
    stored: 'quarantined',
    reason: /trip_interval/,
  },
  { name: 'trip without the requester\'s user_id', make: () => encryptedRequest(badTrip((e) => ((e.start_user as { id: Record<string, unknown> }).id.user_id = ''))), status: 200, stored: 'quarantined', reason: /user_id is missing/ },
  { name: 'work_approval without work_end_time', make: () => encryptedRequest(badWork((e) => delete e.work_end_time)), status: 200, stored: 'quarantined', reason: /work_end_time/ },
  { name: 'work_approval with a negative work_interval', make: () => encryptedRequest(badWork((e) => (e.work_interval = -1))), status: 200, stored: 'quarantined', reason: /work_interval/ },
  {
    name: 'work_approval with a time_range that ends before it starts',
    make: () => encryptedRequest(badWork((e) => (e.time_range = [{ work_start_time: '2024-09-07 22:00:00', work_end_time: '2024-09-07 18:00:00' }]))),
    status: 200,
    stored: 'quarantined',
    reason: /time_range\[0\]: ends before it starts/,
  },
  {
    name: 'work_approval with a work_detail of a negative interval',
    make: () => encryptedRequest(badWork((e) => (e.work_detail = [{ start: '2024-09-07 18:00', end: '2024-09-07 18:00', interval: -7200 }]))),
    status: 200,
    stored: 'quarantined',
    reason: /work_detail/,
  },
  { name: 'approval_task without task_id', make: () => encryptedRequest(patched(approvalTask('BAD-TASK', { taskId: '1', status: 'APPROVED', operateTime: 1725600000000 }), (e) => delete e.task_id)), status: 200, stored: 'quarantined', reason: /task_id/ },
  { name: 'leave_approval without employee_id', make: () => encryptedRequest(withEvent((e) => delete e.employee_id)), status: 200, stored: 'quarantined', reason: /employee_id/ },
  { name: 'leave_interval of the wrong type', make: () => encryptedRequest(withEvent((e) => (e.leave_interval = 'abc'))), status: 200, stored: 'quarantined', reason: /leave_interval/ },
  { name: 'unknown leave_unit', make: () => encryptedRequest(withEvent((e) => (e.leave_unit = 9))), status: 200, stored: 'quarantined', reason: /leave_unit/ },
  { name: 'impossible local time', make: () => encryptedRequest(withEvent((e) => (e.leave_start_time = '2024-13-45 99:00:00'))), status: 200, stored: 'quarantined', reason: /leave_start_time/ },
  {
    name: 'leave ending before it starts',
    make: () => encryptedRequest(withEvent((e) => ((e.leave_start_time = '2024-09-07 00:00:00'), (e.leave_end_time = '2024-09-05 00:00:00')))),
    status: 200,
    stored: 'quarantined',
    reason: /ends before/,
  },
  { name: 'interval that cannot split exactly', make: () => encryptedRequest(withEvent((e) => (e.leave_interval = 86401))), status: 200, stored: 'quarantined', reason: /cannot be split/ },
  {
    name: 'V2 leave_range that is not a list of pairs',
    make: () =>
      encryptedRequest(
        JSON.stringify({ ...JSON.parse(FIXTURES.leaveApprovalV2), uuid: `bad-range-${Math.random()}`, event: { ...JSON.parse(FIXTURES.leaveApprovalV2).event, leave_range: '[[2024-09-05 13:30:00]' } }),
      ),
    status: 200,
    stored: 'quarantined',
    reason: /leave_range/,
  },
  {
    name: 'an event without uuid',
    make: () => encryptedRequest(JSON.stringify({ ...JSON.parse(leaveApprovalV1()), uuid: undefined })),
    status: 200,
    stored: 'quarantined',
    reason: /missing uuid/,
  },
  {
    name: 'a uuid too long to be an index key',
    make: () => encryptedRequest(leaveApprovalV1({ uuid: 'u'.repeat(5000) })),
    status: 200,
    stored: 'quarantined',
    reason: /uuid longer than 200/,
  },
  {
    name: 'an event type too long to be an index key',
    make: () => encryptedRequest(JSON.stringify({ uuid: `long-type-${Math.random()}`, token: DOC_TOKEN, type: 'event_callback', event: { type: 't'.repeat(5000) } })),
    status: 200,
    stored: 'quarantined',
    reason: /event type longer than 200/,
  },
  {
    name: 'an instance_code too long to be an index key',
    make: () => encryptedRequest(withEvent((e) => (e.instance_code = 'I'.repeat(5000)))),
    status: 200,
    stored: 'quarantined',
    reason: /instance_code/,
  },
  {
    name: 'an event of a type we do not handle',
    make: () => encryptedRequest(JSON.stringify({ uuid: `msg-${Math.random()}`, token: DOC_TOKEN, type: 'event_callback', event: { type: 'message', text: 'hi' } })),
    status: 200,
    stored: 'ignored',
  },
  {
    name: 'unknown v2 event type',
    make: () =>
      encryptedRequest(JSON.stringify({ schema: '2.0', header: { event_id: `v2-${Math.random()}`, event_type: 'im.message.receive_v1', token: DOC_TOKEN }, event: { message: {} } })),
    status: 200,
    stored: 'ignored',
  },
];

describe('hostile and malformed webhook input', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('has at least 20 bad inputs', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of cases) {
    it(`${c.name} → ${c.status}, stores ${c.stored}`, async () => {
      const t = testApp(db, { env: c.env });
      const before = await db.db.select().from(inboxEvents);
      const leavesBefore = await db.db.select({ n: sql<number>`count(*)::int` }).from(leaves);
      const res = await t.post(await c.make());
      expect(res.status).toBe(c.status);
      const body = (await res.json()) as { error?: { code: string; message: string }; status?: string };
      if (c.status !== 200) {
        expect(body.error?.code).toBe(c.code);
        expect(typeof body.error?.message).toBe('string');
        expect(JSON.stringify(body)).not.toContain(TEST_ENCRYPT_KEY);
      }
      const after = await db.db.select().from(inboxEvents);
      const added = after.filter((a) => !before.some((b) => b.id === a.id));
      const leavesAfter = await db.db.select({ n: sql<number>`count(*)::int` }).from(leaves);
      if (c.stored === 'nothing') {
        expect(added).toEqual([]);
      } else {
        expect(added).toHaveLength(1);
        expect(added[0]!.status).toBe(c.stored);
        if (c.reason) expect(added[0]!.reason).toMatch(c.reason);
        expect(JSON.stringify(added[0]!.payload)).not.toContain(DOC_TOKEN); // token redacted before storing
      }
      if (c.stored !== 'applied') expect(leavesAfter[0]!.n).toBe(leavesBefore[0]!.n);
    });
  }

  it('answers an encrypted url_verification without signature headers (as Feishu sends it)', async () => {
    const t = testApp(db);
    const body = JSON.stringify({ encrypt: await encryptEvent(TEST_ENCRYPT_KEY, JSON.stringify({ type: 'url_verification', token: DOC_TOKEN, challenge: 'ch-1' })) });
    const res = await t.post(plain(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: 'ch-1' });
  });

  it('replays a quarantined trip (2.0 schema) with a corrected event: the record appears with its peer\'s days', async () => {
    const t = testApp(db);
    const code = `BAD-TRIP-REPLAY-${Math.random()}`;
    const good = tripApproval({ instanceCode: code, employeeId: 'u_r', peers: ['u_rp'], schedules: [{ start: '2024-10-01 00:00:00', end: '2024-10-02 00:00:00', interval: 86400 }] });
    const broken = patched(good, (e) => (e.schedules = []));
    expect(await (await t.post(await encryptedRequest(broken))).json()).toMatchObject({ status: 'quarantined' });
    const [row] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, code));
    expect(row).toMatchObject({ status: 'quarantined', eventType: 'approval.instance.trip_group_update_v4' });
    const corrected = (JSON.parse(good) as { event: unknown }).event;
    const res = await t.admin(`/api/events/${row!.id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: corrected }) });
    expect(res.status).toBe(200);
    const trip = (await (await t.admin(`/api/approvals/${code}`)).json()) as { kind: string; days: Array<{ employee_id: string; date: string; quantity: string }> };
    expect(trip.kind).toBe('trip');
    expect(trip.days.map((d) => [d.employee_id, d.date, d.quantity])).toEqual([
      ['u_r', '2024-10-01', '1'],
      ['u_rp', '2024-10-01', '1'],
    ]);
  });

  it('replays a quarantined event once an operator supplies the corrected event', async () => {
    const t = testApp(db);
    const uuid = `fixme-${Math.random()}`;
    const broken = withEvent((e) => delete e.employee_id, uuid);
    expect((await t.post(await encryptedRequest(broken))).status).toBe(200);
    const [row] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.eventKey, uuid));
    expect(row!.status).toBe('quarantined');
    const listed = (await (await t.admin('/api/events?status=quarantined')).json()) as { items: Array<{ id: number }> };
    expect(listed.items.some((i) => i.id === row!.id)).toBe(true);
    // replay as is → still unusable, 422 with the reason
    const again = await t.admin(`/api/events/${row!.id}/replay`, { method: 'POST' });
    expect(again.status).toBe(422);
    const fixed: Record<string, unknown> = { ...(JSON.parse(broken) as { event: Record<string, unknown> }).event, employee_id: 'u_fixed' };
    const res = await t.admin(`/api/events/${row!.id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: fixed }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'applied', inbox_id: row!.id, instance_code: fixed.instance_code, effect: 'created', reason: null });
    const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, fixed.instance_code as string));
    expect(leave!.employeeId).toBe('u_fixed');
    // the re-push of the same uuid by Feishu is still a duplicate
    expect(await (await t.post(await encryptedRequest(broken))).json()).toMatchObject({ status: 'duplicate' });
    expect((await t.admin(`/api/events/${row!.id}/replay`, { method: 'POST' })).status).toBe(409);
  });

  it('a replay that is still unusable keeps its new reason, and every replay is in the row\'s history', async () => {
    const t = testApp(db);
    const uuid = `still-${Math.random()}`;
    const broken = withEvent((e) => delete e.employee_id, uuid);
    expect((await t.post(await encryptedRequest(broken))).status).toBe(200);
    const [before] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.eventKey, uuid));
    expect(before!.reason).toMatch(/employee_id/);
    const event = (JSON.parse(broken) as { event: Record<string, unknown> }).event;
    const stillBroken = { ...event, employee_id: 'u_x', leave_unit: 'FORTNIGHT' };
    const res = await t.admin(`/api/events/${before!.id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: stillBroken }) });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ error: { code: 'still_unusable', message: expect.stringMatching(/leave_unit/) } });
    const [after] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.eventKey, uuid));
    expect(after!.status).toBe('quarantined');
    expect(after!.reason).toMatch(/leave_unit/);
    expect(after!.history).toEqual([
      { at: expect.any(String), corrected: true, was: { status: 'quarantined', reason: before!.reason }, status: 'quarantined', reason: after!.reason },
    ]);
    const ok = await t.admin(`/api/events/${before!.id}/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: { ...event, employee_id: 'u_x' } }) });
    expect(ok.status).toBe(200);
    const listed = (await (await t.admin('/api/events?status=applied')).json()) as { items: Array<{ id: number; history: unknown[] }> };
    const mine = listed.items.find((i) => i.id === before!.id);
    expect(mine!.history).toHaveLength(2);
    expect(mine!.history[1]).toMatchObject({ corrected: true, was: { status: 'quarantined', reason: after!.reason }, status: 'applied' });
  });

  it('an event without uuid re-pushed (encrypted afresh) is recognised as the same delivery', async () => {
    const t = testApp(db);
    const body = JSON.stringify({ ...JSON.parse(leaveApprovalV1()), uuid: undefined, marker: Math.random() });
    expect(await (await t.post(await encryptedRequest(body))).json()).toMatchObject({ status: 'quarantined' });
    expect(await (await t.post(await encryptedRequest(body))).json()).toMatchObject({ status: 'duplicate' });
  });

  it('503 when the database is unreachable, so Feishu retries', async () => {
    const { connectPostgres } = await import('../../src/db/node-client.js');
    const dead = connectPostgres('postgres://postgres@127.0.0.1:1/none', { connectTimeout: 1 });
    const t = testApp({ db: dead.db, kind: 'postgres' });
    const res = await t.post(await encryptedRequest(leaveApprovalV1()));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'database_unavailable', message: expect.any(String) } });
    expect((await t.app.request('/readyz')).status).toBe(503);
    await dead.close();
  });
});

describe('strings Postgres cannot hold', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('an authentic event with NUL characters in any string is stored (NUL → U+FFFD), never a 500', async () => {
    const t = testApp(db);
    const uuid = `nul-\u0000-${Math.random()}`;
    const body = JSON.parse(leaveApprovalV1({ uuid, leaveName: 'Annual\u0000leave' })) as { event: Record<string, unknown> };
    body.event.leave_reason = '\u0000'.repeat(1000);
    body.event['key\u0000'] = 'v';
    const applied = await t.post(await encryptedRequest(JSON.stringify(body)));
    expect(applied.status).toBe(200);
    expect(await applied.json()).toMatchObject({ status: 'applied' });
    const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, body.event.instance_code as string));
    expect(leave!.leaveType).toBe('Annual\uFFFDleave');
    // quarantined with a reason that quotes the bad value
    const broken = JSON.parse(leaveApprovalV1()) as { event: Record<string, unknown> };
    broken.event.leave_start_time = '\u0000bad';
    const q = await t.post(await encryptedRequest(JSON.stringify(broken)));
    expect(q.status).toBe(200);
    expect(await q.json()).toMatchObject({ status: 'quarantined' });
    // a re-push of the same delivery is still recognised
    expect(await (await t.post(await encryptedRequest(JSON.stringify(body)))).json()).toMatchObject({ status: 'duplicate' });
  });
});

describe('admin request validation', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('a row id is digits only on every route: 0x1F, 1e3, -1, 01 and 2^53 are 400 invalid_id', async () => {
    const t = testApp(db);
    for (const id of ['0x1F', '1e3', '-1', '01', '0', '9007199254740993', ' 7', 'abc']) {
      for (const path of [`/api/events/${encodeURIComponent(id)}/replay`, `/api/outbox/${encodeURIComponent(id)}/retry`]) {
        const res = await t.admin(path, { method: 'POST' });
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(await res.json()).toEqual({ error: { code: 'invalid_id', message: expect.stringMatching(/^id: /) } });
      }
    }
    expect((await t.admin('/api/events/31/replay', { method: 'POST' })).status).toBe(404);
  });

  it('a JSON body must say it is JSON; bad JSON and bad fields name what is wrong', async () => {
    const t = testApp(db);
    const put = (body: string, type?: string) =>
      t.admin('/api/employees/u_v', { method: 'PUT', body, headers: type ? { 'content-type': type } : {} });
    const textPlain = await put('{"email":"v@example.com"}', 'text/plain');
    expect(textPlain.status).toBe(415);
    expect(await textPlain.json()).toEqual({ error: { code: 'unsupported_media_type', message: expect.any(String) } });
    expect(await (await put('{"email":', 'application/json')).json()).toEqual({ error: { code: 'invalid_json', message: expect.any(String) } });
    expect(await (await put('{"email":"nope"}', 'application/json')).json()).toEqual({ error: { code: 'invalid_body', message: expect.stringMatching(/^email:/) } });
    expect(await (await put('{"emial":"v@example.com"}', 'application/json')).json()).toEqual({ error: { code: 'invalid_body', message: expect.any(String) } });
    expect((await put('{"email":"v@example.com"}', 'application/json; charset=utf-8')).status).toBe(200);
    // a replay's corrected event travels as JSON too: a body that does not say so is not silently ignored
    const replay = await t.admin('/api/events/1/replay', { method: 'POST', body: '{"event":{}}' });
    expect(replay.status).toBe(415);
  });

  it('the contract documents every error code with its status', async () => {
    const { readFileSync } = await import('node:fs');
    const { ERROR_CODES, statusOf } = await import('../../src/errors.js');
    const contract = readFileSync(new URL('../../docs/contract.md', import.meta.url), 'utf8');
    const documented = new Map([...contract.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => [m[2]!, Number(m[1])]));
    for (const code of ERROR_CODES) expect({ code, status: documented.get(code) }).toEqual({ code, status: statusOf(code) });
    expect([...documented.keys()].filter((c) => !(ERROR_CODES as string[]).includes(c))).toEqual([]);
  });

  it('every error the API answers is a code of the one table, with its status', async () => {
    const { ERROR_CODES, statusOf } = await import('../../src/errors.js');
    const t = testApp(db);
    const probes: Array<[string, RequestInit?]> = [
      ['/api/nothing'],
      ['/api/leaves?limit=0'],
      ['/api/payroll/export?from=2024-02-30&to=2024-03-01'],
      ['/api/payroll/export?from=2024-03-01&to=2024-03-02&format=xml'],
      ['/api/reconciliation?from=2024-03-01&to=2024-03-02&verify=dropbox'],
      ['/api/leaves/none'],
      ['/api/outbox/5/retry', { method: 'POST' }],
    ];
    for (const [path, init] of probes) {
      const res = await t.admin(path, init);
      const body = (await res.json()) as { error: { code: string } };
      expect(ERROR_CODES).toContain(body.error.code);
      expect(statusOf(body.error.code as (typeof ERROR_CODES)[number])).toBe(res.status);
    }
  });
});
