import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/client.js';
import { inboxEvents, leaves, payrollExportLines, payrollExports } from '../../src/db/schema.js';
import { purgeExpired } from '../../src/retention/purge.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { KIND_FIXTURES, leaveApprovalV1, leaveApprovalV2, leaveRevert, TRIP_DOC_TOKEN } from '../support/feishu.js';

/*
 * What is kept, and for how long: leave reasons not at all (unless STORE_LEAVE_REASONS), raw
 * payloads for EVENT_PAYLOAD_RETENTION, export emails for EXPORT_RETENTION. The clock is injected
 * and moved; the webhook runs without an encrypt key so that plain deliveries carry no timestamp
 * to go stale.
 */

const DAY = 86_400_000;
const T0 = Date.parse('2042-03-18T04:00:00Z');

function world(db: TestDatabase, env: Record<string, string | undefined> = {}) {
  let now = T0;
  const t = testApp(db, { clock: { now: () => new Date(now) }, env: { FEISHU_ENCRYPT_KEY: undefined, ...env } });
  const post = async (body: string) => (await (await t.post({ body, headers: { 'content-type': 'application/json' } })).json()) as { status: string };
  return { t, post, advance: (ms: number) => (now += ms), purge: () => purgeExpired(t.deps) };
}

for (const backend of BACKENDS) {
  describe(`retention (${backend.name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.create();
    });
    afterAll(async () => {
      await db?.close();
    });

    it('leave reasons are kept neither in the leave nor in the payload, unless STORE_LEAVE_REASONS=true', async () => {
      const w = world(db);
      const code = `RET-REASON-${backend.name}`;
      const v1 = leaveApprovalV1({ instanceCode: code });
      const v2 = leaveApprovalV2({ instanceCode: code });
      expect(v1).toContain('"leave_reason":"test"');
      expect(await w.post(v1)).toMatchObject({ status: 'applied' });
      expect(await w.post(v2)).toMatchObject({ status: 'applied' });
      const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, code));
      expect(leave!.reason).toBeNull();
      const rows = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, code));
      expect(rows).toHaveLength(2);
      for (const r of rows) {
        expect(JSON.stringify(r.payload)).not.toContain('leave_reason');
        expect((r.payload as { token: string }).token).toBe('[redacted]');
      }

      const keep = world(db, { STORE_LEAVE_REASONS: 'true' });
      const kept = `RET-REASON-KEPT-${backend.name}`;
      expect(await keep.post(leaveApprovalV2({ instanceCode: kept }))).toMatchObject({ status: 'applied' });
      const [k] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, kept));
      expect(k!.reason).toBe('test');
      // switched off again, the purge clears what was stored meanwhile
      const report = await w.purge();
      expect(report.reasons).toBeGreaterThanOrEqual(1);
      const [cleared] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, kept));
      expect(cleared!.reason).toBeNull();
    });

    it('every kind\'s reason (out, overtime, shift, remedy and trip, the last two under event.object) is kept neither in the record nor in the payload', async () => {
      const w = world(db);
      // the trip example carries a verification token of its own
      const trip = testApp(db, { clock: w.t.deps.clock, env: { FEISHU_ENCRYPT_KEY: undefined, FEISHU_VERIFICATION_TOKEN: TRIP_DOC_TOKEN } });
      const postTrip = async (body: string) => (await (await trip.post({ body, headers: { 'content-type': 'application/json' } })).json()) as { status: string };
      for (const [name, text] of Object.entries(KIND_FIXTURES)) {
        const reasonField = /"(out|work|shift|remedy|trip)_reason"/.exec(text)?.[0];
        if (!reasonField) continue;
        expect(await (name === 'trip' ? postTrip(text) : w.post(text))).toMatchObject({ status: expect.stringMatching(/^(applied|ignored)$/) });
        const body = JSON.parse(text) as { uuid?: string; header?: { event_id?: string } };
        const key = body.header?.event_id ?? body.uuid!;
        const [row] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.eventKey, key));
        expect({ name, stored: JSON.stringify(row!.payload).includes(reasonField) }).toEqual({ name, stored: false });
        if (row!.instanceCode) {
          const [record] = await db.db.select({ reason: leaves.reason }).from(leaves).where(eq(leaves.instanceCode, row!.instanceCode));
          expect({ name, reason: record?.reason ?? null }).toEqual({ name, reason: null });
        }
      }
    });

    it('payloads go after EVENT_PAYLOAD_RETENTION; the dedupe keys stay, so a late re-push is still a duplicate', async () => {
      const w = world(db, { EVENT_PAYLOAD_RETENTION: '30d' });
      const code = `RET-PAYLOAD-${backend.name}`;
      const delivery = leaveApprovalV1({ instanceCode: code });
      expect(await w.post(delivery)).toMatchObject({ status: 'applied' });
      // Feishu's own re-pushes (inside its ~7.1 h) are duplicates, and nothing is due for purging yet
      w.advance(6 * 3_600_000);
      expect(await w.post(delivery)).toMatchObject({ status: 'duplicate' });
      expect((await w.purge()).payloads).toBe(0);
      const [kept] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, code));
      expect(kept!.payload).not.toBeNull();

      w.advance(30 * DAY);
      const report = await w.purge();
      expect(report.payloads).toBeGreaterThanOrEqual(1);
      const [purged] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, code));
      expect(purged!.payload).toBeNull();
      expect(purged!.payloadPurgedAt?.getTime()).toBe(T0 + 6 * 3_600_000 + 30 * DAY);
      expect(purged!.status).toBe('applied');
      // the same delivery once more, a month later: still recognised
      expect(await w.post(delivery)).toMatchObject({ status: 'duplicate' });
      // the admin API shows the row without its payload
      const events = (await (await w.t.admin('/api/events?status=applied&limit=1000')).json()) as { items: Array<{ instance_code: string; payload: unknown }> };
      expect(events.items.find((e) => e.instance_code === code)!.payload).toBeNull();
      // a second purge finds nothing new
      expect((await w.purge()).payloads).toBe(0);
    });

    it('a quarantined event whose payload was purged replays only with a corrected event', async () => {
      const w = world(db);
      const code = `RET-QUAR-${backend.name}`;
      const broken = JSON.parse(leaveApprovalV1({ instanceCode: code })) as { event: Record<string, unknown> };
      delete broken.event.employee_id;
      expect(await w.post(JSON.stringify(broken))).toMatchObject({ status: 'quarantined' });
      const [row] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, code));
      w.advance(31 * DAY);
      await w.purge();
      const replay = (body: string) => w.t.admin(`/api/events/${row!.id}/replay`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      const stored = await replay('{}');
      expect(stored.status).toBe(409);
      expect(await stored.json()).toMatchObject({ error: { code: 'payload_purged' } });
      const corrected = await replay(JSON.stringify({ event: { ...broken.event, employee_id: 'u_fixed', leave_reason: 'private' } }));
      expect(corrected.status).toBe(200);
      const [after] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.id, row!.id));
      // the corrected event is stored as a delivery would be: without the reason
      expect(JSON.stringify(after!.payload)).not.toContain('private');
    });

    it('export copies lose their emails after EXPORT_RETENTION, and adjustments against them still compute', async () => {
      const w = world(db, { EXPORT_RETENTION: '90d' });
      const code = `RET-EXPORT-${backend.name}`;
      const employee = `u_ret_${backend.name}`;
      expect((await w.t.admin(`/api/employees/${employee}`, { method: 'PUT', body: JSON.stringify({ email: 'ret@example.com' }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
      expect(await w.post(leaveApprovalV1({ instanceCode: code, employeeId: employee, start: '2041-05-06 00:00:00', end: '2041-05-08 00:00:00', interval: 2 * 86400 }))).toMatchObject({ status: 'applied' });
      const period = 'from=2041-05-01&to=2041-05-31&format=json';
      const first = (await (await w.t.admin(`/api/payroll/export?${period}`)).json()) as { export_id: number; lines: Array<{ email: string | null }> };
      expect(first.lines.map((l) => l.email)).toEqual(['ret@example.com', 'ret@example.com']);

      w.advance(89 * DAY);
      expect((await w.purge()).exports).toBe(0);
      w.advance(2 * DAY);
      expect((await w.purge()).exports).toBeGreaterThanOrEqual(1);
      const [stored] = await db.db.select().from(payrollExports).where(eq(payrollExports.id, first.export_id));
      expect(stored!.emailsDroppedAt).not.toBeNull();
      const lines = await db.db.select().from(payrollExportLines).where(eq(payrollExportLines.exportId, first.export_id)).orderBy(payrollExportLines.seq);
      expect(JSON.stringify(lines)).not.toContain('ret@example.com');
      expect(lines).toEqual([
        expect.objectContaining({ employeeId: employee, instanceCode: code, date: '2041-05-06', quantity: '1.000000', unit: 'day', email: null }),
        expect.objectContaining({ employeeId: employee, instanceCode: code, date: '2041-05-07', quantity: '1.000000', unit: 'day', email: null }),
      ]);

      // the leave is reverted later: the next export still reports it against the purged copy
      expect(await w.post(leaveRevert({ instanceCode: code }))).toMatchObject({ status: 'applied' });
      const next = (await (await w.t.admin(`/api/payroll/export?${period}`)).json()) as { lines: unknown[]; adjustments: Array<{ date: string; quantity: string; reason: string; previous_export_id: number }> };
      expect(next.lines).toEqual([]);
      expect(next.adjustments.map((a) => [a.date, a.quantity, a.reason, a.previous_export_id])).toEqual([
        ['2041-05-06', '-1', 'reverted', first.export_id],
        ['2041-05-07', '-1', 'reverted', first.export_id],
      ]);
    });

    it('audit entries after AUDIT_RETENTION, ended sessions and throttle windows go too', async () => {
      const w = world(db, { AUDIT_RETENTION: '30d', SESSION_TTL: '1h' });
      await w.t.admin('/api/payroll/export?from=2041-01-01&to=2041-01-31');
      const count = async (table: string) => (await queryRows<{ n: number }>(db.db, sql.raw(`select count(*)::int as n from ${table}`)))[0]!.n;
      const login = await w.t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: 'wrong' }), headers: { origin: 'http://localhost' } });
      expect(login.status).toBe(401);
      expect(await count('auth_failures')).toBeGreaterThan(0);
      expect(await count('audit_log')).toBeGreaterThan(0);
      w.advance(31 * DAY);
      const report = await w.purge();
      expect(report.audit).toBeGreaterThan(0);
      expect(report.throttleWindows).toBeGreaterThan(0);
      expect(await count('auth_failures')).toBe(0);
      expect(await queryRows<{ n: number }>(db.db, sql`select count(*)::int as n from audit_log where at < ${new Date(T0 + DAY).toISOString()}::timestamptz`)).toEqual([{ n: 0 }]);
    });
  });
}
