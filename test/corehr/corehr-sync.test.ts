import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays, corehrSync, inboxEvents, leaves, outbox } from '../../src/db/schema.js';
import { queuePeriodicSync, syncCorehr } from '../../src/feishu/corehr-sync.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { getApproval } from '../../src/leave/approvals.js';
import { silentLogger } from '../../src/logger.js';
import { doorbell, leaveRequest, settle } from '../support/corehr.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { encryptedRequest } from '../support/feishu.js';
import { eventIdFor, eventTimes, FAST_DRAINER, startWorld, type World } from '../support/outbox-world.js';
import { createDrainer } from '../../src/outbox/drain.js';

const ENV = { COREHR_ENABLED: 'true' };
for (const backend of BACKENDS) {
  describe(`CoreHR leave requests end to end (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    const leaveOf = async (id: string) => (await db.db.select().from(leaves).where(eq(leaves.instanceCode, `corehr-${id}`)))[0];
    const activeDays = (id: string) =>
      db.db
        .select({ date: attendanceDays.date, quantity: attendanceDays.quantity, paidType: attendanceDays.paidType, revision: attendanceDays.revision })
        .from(attendanceDays)
        .where(and(eq(attendanceDays.instanceCode, `corehr-${id}`), eq(attendanceDays.status, 'active')))
        .orderBy(attendanceDays.date);

    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db, { env: ENV });
      w.feishu.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice', email: 'alice@example.com' });
      w.feishu.addUser({ user_id: 'u_bob', open_id: 'ou_bob', name: 'Bob', email: 'bob@example.com' });
      w.feishu.corehr.mapUser('c_alice', 'u_alice');
      w.feishu.corehr.mapUser('c_bob', 'u_bob');
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });

    it('approve, correct, cancel through the process events: one record, re-allocated, then reverted; its block follows', async () => {
      const r = leaveRequest({ employment: 'c_alice', from: '2026-03-02', to: '2026-03-03', process: 'p-approve-1' });
      w.feishu.corehr.put(r);
      const rang = await w.send(doorbell('p-approve-1'));
      expect(rang).toMatchObject({ status: 200, json: { status: 'applied' } });
      const [row] = await w.outboxRows('corehr');
      expect(row).toMatchObject({ kind: 'corehr.sync', status: 'pending', payload: { process_ids: ['p-approve-1'] } });
      // a second doorbell while the sync waits joins it
      await w.send(doorbell('p-approve-1', 'corehr.process.updated_v2'));
      expect((await w.outboxRows('corehr')).map((o) => o.payload)).toEqual([{ process_ids: ['p-approve-1'] }]);
      await settle(w);

      const leave = await leaveOf(r.leave_request_id);
      expect(leave).toMatchObject({ kind: 'leave', source: 'corehr', status: 'approved', employeeId: 'u_alice', leaveType: '年假', unit: 'DAY', intervalSeconds: 172_800, startLocal: '2026-03-02 00:00:00', endLocal: '2026-03-04 00:00:00', timezone: 'Asia/Shanghai', reason: null });
      expect((await activeDays(r.leave_request_id)).map((d) => [d.date, d.quantity, d.paidType])).toEqual([
        ['2026-03-02', '1.000000', 2],
        ['2026-03-03', '1.000000', 2],
      ]);
      const [sync] = (await w.outboxRows('corehr')).filter((o) => o.status === 'done');
      expect(sync!.result).toMatchObject({ action: 'synced', corehr: { processes: { matched: { 'p-approve-1': `corehr-${r.leave_request_id}` }, unmatched: [] } } });
      const block = w.confirmed('alice@example.com').filter((e) => e.id === eventIdFor(`corehr-${r.leave_request_id}`));
      expect(block).toHaveLength(1);
      expect(new Date(eventTimes(block[0]!).end).toISOString()).toBe('2026-03-03T16:00:00.000Z');

      // a correction: the second day becomes a morning
      w.feishu.corehr.update(r.leave_request_id, {
        end_time: '2026-03-03 morning',
        leave_duration: '1.5',
        details: [
          { leave_date: '2026-03-02', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
          { leave_date: '2026-03-03', leave_duration: '0.5', leave_duration_unit: 1, paid_type: 3 },
        ],
        leave_correct_process_id: ['p-correct-1'],
        leave_correct_process_info: [{ process_id: 'p-correct-1', process_status: 'passed', process_apply_time: '2026-03-01 10:00:00' }],
      });
      await w.send(doorbell('p-correct-1'));
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toMatchObject({ status: 'approved', revision: 2, intervalSeconds: 129_600, endLocal: '2026-03-03 12:00:00' });
      expect((await activeDays(r.leave_request_id)).map((d) => [d.date, d.quantity, d.paidType, d.revision])).toEqual([
        ['2026-03-02', '1.000000', 2, 2],
        ['2026-03-03', '0.500000', 3, 2],
      ]);
      const moved = w.confirmed('alice@example.com').find((e) => e.id === eventIdFor(`corehr-${r.leave_request_id}`))!;
      expect(new Date(eventTimes(moved).end).toISOString()).toBe('2026-03-03T04:00:00.000Z');

      // cancelled after approval: reverted like a Feishu revert
      w.feishu.corehr.update(r.leave_request_id, { leave_request_status: 8, leave_cancel_process_id: ['p-cancel-1'] });
      await w.send(doorbell('p-cancel-1'));
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toMatchObject({ status: 'reverted' });
      expect(await activeDays(r.leave_request_id)).toEqual([]);
      expect(w.confirmed('alice@example.com').filter((e) => e.id === eventIdFor(`corehr-${r.leave_request_id}`))).toHaveLength(0);
      const record = await getApproval(db.db, `corehr-${r.leave_request_id}`);
      expect(record).toMatchObject({ source: 'corehr', status: 'reverted' });
    });

    it('a withdrawn request that was never approved leaves nothing; a pending one is not a leave without tentative holds', async () => {
      const r = leaveRequest({ employment: 'c_bob', from: '2026-03-10', to: '2026-03-10', status: 2, process: 'p-withdraw-1' });
      w.feishu.corehr.put(r);
      await w.send(doorbell('p-withdraw-1', 'corehr.process.updated_v2', 1));
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toBeUndefined();
      const [pending] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, `corehr-${r.leave_request_id}`));
      expect(pending).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/is pending; tentative holds are off/) });
      w.feishu.corehr.update(r.leave_request_id, { leave_request_status: 9 });
      await w.send(doorbell('p-withdraw-1', 'corehr.process.status.update_v2', 4));
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toBeUndefined();
    });

    it('the periodic sync alone: approve, correct, cancel without a single event; a missed event is recovered', async () => {
      const r = leaveRequest({ employment: 'c_bob', from: '2026-04-06', to: '2026-04-08' });
      w.feishu.corehr.put(r);
      // no doorbell rang: the next periodic sync finds it
      expect(await queuePeriodicSync(w.t.deps, 1_000)).toBe(true);
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toMatchObject({ source: 'corehr', status: 'approved', employeeId: 'u_bob', intervalSeconds: 3 * 86_400 });
      expect(w.confirmed('bob@example.com').filter((e) => e.id === eventIdFor(`corehr-${r.leave_request_id}`))).toHaveLength(1);

      w.feishu.corehr.update(r.leave_request_id, {
        end_time: '2026-04-07',
        leave_duration: '2',
        details: [
          { leave_date: '2026-04-06', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
          { leave_date: '2026-04-07', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
        ],
        leave_correct_process_info: [{ process_id: 'p-c2', process_status: 'passed', process_apply_time: '2026-04-01 09:00:00' }],
      });
      await db.db.update(corehrSync).set({ lastQueuedAt: new Date(Date.now() - 60_000) });
      expect(await queuePeriodicSync(w.t.deps, 1_000)).toBe(true);
      await settle(w);
      expect((await activeDays(r.leave_request_id)).map((d) => d.date)).toEqual(['2026-04-06', '2026-04-07']);

      w.feishu.corehr.update(r.leave_request_id, { leave_request_status: 8 });
      await db.db.update(corehrSync).set({ lastQueuedAt: new Date(Date.now() - 60_000) });
      expect(await queuePeriodicSync(w.t.deps, 1_000)).toBe(true);
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toMatchObject({ status: 'reverted' });
      expect(w.confirmed('bob@example.com').filter((e) => e.id === eventIdFor(`corehr-${r.leave_request_id}`))).toHaveLength(0);
    });

    it('the periodic sync is queued once per interval, whatever the number of callers', async () => {
      await db.db.update(corehrSync).set({ lastQueuedAt: new Date() });
      expect(await queuePeriodicSync(w.t.deps, 3_600_000)).toBe(false);
      expect(await queuePeriodicSync(w.t.deps, 3_600_000)).toBe(false);
      await db.db.update(corehrSync).set({ lastQueuedAt: new Date(Date.now() - 3_600_000) });
      const both = await Promise.all([queuePeriodicSync(w.t.deps, 3_600_000), queuePeriodicSync(w.t.deps, 3_600_000)]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect((await w.outboxRows('corehr')).filter((o) => o.status === 'pending')).toHaveLength(1);
      await settle(w);
    });

    it('the same request seen by an event and by the sync is one leave, one set of days, one inbox delivery', async () => {
      const r = leaveRequest({ employment: 'c_alice', from: '2026-05-04', to: '2026-05-04', process: 'p-twice' });
      w.feishu.corehr.put(r);
      await w.send(doorbell('p-twice'));
      await settle(w);
      const report = await syncCorehr(w.t.deps, { mode: 'incremental' });
      expect(report.duplicate).toBeGreaterThanOrEqual(1);
      await syncCorehr(w.t.deps, { mode: 'since', since: new Date(Date.now() - 3_600_000) });
      expect(await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, `corehr-${r.leave_request_id}`))).toHaveLength(1);
      expect(await activeDays(r.leave_request_id)).toHaveLength(1);
      expect(await db.db.select().from(leaves).where(eq(leaves.instanceCode, `corehr-${r.leave_request_id}`))).toHaveLength(1);
    });

    it('pages through the requests, and retries a 429 and a code≠0 answered with HTTP 200', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = leaveRequest({ employment: 'c_bob', from: `2026-06-0${i + 1}`, to: `2026-06-0${i + 1}` });
        ids.push(r.leave_request_id);
        w.feishu.corehr.put(r);
      }
      w.feishu.corehr.pageSize = 2;
      w.feishu.fail('corehr.leave_request_history', { status: 429 });
      w.feishu.fail('corehr.leave_request_history', { status: 200, code: 1160015, msg: 'Internal error' });
      const before = w.feishu.corehr.queries.length;
      const patient = createFeishuClient({ appId: w.feishu.appId, appSecret: w.feishu.appSecret, baseUrl: w.feishu.url, logger: silentLogger, retry: { retries: 3, minTimeout: 5, maxTimeout: 20 } });
      try {
        const report = await syncCorehr({ ...w.t.deps, feishu: patient }, { mode: 'since', since: new Date(Date.now() - 60_000) });
        expect(report.pages).toBeGreaterThanOrEqual(3);
        expect(report.requests).toBeGreaterThanOrEqual(5);
      } finally {
        w.feishu.corehr.pageSize = 100;
      }
      const tokens = w.feishu.corehr.queries.slice(before).map((q) => q.page_token ?? null);
      expect(tokens[0]).toBeNull();
      expect(tokens.filter((t) => t !== null).every((t) => /^\[\d+,"\d+"\]$/.test(t!))).toBe(true);
      for (const id of ids) expect(await leaveOf(id)).toMatchObject({ status: 'approved' });
      expect(w.feishu.corehr.queries.slice(before).every((q) => q.user_id_type === 'user_id' && q.page_size === '100')).toBe(true);
      // the two failures were answered, then asked again: 429 (HTTP) and 1160015 (HTTP 200)
      expect(w.feishu.calls('corehr.leave_request_history')).toBeGreaterThanOrEqual(w.feishu.corehr.queries.length + 2);
    });

    it('a sync whose failures outlast the client retries is retried by the outbox, and held when credentials are refused', async () => {
      const r = leaveRequest({ employment: 'c_alice', from: '2026-07-01', to: '2026-07-01', process: 'p-outage' });
      w.feishu.corehr.put(r);
      w.feishu.fail('corehr.leave_request_history', { status: 500 }, Infinity);
      await w.send(doorbell('p-outage'));
      await w.drainer.drainOnce({ keys: ['corehr'], budgetMs: 150 });
      const [retry] = (await w.outboxRows('corehr')).filter((o) => o.status === 'pending');
      expect(retry!.attempts).toBeGreaterThanOrEqual(1);
      expect(retry!.lastError).toMatch(/leave_request_history: HTTP 500/);
      w.feishu.clearFailures();
      await db.db.update(outbox).set({ runAfter: new Date(0) }).where(eq(outbox.id, retry!.id));
      await settle(w);
      expect(await leaveOf(r.leave_request_id)).toMatchObject({ status: 'approved' });
      expect((await w.outboxRows('corehr')).find((o) => o.id === retry!.id)).toMatchObject({ status: 'done' });

      // no app credentials: the sync is held, no attempt used, until they are set
      const bare = testApp(db, { env: ENV });
      const drainer = createDrainer(bare.deps, FAST_DRAINER);
      await bare.post(await encryptedRequest(doorbell('p-no-credentials')));
      await drainer.drainOnce({ keys: ['corehr'] });
      const [held] = (await w.outboxRows('corehr')).filter((o) => o.status === 'held');
      expect(held).toMatchObject({ attempts: 0, lastError: expect.stringMatching(/set FEISHU_APP_ID and FEISHU_APP_SECRET/) });
      await db.db.update(outbox).set({ status: 'pending' }).where(eq(outbox.id, held!.id));
      await settle(w);
      expect((await w.outboxRows('corehr')).find((o) => o.id === held!.id)).toMatchObject({ status: 'done' });
    });

    it('the watermark survives a restart: a new process reads from it, less the overlap', async () => {
      await syncCorehr(w.t.deps, { mode: 'incremental' });
      const [state] = await db.db.select().from(corehrSync);
      expect(state!.watermark).toBeInstanceOf(Date);
      // another process on the same database: new deps, new client, nothing in memory
      const client = createFeishuClient({ appId: w.feishu.appId, appSecret: w.feishu.appSecret, baseUrl: w.feishu.url, logger: silentLogger });
      const restarted = testApp(db, { feishu: client, env: { ...ENV, COREHR_SYNC_OVERLAP: '5m' } });
      const report = await syncCorehr(restarted.deps, { mode: 'incremental' });
      const expected = new Date(state!.watermark!.getTime() - 5 * 60_000);
      const wall = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'medium' }).format(expected);
      expect(report.window.updatedFrom).toBe(wall);
      expect(w.feishu.corehr.queries.at(-1)!.leave_update_time_min).toBe(wall);
      const [after] = await db.db.select().from(corehrSync);
      expect(after!.watermark!.getTime()).toBeGreaterThan(state!.watermark!.getTime());
    });

    it('quarantines what cannot be used, with the reason: unknown status, no dates, a duration its details do not add up to, an unmapped employee', async () => {
      const bad = [
        leaveRequest({ employment: 'c_alice', from: '2026-08-03', to: '2026-08-03', status: 12 }),
        leaveRequest({ employment: 'c_alice', from: '2026-08-04', to: '2026-08-04', extra: { start_time: '', end_time: '' } }),
        leaveRequest({ employment: 'c_alice', from: '2026-08-05', to: '2026-08-06', extra: { leave_duration: '3' } }),
        leaveRequest({ employment: 'c_nobody', from: '2026-08-07', to: '2026-08-07' }),
      ];
      for (const r of bad) w.feishu.corehr.put(r);
      const report = await syncCorehr(w.t.deps, { mode: 'since', since: new Date(Date.now() - 60_000) });
      expect(report.quarantined).toBe(4);
      const reasons = await Promise.all(
        bad.map(async (r) => (await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, `corehr-${r.leave_request_id}`)))[0]),
      );
      expect(reasons.map((e) => [e!.status, e!.reason])).toEqual([
        ['quarantined', 'corehr.leave_request: leave_request_status 12 is not one CoreHR documents (1–9)'],
        ['quarantined', 'corehr.leave_request: the request has no start_time'],
        ['quarantined', 'corehr.leave_request: leave_duration 3 does not match its details, which add up to 2'],
        ['quarantined', expect.stringMatching(/^corehr.leave_request: employment_id is empty: the employee has no Feishu user_id/)],
      ]);
      for (const r of bad) expect(await leaveOf(r.leave_request_id)).toBeUndefined();
      // the admin API lists them; the stored payload keeps the request without its notes
      const listed = (await (await w.t.admin('/api/events?status=quarantined')).json()) as { items: Array<{ instance_code: string }> };
      expect(listed.items.map((i) => i.instance_code)).toEqual(expect.arrayContaining(bad.map((r) => `corehr-${r.leave_request_id}`)));
      expect(JSON.stringify(reasons[3]!.payload)).not.toContain('family matters');
      // the person gets a Feishu account: the replay of the corrected request applies
      const corrected = { ...(reasons[3]!.payload as { event: Record<string, unknown> }).event, employment_id: 'u_alice' };
      const replay = await w.t.admin(`/api/events/${reasons[3]!.id}/replay`, { method: 'POST', body: JSON.stringify({ event: corrected }), headers: { 'content-type': 'application/json' } });
      expect(replay.status).toBe(200);
      expect(await leaveOf(bad[3]!.leave_request_id)).toMatchObject({ status: 'approved', employeeId: 'u_alice', source: 'corehr' });
    });

    it('with the CoreHR sync off, a process event is stored and ignored, with the reason', async () => {
      const off = testApp(db, { env: {} });
      const res = await off.post(await encryptedRequest(doorbell('p-off')));
      expect(await res.json()).toMatchObject({ status: 'ignored' });
      const [row] = await db.db.select().from(inboxEvents).where(eq(inboxEvents.reason, 'CoreHR process p-off: the CoreHR sync is off (COREHR_ENABLED)'));
      expect(row).toMatchObject({ eventType: 'corehr.process.status.update_v2', status: 'ignored' });
    });
  });
}
