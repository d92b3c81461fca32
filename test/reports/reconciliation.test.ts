import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays, outbox } from '../../src/db/schema.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { parseServiceAccountKey } from '../../src/google/auth.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { eventIdFor } from '../../src/google/ids.js';
import { silentLogger } from '../../src/logger.js';
import { createDrainer, drainerOptions, type Drainer } from '../../src/outbox/drain.js';
import { CATEGORIES, SINGLE_VARIANT_GRACE_MS, VERIFY_CONCURRENCY, VERIFY_FAILURE_LIMIT, type DriftItem, type ReconciliationReport } from '../../src/reports/reconciliation/index.js';
import { ADMIN, testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert, type LeaveSpec } from '../support/feishu.js';
import { googleError, startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';

/*
 * Every category produced for real: events posted to the webhook, the real drainer
 * (src/outbox/drain.ts) talking to the fake Google through the real calendar client, the real
 * Feishu client against the fake Open API, and changes made behind the connector's back in the
 * fakes. Each test uses its own month and its own people, so reports do not see each other's
 * leaves (quarantined events are reported whatever their date and are filtered where needed).
 */

let google: FakeGoogle;
let feishuFake: FakeFeishu;

beforeAll(async () => {
  google = await startFakeGoogle();
  feishuFake = await startFakeFeishu();
});

afterAll(async () => {
  await google?.close();
  await feishuFake?.close();
});

let seq = 0;
const code = (tag: string) => `REC-${tag}-${process.pid}-${++seq}`;

const of = (r: ReconciliationReport, category: DriftItem['category'], instanceCode?: string) =>
  r.items.filter((i) => i.category === category && (instanceCode === undefined || i.instance_code === instanceCode));

/** The items of a report, quarantined events (global) aside, as [category, instance_code]. */
const pairs = (r: ReconciliationReport) => r.items.filter((i) => i.category !== 'quarantined_event').map((i) => [i.category, i.instance_code]);

for (const backend of BACKENDS) {
  describe(`reconciliation report (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    let drainer: Drainer;
    let offsetMs = 0;

    /** An employee known to Feishu's contact API, with (by default) a Google address; one set per backend. */
    function person(tag: string, email: string | null = `${tag}-${backend.name}-${process.pid}@example.com`) {
      const id = `u_${tag}_${backend.name}`;
      feishuFake.addUser({ user_id: id, open_id: `ou_${tag}`, name: tag, ...(email ? { email } : {}) });
      return { id, email: email ?? '' };
    }

    async function send(body: string, expected = 'applied') {
      const res = await t.post({ body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe(expected);
    }

    const approve = (s: LeaveSpec & { instanceCode: string }) => send(leaveApprovalV2(s));

    /** Approve V1 and V2 (as Feishu does) and drain the outbox for that leave. */
    async function approvedAndSynced(s: LeaveSpec & { instanceCode: string }) {
      await send(leaveApprovalV1(s));
      await send(leaveApprovalV2(s));
      expect(await drainer.drainOnce({ keys: [s.instanceCode] })).toMatchObject({ done: 1 });
    }

    async function report(from: string, to: string, verify?: string): Promise<ReconciliationReport> {
      const res = await t.admin(`/api/reconciliation?from=${from}&to=${to}${verify ? `&verify=${verify}` : ''}`);
      expect(res.status).toBe(200);
      return (await res.json()) as ReconciliationReport;
    }

    beforeAll(async () => {
      db = await backend.create();
      // Generous timeouts and a few quick retries: the whole suite runs at once on two cores, and a
      // transient hiccup of a fake must not turn into drift this file did not set up.
      const calendar = createGoogleCalendar({ key: parseServiceAccountKey(google.serviceAccountJson), baseUrl: google.url, timeoutMs: 20_000 });
      const feishu = createFeishuClient({
        appId: feishuFake.appId,
        appSecret: feishuFake.appSecret,
        baseUrl: feishuFake.url,
        logger: silentLogger,
        retry: { retries: 2, minTimeout: 1, maxTimeout: 1 },
        timeoutMs: 20_000,
      });
      t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined }, calendar, feishu, clock: { now: () => new Date(Date.now() + offsetMs) } });
      drainer = createDrainer(
        t.deps,
        drainerOptions(t.deps.config, { quickRetry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 1 }, releaseHeldOnStart: false, runTimeoutMs: 60_000 }),
      );
    });

    afterAll(async () => {
      await db?.close();
    });

    it('a clean period reports no problems, and every category in the summary', async () => {
      const p = person('clean');
      const c = code('clean');
      await approvedAndSynced({ instanceCode: c, employeeId: p.id, start: '2041-01-07 00:00:00', end: '2041-01-09 00:00:00', interval: 2 * 86_400 });
      feishuFake.addInstance({ instance_code: c, approval_code: 'APPROVAL-LEAVE', status: 'APPROVED', user_id: p.id, createdMs: Date.now(), form: [] });
      expect(google.events(p.email).map((e) => [e.id, e.status, e.eventType])).toEqual([[eventIdFor(c), 'confirmed', 'outOfOffice']]);
      const r = await report('2041-01-01', '2041-01-31', 'google,feishu');
      expect(r).toMatchObject({ from: '2041-01-01', to: '2041-01-31', verified: { google: true, feishu: true } });
      expect(pairs(r)).toEqual([]);
      expect(Object.keys(r.summary).sort()).toEqual([...CATEGORIES, 'total', 'leaves_checked'].sort());
      expect(r.summary.leaves_checked).toBe(1);
      expect(r.summary.calendar_missing).toBe(0);
    });

    it('calendar_pending: queued work with its age; held work (no email) as an error, with employee_without_email', async () => {
      const p = person('pending');
      const c = code('pending');
      const both = (s: LeaveSpec & { instanceCode: string }) => send(leaveApprovalV1(s)).then(() => send(leaveApprovalV2(s)));
      await both({ instanceCode: c, employeeId: p.id, start: '2041-02-03 00:00:00', end: '2041-02-04 00:00:00', interval: 86_400 });
      const noMail = person('nomail', null);
      const h = code('held');
      await both({ instanceCode: h, employeeId: noMail.id, start: '2041-02-10 00:00:00', end: '2041-02-11 00:00:00', interval: 86_400 });
      // the drainer asks Feishu's contact API for the address, finds none, and holds the row
      expect(await drainer.drainOnce({ keys: [h] })).toMatchObject({ held: 1 });

      offsetMs = 3_600_000; // an hour later
      try {
        const r = await report('2041-02-01', '2041-02-28');
        // (p's address is not looked up yet: their row is still queued, so p is no problem yet)
        expect(pairs(r)).toEqual([
          ['calendar_pending', h], // REC-held-… sorts before REC-pending-…
          ['calendar_pending', c],
          ['employee_without_email', h],
        ]);
        const [pending] = of(r, 'calendar_pending', c);
        expect(pending).toMatchObject({ employee_id: p.id, severity: 'warning', data: { kind: 'calendar.upsert', status: 'pending' } });
        expect(pending!.data!.age_seconds as number).toBeGreaterThanOrEqual(3_500);
        expect(pending!.detail).toMatch(/^calendar\.upsert #\d+ pending for \d+ min$/);
        const [held] = of(r, 'calendar_pending', h);
        expect(held).toMatchObject({ severity: 'error', data: { status: 'held' } });
        expect(held!.detail).toMatch(/neither email nor enterprise_email/);
        expect(held!.action).toMatch(/^Held on a configuration problem/);
        expect(of(r, 'employee_without_email')[0]).toMatchObject({ employee_id: noMail.id, detail: expect.stringMatching(/contact API returned none/) });
      } finally {
        offsetMs = 0;
      }
    });

    it('calendar_dead and calendar_missing: Google refuses the insert for good (400), the row dies, no block exists', async () => {
      const p = person('dead');
      const c = code('dead');
      google.faults.add({ op: 'insert', calendarId: p.email, fault: googleError(400, 'invalid', 'Invalid attendee email.'), times: Infinity });
      try {
        await approve({ instanceCode: c, employeeId: p.id, start: '2041-03-05 00:00:00', end: '2041-03-06 00:00:00', interval: 86_400 });
        expect(await drainer.drainOnce({ keys: [c] })).toMatchObject({ dead: 1 });
      } finally {
        google.faults.clear();
      }
      const r = await report('2041-03-01', '2041-03-31');
      expect(pairs(r)).toEqual([
        ['calendar_missing', c],
        ['calendar_dead', c],
      ]);
      const [dead] = of(r, 'calendar_dead');
      const [row] = await db.db.select().from(outbox).where(eq(outbox.key, c));
      expect(dead).toMatchObject({ severity: 'error', data: { outbox_id: row!.id, kind: 'calendar.upsert' } });
      expect(dead!.detail).toMatch(/is dead after 1 attempt: .*Invalid attendee email/);
      expect(dead!.action).toContain(`/api/outbox/${row!.id}/retry`);
      expect(of(r, 'calendar_missing')[0]!.detail).toMatch(/no calendar block; its upsert #\d+ is dead/);

      // the operator's retry succeeds: both items disappear
      expect((await t.admin(`/api/outbox/${row!.id}/retry`, { method: 'POST' })).status).toBe(200);
      await drainer.drainOnce({ keys: [c] });
      expect(pairs(await report('2041-03-01', '2041-03-31'))).toEqual([]);
    });

    it('calendar_fallback: Google refuses out-of-office (consumer account), an opaque default event stands in', async () => {
      const p = person('consumer');
      const c = code('fallback');
      google.refuseOutOfOffice(p.email);
      await approvedAndSynced({ instanceCode: c, employeeId: p.id, start: '2041-04-08 09:00:00', end: '2041-04-08 18:00:00', interval: 9 * 3600, unit: 'HOUR' });
      expect(google.events(p.email).map((e) => e.eventType)).toEqual(['default']);
      const r = await report('2041-04-01', '2041-04-30', 'google');
      expect(pairs(r)).toEqual([['calendar_fallback', c]]);
      expect(of(r, 'calendar_fallback')[0]).toMatchObject({ severity: 'info', employee_id: p.id, detail: expect.stringMatching(/eventTypeRestriction/) });
    });

    it('block_for_reverted: the revert\'s delete is refused for good, the block stays', async () => {
      const p = person('stuck');
      const c = code('stuck');
      await approvedAndSynced({ instanceCode: c, employeeId: p.id, start: '2041-05-12 00:00:00', end: '2041-05-13 00:00:00', interval: 86_400 });
      google.faults.add({ op: 'delete', calendarId: p.email, fault: googleError(403, 'forbiddenForNonOrganizer', 'Shared properties can only be changed by the organizer of the event.'), times: Infinity });
      try {
        await send(leaveRevert({ instanceCode: c }));
        expect(await drainer.drainOnce({ keys: [c] })).toMatchObject({ dead: 1 });
      } finally {
        google.faults.clear();
      }
      const r = await report('2041-05-01', '2041-05-31', 'google');
      expect(pairs(r)).toEqual([
        ['calendar_dead', c],
        ['block_for_reverted', c],
        ['google_orphan', c],
      ]);
      expect(of(r, 'block_for_reverted')[0]!.detail).toMatch(/still recorded as present; delete #\d+ is dead/);
      expect(of(r, 'google_orphan')[0]!.detail).toMatch(new RegExp(`leave ${c} is reverted`));
    });

    it('google_orphan: a marked event no approved leave explains (reverted and restored behind our back, or unknown)', async () => {
      const p = person('orphan');
      const c = code('orphan');
      await approvedAndSynced({ instanceCode: c, employeeId: p.id, start: '2041-06-02 00:00:00', end: '2041-06-03 00:00:00', interval: 86_400 });
      await send(leaveRevert({ instanceCode: c }));
      await drainer.drainOnce({ keys: [c] });
      const id = eventIdFor(c);
      expect(google.event(p.email, id)?.status).toBe('cancelled');
      expect(pairs(await report('2041-06-01', '2041-06-30', 'google'))).toEqual([]);
      // someone restores the event in the Google UI, and another app copies our marker
      google.alterEvent(p.email, id, { status: 'confirmed' });
      google.putEvent(p.email, {
        id: 'ghost00001',
        eventType: 'outOfOffice',
        start: { dateTime: '2041-06-20T01:00:00.000Z' },
        end: { dateTime: '2041-06-20T09:00:00.000Z' },
        extendedProperties: { private: { leaveBridge: '1', instanceCode: 'GHOST-INSTANCE' } },
      });
      const r = await report('2041-06-01', '2041-06-30', 'google');
      expect(pairs(r)).toEqual([
        ['google_orphan', 'GHOST-INSTANCE'],
        ['google_orphan', c],
      ]);
      expect(of(r, 'google_orphan', 'GHOST-INSTANCE')[0]).toMatchObject({
        employee_id: p.id,
        detail: expect.stringMatching(/ghost00001 .* no leave GHOST-INSTANCE is known here/),
        action: expect.stringMatching(/^Delete event ghost00001 from /),
      });
      // without verify=google nobody asks Google
      const listsBefore = google.calls.filter((x) => x.op === 'list').length;
      expect(pairs(await report('2041-06-01', '2041-06-30'))).toEqual([]);
      expect(google.calls.filter((x) => x.op === 'list').length).toBe(listsBefore);
    });

    it('google_mismatch: a block deleted, moved or purged behind our back', async () => {
      const p = person('mismatch');
      const [cancelled, moved, purged] = [code('cancelled'), code('moved'), code('purged')];
      await approvedAndSynced({ instanceCode: cancelled, employeeId: p.id, start: '2041-07-01 00:00:00', end: '2041-07-02 00:00:00', interval: 86_400 });
      await approvedAndSynced({ instanceCode: moved, employeeId: p.id, start: '2041-07-08 09:00:00', end: '2041-07-08 13:00:00', interval: 4 * 3600, unit: 'HOUR' });
      await approvedAndSynced({ instanceCode: purged, employeeId: p.id, start: '2041-07-15 00:00:00', end: '2041-07-16 00:00:00', interval: 86_400 });
      expect(pairs(await report('2041-07-01', '2041-07-31', 'google'))).toEqual([]);

      google.cancelEvent(p.email, eventIdFor(cancelled));
      google.alterEvent(p.email, eventIdFor(moved), { start: { dateTime: '2041-07-08T03:00:00.000Z' }, end: { dateTime: '2041-07-08T07:30:00.000Z' } });
      google.purgeEvent(p.email, eventIdFor(purged));
      const r = await report('2041-07-01', '2041-07-31', 'google');
      expect(pairs(r)).toEqual([
        ['google_mismatch', cancelled],
        ['google_mismatch', moved],
        ['google_mismatch', purged],
      ]);
      expect(of(r, 'google_mismatch', cancelled)[0]!.detail).toMatch(/cancelled \(deleted\) in Google/);
      // 09:00–13:00 Shanghai is 01:00–05:00 UTC; the event now says 03:00–07:30
      expect(of(r, 'google_mismatch', moved)[0]!.detail).toContain(
        'times differ: Google 2041-07-08T03:00:00.000Z → 2041-07-08T07:30:00.000Z, we wrote 2041-07-08T01:00:00.000Z → 2041-07-08T05:00:00.000Z',
      );
      expect(of(r, 'google_mismatch', purged)[0]!.detail).toMatch(/missing in Google/);
      expect(r.summary.google_mismatch).toBe(3);
    });

    it('feishu_status_mismatch: Feishu says reverted (or unknown) while we say approved, and the reverse', async () => {
      const p = person('fs');
      const [agree, revertedThere, unknown, revertedHere] = [code('agree'), code('rev-there'), code('unknown'), code('rev-here')];
      const base = { employeeId: p.id, interval: 86_400 };
      await approve({ ...base, instanceCode: agree, start: '2041-08-02 00:00:00', end: '2041-08-03 00:00:00' });
      await approve({ ...base, instanceCode: revertedThere, start: '2041-08-04 00:00:00', end: '2041-08-05 00:00:00' });
      await approve({ ...base, instanceCode: unknown, start: '2041-08-06 00:00:00', end: '2041-08-07 00:00:00' });
      await approve({ ...base, instanceCode: revertedHere, start: '2041-08-08 00:00:00', end: '2041-08-09 00:00:00' });
      await send(leaveRevert({ instanceCode: revertedHere }));
      const inst = (c: string) => ({ instance_code: c, approval_code: 'APPROVAL-LEAVE', status: 'APPROVED', user_id: p.id, createdMs: Date.now(), form: [] });
      feishuFake.addInstance(inst(agree));
      feishuFake.addInstance(inst(revertedThere));
      feishuFake.addInstance(inst(revertedHere));
      // the revert event never reached us; the instance API knows (status stays APPROVED, `reverted` set)
      feishuFake.updateInstance(revertedThere, { status: 'APPROVED', reverted: true });
      const r = await report('2041-08-01', '2041-08-31', 'feishu');
      const mismatches = of(r, 'feishu_status_mismatch');
      expect(mismatches.map((i) => [i.instance_code, i.detail])).toEqual([
        [revertedHere, 'Feishu says status APPROVED; we have it reverted'],
        [revertedThere, 'Feishu says status APPROVED, reverted; we have it approved'],
        [unknown, 'Feishu says no such instance; we have it approved'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)));
      expect(of(r, 'feishu_status_mismatch', revertedThere)[0]!.action).toMatch(/backfill/);
    });

    it('attendance_total_mismatch: active days that no longer add up to leave_interval', async () => {
      const p = person('sum');
      const c = code('sum');
      await approve({ instanceCode: c, employeeId: p.id, unit: 'HALF_DAY', interval: 129_600, start: '2041-09-02 13:30:00', end: '2041-09-03 18:00:00', range: [['2041-09-02 13:30:00', '2041-09-02 18:00:00'], ['2041-09-03 09:00:00', '2041-09-03 18:00:00']] });
      await drainer.drainOnce({ keys: [c] });
      expect(of(await report('2041-09-01', '2041-09-30'), 'attendance_total_mismatch')).toEqual([]);
      // No ingest path produces this (allocation sums exactly): it stands for a hand edit in the
      // database or a bug, which is precisely what the check is there to catch.
      await db.db.update(attendanceDays).set({ quantity: '0.5' }).where(and(eq(attendanceDays.instanceCode, c), eq(attendanceDays.date, '2041-09-03')));
      const r = await report('2041-09-01', '2041-09-30');
      expect(pairs(r)).toEqual([['attendance_total_mismatch', c]]);
      expect(of(r, 'attendance_total_mismatch')[0]).toMatchObject({
        detail: 'active days add up to 1 day but leave_interval 129600s is 1.5 day',
        data: { sum: '1', expected: '1.5', unit: 'day' },
      });
    });

    it('single_variant: only V1 (or only V2) ever arrived, reported once the leave is older than the grace', async () => {
      const p = person('single');
      const [v1only, v2only, both] = [code('v1only'), code('v2only'), code('both')];
      const spec = (c: string, day: string) => ({ instanceCode: c, employeeId: p.id, start: `2041-10-${day} 00:00:00`, end: `2041-10-${day} 12:00:00`, interval: 43_200, unit: 'HALF_DAY' as const });
      await send(leaveApprovalV1(spec(v1only, '06')));
      await send(leaveApprovalV2(spec(v2only, '07')));
      await send(leaveApprovalV1(spec(both, '08')));
      await send(leaveApprovalV2(spec(both, '08')));
      await drainer.drainOnce({ keys: [v1only, v2only, both] });
      expect(of(await report('2041-10-01', '2041-10-31'), 'single_variant')).toEqual([]); // too early to say
      offsetMs = SINGLE_VARIANT_GRACE_MS + 60_000;
      try {
        const r = await report('2041-10-01', '2041-10-31');
        expect(pairs(r)).toEqual([
          ['single_variant', v1only],
          ['single_variant', v2only],
        ]);
        expect(of(r, 'single_variant', v1only)[0]).toMatchObject({ severity: 'info', detail: 'only leave_approval (V1) arrived; leave_approvalV2 (V2) never did' });
      } finally {
        offsetMs = 0;
      }
    });

    it('quarantined_event: an authentic event we could not use, with how to replay it', async () => {
      const c = code('quarantine');
      // one second of a DAY leave cannot be printed as an exact decimal of days: quarantined
      await send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_q', start: '2041-11-03 00:00:00', end: '2041-11-04 00:00:00', interval: 1 }), 'quarantined');
      const r = await report('2041-11-01', '2041-11-30');
      const [q] = of(r, 'quarantined_event', c);
      expect(q).toMatchObject({ severity: 'error', data: { event_type: 'leave_approval' } });
      expect(q!.action).toMatch(/POST \/api\/events\/\d+\/replay/);
      expect(q!.detail).toMatch(/leave_approval event #\d+ .* was quarantined: .*cannot be split/);
    });

    it('verify_failed: Google or Feishu failing becomes an item, never a 500; a dead service is not hammered', async () => {
      const p = person('vf');
      const c = code('vf');
      await approvedAndSynced({ instanceCode: c, employeeId: p.id, start: '2041-12-01 00:00:00', end: '2041-12-02 00:00:00', interval: 86_400 });
      google.faults.add({ op: 'list', calendarId: p.email, fault: googleError(404, 'notFound', 'Not Found'), times: Infinity });
      feishuFake.fail('instance.get', { status: 400, code: 99991672, msg: 'Access denied. One of the following scopes is required: [approval:approval:readonly]' }, Infinity);
      // well over the failure limit (plus the calls already in flight when it is reached)
      const extra = VERIFY_FAILURE_LIMIT + VERIFY_CONCURRENCY + 3;
      for (let i = 0; i < extra; i++) {
        await approve({ instanceCode: code(`vf${i}`), employeeId: p.id, start: `2041-12-${String(10 + i).padStart(2, '0')} 00:00:00`, end: `2041-12-${String(10 + i).padStart(2, '0')} 12:00:00`, interval: 43_200, unit: 'HALF_DAY' });
      }
      const callsBefore = feishuFake.calls('instance.get');
      try {
        const res = await t.admin('/api/reconciliation?from=2041-12-01&to=2041-12-31&verify=google,feishu');
        expect(res.status).toBe(200);
        const r = (await res.json()) as ReconciliationReport;
        const failed = of(r, 'verify_failed');
        const googleFailures = failed.filter((i) => i.data?.service === 'google');
        const feishuFailures = failed.filter((i) => i.data?.service === 'feishu');
        expect(googleFailures).toHaveLength(1);
        expect(googleFailures[0]!.detail).toMatch(new RegExp(`Google Calendar: listing events of ${p.email} failed: .*404`));
        // Lookups run VERIFY_CONCURRENCY at a time: those already started when the limit is
        // reached still finish, so between LIMIT and LIMIT + CONCURRENCY − 1 of them fail.
        const calls = feishuFake.calls('instance.get') - callsBefore;
        expect(calls).toBeGreaterThanOrEqual(VERIFY_FAILURE_LIMIT);
        expect(calls).toBeLessThanOrEqual(VERIFY_FAILURE_LIMIT + VERIFY_CONCURRENCY - 1);
        const stopped = feishuFailures.at(-1)!;
        expect(stopped.detail).toBe(`Feishu: stopped after ${VERIFY_FAILURE_LIMIT} failures; ${extra + 1 - calls} more lookups not made`);
        expect(feishuFailures.slice(0, -1).map((i) => i.detail)).toEqual(
          Array.from({ length: calls }, () => expect.stringMatching(/^Feishu: reading approval instance .* failed: .*99991672/)),
        );
        expect(r.summary.verify_failed).toBe(failed.length);
        expect(of(r, 'feishu_status_mismatch')).toEqual([]); // failures are not mistaken for drift
      } finally {
        google.faults.clear();
        feishuFake.clearFailures();
      }
    });

    it('verify targets that are not configured, bad input and auth', async () => {
      const bare = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
      const res = await bare.admin('/api/reconciliation?from=2041-01-01&to=2041-01-31&verify=google,feishu');
      expect(res.status).toBe(200);
      const r = (await res.json()) as ReconciliationReport;
      expect(of(r, 'verify_failed').map((i) => i.detail)).toEqual([
        'verify=google asked for, but Google Calendar is not configured',
        'verify=feishu asked for, but the Feishu Open API is not configured',
      ]);
      for (const q of ['?from=2041-01-01', '?from=2041-01-31&to=2041-01-01', '?from=2041-01-01&to=2042-01-03', '?from=2041-01-01&to=2041-01-31&verify=outlook', '?from=x&to=y']) {
        expect((await t.admin(`/api/reconciliation${q}`)).status, q).toBe(400);
      }
      expect((await t.app.request('/api/reconciliation?from=2041-01-01&to=2041-01-31')).status).toBe(401);
      const off = testApp(db, { env: { ADMIN_TOKEN: undefined } });
      expect((await off.app.request('/api/reconciliation?from=2041-01-01&to=2041-01-31', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    });
  });
}
