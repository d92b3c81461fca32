import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_EMPLOYEE, DEFAULT_PEER, triggerCommand, TRIGGER_APPROVAL_CODE } from '../../src/cli/trigger.js';
import { SCENARIOS } from '../../src/cli/trigger/scenarios.js';
import { loadConfig } from '../../src/config.js';
import { attendanceDays, leaves, outbox } from '../../src/db/schema.js';
import { blockFromEventId } from '../../src/google/ids.js';
import type { ApprovalKind } from '../../src/leave/types.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { ADMIN } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { serveEnv, startServe, stopServe, type ServeProcess } from '../support/drainer-process.js';
import * as build from '../../src/feishu/event-builders.js';
import { parseJsonLenient } from '../../src/feishu/json.js';
import { DOC_TOKEN, FIXTURES, KIND_FIXTURES, TEST_ENCRYPT_KEY } from '../support/feishu.js';
import { freePort, runCli, waitFor } from '../support/process.js';

/*
 * `leave-bridge trigger` against real `serve` processes: one as `npm start` comes up (no encrypt
 * key, no Google, no Feishu app) but with tentative holds on, one set up fully (encrypt key, the
 * fake Google and Feishu) without them. Each scenario must end in the record it describes.
 */

const byKey = (a: { calendar: string; key: string }, b: { calendar: string; key: string }) =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.calendar < b.calendar ? -1 : a.calendar > b.calendar ? 1 : 0;

const EMPLOYEE = { user_id: 'u_trigger_ann', email: 'ann@trigger.example.com' };
/** who travels along on the trips */
const PEER = { user_id: 'u_trigger_bob', email: 'bob@trigger.example.com' };

interface Run {
  code: number;
  output: string;
  instanceCode: string;
}

async function trigger(env: Record<string, string>, args: string[], opts: Parameters<typeof triggerCommand>[3] = {}): Promise<Run> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await triggerCommand(loadConfig(env), args, io, opts);
  const output = lines.join('\n');
  return { code, output, instanceCode: /^ {2}\w+ ([0-9A-F-]{36}),/m.exec(output)?.[1] ?? '' };
}

interface Day {
  employee_id: string;
  date: string;
  quantity: string;
  unit: string;
}

interface Expected {
  /** the event types sent, in order */
  events: string[];
  kind: ApprovalKind | null;
  status: 'approved' | 'reverted' | 'pending';
  /** per person */
  days: Day[];
  /**
   * The blocks an approved record leaves in the full service's Google (a reverted one's are all
   * cancelled), by calendar and block key.
   */
  blocks: Array<{ calendar: string; key: string }>;
  /** what the bare service does with its calendar work: held for want of Google or of a Feishu app, or none to do */
  bareWork: 'held: google' | 'held: feishu app' | 'none' | 'after a revert';
  /** the service ignores it without tentative holds (the full service here) */
  needsHolds?: true;
}

const APPROVAL = ['leave_approval', 'leave_approvalV2'];
const TRIP = 'approval.instance.trip_group_update_v4';

const FROM = '2031-03-04';
const TO = '2031-03-05';
const daysOf = (who: string[], q: [string, string], unit = 'day'): Day[] =>
  who.flatMap((employee_id) => [
    { employee_id, date: FROM, quantity: q[0], unit },
    { employee_id, date: TO, quantity: q[1], unit },
  ]);
const ANN = [EMPLOYEE.user_id];
const ANN_BLOCK = [{ calendar: EMPLOYEE.email, key: '' }];
/** two legs, each on both travellers' calendars */
const TRIP_BLOCKS = [0, 1].flatMap((leg) => [EMPLOYEE, PEER].map((p) => ({ calendar: p.email, key: `${leg}@${p.user_id}` })));

/** What each scenario leaves behind, for --from FROM --to TO (and --peer PEER for a trip). */
const EXPECTED: Record<string, Expected> = {
  'leave.approved': { events: APPROVAL, kind: 'leave', status: 'approved', days: daysOf(ANN, ['1', '1']), blocks: ANN_BLOCK, bareWork: 'held: google' },
  'leave.reverted': { events: [...APPROVAL, 'leave_approval_revert'], kind: 'leave', status: 'reverted', days: [], blocks: ANN_BLOCK, bareWork: 'after a revert' },
  'leave.revert-first': { events: ['leave_approval_revert', ...APPROVAL], kind: 'leave', status: 'reverted', days: [], blocks: [], bareWork: 'none' },
  'leave.half-day': { events: APPROVAL, kind: 'leave', status: 'approved', days: daysOf(ANN, ['0.5', '1']), blocks: ANN_BLOCK, bareWork: 'held: google' },
  'leave.hours': { events: APPROVAL, kind: 'leave', status: 'approved', days: daysOf(ANN, ['4', '4'], 'hour'), blocks: ANN_BLOCK, bareWork: 'held: google' },
  // the request's kind is not known before its form is read
  'leave.pending': { events: ['approval_instance'], kind: null, status: 'pending', days: [], blocks: [], bareWork: 'held: feishu app', needsHolds: true },
  'out.approved': { events: ['out_approval'], kind: 'out', status: 'approved', days: daysOf(ANN, ['1', '1']), blocks: ANN_BLOCK, bareWork: 'held: google' },
  'out.reverted': { events: ['out_approval', 'out_approval_revert'], kind: 'out', status: 'reverted', days: [], blocks: ANN_BLOCK, bareWork: 'after a revert' },
  'overtime.approved': { events: ['work_approval'], kind: 'overtime', status: 'approved', days: daysOf(ANN, ['3', '3'], 'hour'), blocks: [], bareWork: 'none' },
  'trip.approved': { events: [TRIP], kind: 'trip', status: 'approved', days: daysOf([...ANN, PEER.user_id], ['0.5', '1']), blocks: TRIP_BLOCKS, bareWork: 'held: google' },
  'trip.cancelled': { events: [TRIP, 'approval_instance'], kind: 'trip', status: 'reverted', days: [], blocks: TRIP_BLOCKS, bareWork: 'after a revert' },
};

async function recordOf(db: TestDatabase, instanceCode: string) {
  const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, instanceCode));
  const days = await db.db
    .select({ employee_id: attendanceDays.employeeId, date: attendanceDays.date, quantity: attendanceDays.quantity, unit: attendanceDays.unit })
    .from(attendanceDays)
    .where(and(eq(attendanceDays.instanceCode, instanceCode), eq(attendanceDays.status, 'active')))
    .orderBy(asc(attendanceDays.employeeId), asc(attendanceDays.date));
  const rows = await db.db.select().from(outbox).where(eq(outbox.key, instanceCode)).orderBy(asc(outbox.id));
  return {
    leave,
    days: days.map((d) => ({ ...d, date: String(d.date), quantity: String(Number(d.quantity)) })),
    outbox: rows,
  };
}

describe('leave-bridge trigger', { timeout: 180_000 }, () => {
  let plainDb: TestDatabase;
  let fullDb: TestDatabase;
  let google: FakeGoogle;
  let feishu: FakeFeishu;
  let plain: ServeProcess;
  let full: ServeProcess;
  /** what `trigger` needs to reach each service: the same secrets, the admin token, its port */
  let plainEnv: Record<string, string>;
  let fullEnv: Record<string, string>;

  beforeAll(async () => {
    [plainDb, fullDb, google, feishu] = await Promise.all([createPostgresDatabase('lb_trig'), createPostgresDatabase('lb_trig'), startFakeGoogle(), startFakeFeishu()]);
    feishu.addUser(EMPLOYEE);
    feishu.addUser(PEER);
    [plain, full] = await Promise.all([
      startServe({
        DATABASE_URL: plainDb.url!,
        PORT: '0',
        FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
        ADMIN_TOKEN: ADMIN,
        LOG_LEVEL: 'info',
        OUTBOX_POLL_MS: '100',
        CALENDAR_TENTATIVE_HOLDS: 'true',
      }),
      startServe(serveEnv({ databaseUrl: fullDb.url!, google, feishu, extra: { OUTBOX_POLL_MS: '100' } })),
    ]);
    plainEnv = { FEISHU_VERIFICATION_TOKEN: DOC_TOKEN, ADMIN_TOKEN: ADMIN, PORT: String(plain.port) };
    fullEnv = { FEISHU_VERIFICATION_TOKEN: DOC_TOKEN, FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY, ADMIN_TOKEN: ADMIN, PORT: String(full.port), GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson };
  });
  afterAll(async () => {
    await Promise.all([stopServe(plain), stopServe(full)]);
    await Promise.all([plainDb?.close(), fullDb?.close(), google?.close(), feishu?.close()]);
  });

  it('has a scenario for each case the table promises, each with a description', () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual(Object.keys(EXPECTED));
    for (const s of SCENARIOS) expect(s.description.length).toBeGreaterThan(10);
  });

  /** Trigger `name` for EMPLOYEE from FROM to TO (with PEER on a trip): every delivery acknowledged, in Feishu's order. */
  async function deliver(env: Record<string, string>, name: string) {
    const want = EXPECTED[name]!;
    const run = await trigger(env, [name, '--employee', EMPLOYEE.user_id, '--from', FROM, '--to', TO, ...(want.kind === 'trip' ? ['--peer', PEER.user_id] : [])]);
    expect(run.code, run.output).toBe(0);
    // each with an id of its own (a 2.0-schema event's is header.event_id)
    const sent = [...run.output.matchAll(/→ (\S+)\s+(?:uuid|event_id) ([0-9a-f]{32})/g)];
    expect(sent.map((m) => m[1])).toEqual(want.events);
    expect(new Set(sent.map((m) => m[2])).size).toBe(want.events.length);
    expect(run.output.match(/← 200 /g)).toHaveLength(want.events.length);
    return { run, want };
  }

  /** …and it leaves the expected record: kind, status, days per person; the output says so and links to its page. */
  async function scenario(env: Record<string, string>, db: TestDatabase, name: string) {
    const { run, want } = await deliver(env, name);
    const got = await recordOf(db, run.instanceCode);
    expect(got.leave?.kind ?? null).toBe(want.kind);
    expect(got.leave?.status).toBe(want.status);
    expect(got.days).toEqual(want.days);
    expect(run.output).toContain(`record: ${want.status} · ${want.kind ?? 'kind not known yet'}`);
    for (const person of new Set(want.days.map((d) => d.employee_id))) {
      const own = want.days.filter((d) => d.employee_id === person);
      expect(run.output).toContain(`days of ${person}: ${own.map((d) => `${d.date} ${d.quantity} ${d.unit}`).join(', ')}`);
    }
    if (want.days.length === 0) expect(run.output).toContain('days: none');
    // the link is the record's own page, not one that redirects
    const link = /dashboard: (\S+)/.exec(run.output)?.[1];
    const leavePage = want.kind === 'leave' && want.status !== 'pending';
    expect(link).toBe(`http://127.0.0.1:${env.PORT}/dashboard/${leavePage ? 'leaves' : 'approvals'}/${run.instanceCode}`);
    const page = await fetch(link!, { headers: { authorization: `Bearer ${ADMIN}` }, redirect: 'manual' });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(run.instanceCode);
    return { run, want, got };
  }

  /** The fake Google's events of a record, on every calendar of the test. */
  function googleEventsOf(instanceCode: string) {
    return [EMPLOYEE, PEER].flatMap((p) =>
      google
        .events(p.email)
        .map((e) => ({ calendar: p.email, block: blockFromEventId(e.id), status: e.status, eventType: e.eventType }))
        .filter((e) => e.block?.instanceCode === instanceCode)
        .map((e) => ({ calendar: e.calendar, key: e.block!.blockKey, status: e.status, eventType: e.eventType })),
    );
  }

  for (const name of Object.keys(EXPECTED)) {
    it(`${name} without an encrypt key, Google or a Feishu app (tentative holds on): the record, its days, its calendar work held with the reason`, async () => {
      const { run, want, got } = await scenario(plainEnv, plainDb, name);
      expect(run.output).toContain('as plain JSON with the verification token');
      // a trip's event names no approval code; approval_instance does, and may record it
      if (want.kind !== 'trip') expect(got.leave?.approvalCode).toBe(TRIGGER_APPROVAL_CODE);
      if (want.status !== 'pending') expect(got.leave?.employeeId).toBe(EMPLOYEE.user_id);
      if (want.kind === 'leave') expect(got.leave?.hasV1 && got.leave?.hasV2).toBe(true);
      if (want.kind === 'trip') expect(got.leave?.peers).toEqual([PEER.user_id]);
      // nothing reaches Google: an approval's calendar work is held, saying how to enable it
      expect(got.outbox.filter((r) => r.status === 'dead')).toEqual([]);
      const upsert = got.outbox.find((r) => r.kind === 'calendar.upsert');
      switch (want.bareWork) {
        case 'none':
          expect(got.outbox).toEqual([]);
          break;
        case 'held: google':
          expect(upsert?.status).toBe('held');
          expect(upsert?.lastError).toMatch(/GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE/);
          expect(run.output).toMatch(/calendar work #\d+ calendar\.upsert: held \(.*calendar sync is off/);
          expect(run.output).toContain('to enable calendar sync: give the service GOOGLE_SERVICE_ACCOUNT_JSON');
          break;
        case 'held: feishu app':
          // the hold waits for the request's form, which only the Feishu app can read
          expect(upsert?.status).toBe('held');
          expect(upsert?.lastError).toMatch(/tentative holds read the request from the approval API: set FEISHU_APP_ID and FEISHU_APP_SECRET/);
          expect(run.output).toMatch(/calendar work #\d+ calendar\.upsert: held \(.*FEISHU_APP_ID/);
          expect(run.output).toContain("a tentative hold reads the request's form from Feishu's approval API: give the service FEISHU_APP_ID and FEISHU_APP_SECRET");
          expect(run.output).toContain('calendar: none (no tentative hold placed)');
          break;
        case 'after a revert':
          // held, or done with nothing to do when the revert came before the drainer ran it
          expect(upsert === undefined || upsert.status === 'held' || upsert.status === 'done').toBe(true);
          break;
      }
      if (want.kind === 'overtime') expect(run.output).toContain('calendar: none (overtime blocks no calendar)');
    });

    if (EXPECTED[name]!.needsHolds) {
      it(`${name} against a service without tentative holds: ignored, and trigger says how to turn them on`, async () => {
        const { run } = await deliver(fullEnv, name);
        expect(run.output).toMatch(/← 200 \{"code":0,"status":"ignored"\}/);
        expect(run.output).toContain('the service ignored the pending request');
        expect(run.output).toContain('set CALENDAR_TENTATIVE_HOLDS=true on the service and restart it');
        expect(run.output).not.toContain('record:');
        expect(run.output).not.toContain('dashboard:');
        expect(await recordOf(fullDb, run.instanceCode)).toMatchObject({ leave: undefined, days: [], outbox: [] });
      });
      continue;
    }

    it(`${name} encrypted and signed, with Google and a Feishu app: the record and its calendar blocks`, async () => {
      const { run, want, got } = await scenario(fullEnv, fullDb, name);
      expect(run.output).toContain('encrypted and signed with FEISHU_ENCRYPT_KEY');
      // trigger waited for the calendar work to settle: all of it done, none held
      expect(got.outbox.map((r) => r.status).filter((s) => s !== 'done' && s !== 'superseded')).toEqual([]);
      expect(run.output).not.toContain('to enable calendar sync');
      const events = googleEventsOf(run.instanceCode);
      if (want.status === 'approved') {
        expect(events.map(({ calendar, key }) => ({ calendar, key })).sort(byKey)).toEqual([...want.blocks].sort(byKey));
        for (const e of events) expect(e).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
        for (const b of want.blocks) {
          expect(run.output).toContain(`calendar${b.key ? ` ${b.key}` : ''}: present · outOfOffice · ${b.calendar}`);
        }
      } else {
        expect(events.filter((e) => e.status !== 'cancelled')).toEqual([]);
      }
      if (want.kind === 'overtime') expect(events).toEqual([]);
      expect(google.violations).toEqual([]);
    });
  }

  it('defaults to tomorrow in DEFAULT_TIMEZONE for one day, and a trip to a peer of its own', async () => {
    // 20:00 UTC is already 04:00 of the next day in Asia/Shanghai
    const now = () => new Date('2031-03-03T20:00:00Z');
    const run = await trigger(plainEnv, ['leave.approved'], { now });
    expect(run.code, run.output).toBe(0);
    const got = await recordOf(plainDb, run.instanceCode);
    expect(got.days).toEqual([{ employee_id: DEFAULT_EMPLOYEE, date: '2031-03-05', quantity: '1', unit: 'day' }]);
    expect(got.leave?.employeeId).toBe(DEFAULT_EMPLOYEE);

    // one date: one schedule of a whole day, for the requester and the default peer
    const trip = await trigger(plainEnv, ['trip.approved'], { now });
    expect(trip.code, trip.output).toBe(0);
    expect(trip.output).toContain(`employee ${DEFAULT_EMPLOYEE}, peer ${DEFAULT_PEER}, 2031-03-05`);
    const tripRecord = await recordOf(plainDb, trip.instanceCode);
    expect(tripRecord.leave?.segments).toEqual([['2031-03-05 00:00:00', '2031-03-06 00:00:00']]);
    expect(tripRecord.days).toEqual([DEFAULT_EMPLOYEE, DEFAULT_PEER].sort().map((employee_id) => ({ employee_id, date: '2031-03-05', quantity: '1', unit: 'day' })));

    // one date: the docs' example, three hours from 15:00
    const out = await trigger(plainEnv, ['out.approved'], { now });
    expect(out.code, out.output).toBe(0);
    const outRecord = await recordOf(plainDb, out.instanceCode);
    expect(outRecord.leave).toMatchObject({ unit: 'HOUR', startLocal: '2031-03-05 15:00:00', endLocal: '2031-03-05 18:00:00', leaveType: '客户拜访' });
    expect(outRecord.days).toEqual([{ employee_id: DEFAULT_EMPLOYEE, date: '2031-03-05', quantity: '3', unit: 'hour' }]);
  });

  it('a wrong encrypt key gets the service\'s 401, printed with the setting to check; nothing else is sent', async () => {
    const run = await trigger({ ...fullEnv, FEISHU_ENCRYPT_KEY: `${TEST_ENCRYPT_KEY}-other` }, ['leave.approved', '--from', FROM]);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/← 401 \{"error":\{"code":"bad_signature"/);
    expect(run.output).toContain("hint: FEISHU_ENCRYPT_KEY here differs from the service's");
    expect(run.output).toContain('not sent (Feishu holds the events after an unanswered one): leave_approvalV2');
    expect(run.output).not.toContain('dashboard:');
    expect(await recordOf(fullDb, run.instanceCode)).toMatchObject({ leave: undefined, days: [], outbox: [] });
  });

  it('a wrong verification token, and a missing encrypt key, each name their setting', async () => {
    const token = await trigger({ ...fullEnv, FEISHU_VERIFICATION_TOKEN: 'not-the-token' }, ['leave.hours', '--from', FROM]);
    expect(token.code).toBe(1);
    expect(token.output).toMatch(/← 401 .*bad_token/);
    expect(token.output).toContain("hint: FEISHU_VERIFICATION_TOKEN here differs from the service's");
    const { FEISHU_ENCRYPT_KEY: _dropped, ...withoutKey } = fullEnv;
    const plainToEncrypted = await trigger(withoutKey, ['leave.hours', '--from', FROM]);
    expect(plainToEncrypted.code).toBe(1);
    expect(plainToEncrypted.output).toMatch(/← 401 .*missing_signature/);
    expect(plainToEncrypted.output).toContain('hint: the service has FEISHU_ENCRYPT_KEY set and this shell does not');
  });

  it('without ADMIN_TOKEN it still delivers, and says how to see the record and that calendar work is held', async () => {
    const { ADMIN_TOKEN: _dropped, ...env } = plainEnv;
    const run = await trigger(env, ['leave.approved', '--from', FROM]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("record: set ADMIN_TOKEN to the service's value");
    expect(run.output).toContain('to enable calendar sync');
    await waitFor('the leave stored', async () => (await recordOf(plainDb, run.instanceCode)).leave?.status === 'approved');

    // the webhook's answer, not the admin API, says a pending request was ignored
    const { ADMIN_TOKEN: _also, ...fullNoAdmin } = fullEnv;
    const pending = await trigger(fullNoAdmin, ['leave.pending', '--from', FROM]);
    expect(pending.code, pending.output).toBe(0);
    expect(pending.output).toContain('set CALENDAR_TENTATIVE_HOLDS=true on the service');
  });

  it('as a command: exit 0 on success, 1 when the service is not there, 2 for an unknown scenario', async () => {
    const ok = runCli(['trigger', 'leave.approved', '--from', FROM, '--url', `http://127.0.0.1:${plain.port}/webhook/feishu`], { ...plainEnv, PORT: '1' });
    expect((await ok.exited).code, ok.output()).toBe(0);
    expect(ok.output()).toContain('record: approved');

    const nobody = await freePort();
    const down = runCli(['trigger', 'leave.approved', '--url', `http://127.0.0.1:${nobody}/webhook/feishu`], plainEnv);
    expect((await down.exited).code).toBe(1);
    expect(down.output()).toMatch(new RegExp(`could not reach http://127\\.0\\.0\\.1:${nobody}/webhook/feishu: .*ECONNREFUSED`));
    expect(down.output()).toContain('hint: is the service running');

    const unknown = runCli(['trigger', 'leave.nope'], plainEnv);
    expect((await unknown.exited).code).toBe(2);
    for (const s of SCENARIOS) expect(unknown.output()).toContain(s.name);
  });

  it('refuses bad arguments before sending anything', async () => {
    const refusals: Array<[string[], string]> = [
      [[], 'name one scenario'],
      [['leave.approved', '--from', '2031-02-30'], '--from'],
      [['leave.approved', '--from', '2031-03-05', '--to', '2031-03-04'], '--to'],
      [['leave.approved', '--url', 'ftp://x'], '--url must be an http(s) URL'],
      [['leave.approved', '--bogus'], "Unknown option '--bogus'"],
      [['leave.approved', '--peer', PEER.user_id], '--peer is for the trip scenarios (trip.approved, trip.cancelled)'],
      [['trip.approved', '--peer', 'two words'], '--peer must be a Feishu user_id'],
      [['trip.cancelled', '--peer', DEFAULT_EMPLOYEE], '--peer must be someone other than the employee'],
    ];
    for (const [args, message] of refusals) {
      const run = await trigger(plainEnv, args);
      expect(run.code, JSON.stringify(args)).toBe(2);
      expect(run.output).toContain(message);
      expect(run.output).toContain('usage: leave-bridge trigger');
      expect(run.output).not.toContain('→');
    }
    const { FEISHU_VERIFICATION_TOKEN: _dropped, ...noToken } = plainEnv;
    expect((await trigger(noToken, ['leave.approved'])).code).toBe(78);
  });
});

describe('leave-bridge trigger, the record as the admin API answers it', () => {
  /** A service that acknowledges every delivery and answers the admin API with `record` and `work`. */
  const service =
    (record: unknown, work: unknown[]): typeof fetch =>
    async (input) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === '/webhook/feishu') return Response.json({ code: 0, status: 'applied' });
      if (url.pathname === '/api/outbox') return Response.json({ items: work });
      if (url.pathname.startsWith('/api/approvals/')) return Response.json(record);
      return Response.json({ error: { code: 'not_found' } }, { status: 404 });
    };
  const env = { FEISHU_VERIFICATION_TOKEN: DOC_TOKEN, ADMIN_TOKEN: ADMIN, PORT: '1' };

  it("says which held row a pending one waits for, and not that the drainer will run it", async () => {
    const record = { instance_code: 'X', kind: 'leave', status: 'reverted', days: [], calendar: { blocks: [] } };
    const work = [
      { id: 8, kind: 'calendar.delete', status: 'pending', run_after: new Date().toISOString(), last_error: null, result: null },
      { id: 7, kind: 'calendar.upsert', status: 'held', run_after: null, last_error: '[configuration] calendar sync is off: no Google service account configured (GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE)', result: null },
    ];
    const run = await trigger(env, ['leave.reverted', '--from', FROM], { fetch: service(record, work), settleMs: 0 });
    expect(run.code, run.output).toBe(0);
    // the admin API lists the newest row first; a record's work runs oldest first
    expect(run.output).toMatch(/#7 calendar\.upsert: held[^\n]*\n {2}calendar work #8 calendar\.delete: pending \(waits for #7: a record's work runs in order\)/);
    expect(run.output).toContain('to enable calendar sync');
    expect(run.output).not.toContain('pending work runs when the service drains its outbox');
    expect(run.output).toContain('record: reverted · leave');
    expect(run.output).toContain(`dashboard: http://127.0.0.1:1/dashboard/leaves/${run.instanceCode}`);
  });

  it('a record the admin API does not know, and an answer of a shape it does not know, are said as such', async () => {
    const missing: typeof fetch = async (input) => {
      const url = new URL(String(input));
      if (url.pathname === '/webhook/feishu') return Response.json({ code: 0, status: 'applied' });
      if (url.pathname === '/api/outbox') return Response.json({ items: [] });
      return Response.json({ error: { code: 'approval_not_found', message: 'no approval with that instance_code' } }, { status: 404 });
    };
    const none = await trigger(env, ['out.approved', '--from', FROM], { fetch: missing, settleMs: 0 });
    expect(none.output).toContain('record: none (the service made no record of this instance)');
    expect(none.output).toContain(`dashboard: http://127.0.0.1:1/dashboard/approvals/${none.instanceCode}`);
    const odd = await trigger(env, ['out.approved', '--from', FROM], { fetch: service({ unexpected: true }, []), settleMs: 0 });
    expect(odd.output).toMatch(/record: http:\/\/127\.0\.0\.1:1\/api\/approvals\/[0-9A-F-]{36} answered a shape this trigger does not know/);
  });
});

/** A JSON value's shape: its objects' keys and its leaves' types, an array by its first element. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, shape(v)]));
  }
  return value === null ? 'null' : typeof value;
}

/** The documented example's shape (the fixtures parse as the webhook does: leniently). */
const exampleShape = (text: string) => shape(parseJsonLenient(text));
const builtShape = (e: { body: string }) => shape(JSON.parse(e.body));

describe("the trigger's events have the shape of Feishu's documented examples", () => {
  const common = { token: DOC_TOKEN, instanceCode: 'INST', approvalCode: 'APPROVAL' };
  const ann = { userId: 'u_ann', openId: 'ou_ann', unionId: 'on_ann' };
  const leave = { ...common, employeeId: 'u_ann', openId: 'ou_ann', leaveName: '事假', unit: 'HALF_DAY' as const, start: '2024-09-05 12:00:00', end: '2024-09-07 00:00:00', intervalSeconds: 129600 };

  it('leave_approval, leave_approvalV2 and leave_approval_revert', () => {
    expect(builtShape(build.leaveApprovalV1(leave))).toEqual(exampleShape(FIXTURES.leaveApproval));
    expect(builtShape(build.leaveApprovalV2(leave))).toEqual(exampleShape(FIXTURES.leaveApprovalV2));
    expect(builtShape(build.leaveApprovalRevert(common))).toEqual(exampleShape(FIXTURES.leaveApprovalRevert));
  });

  it('out_approval (i18n_resources a list of JSON strings) and out_approval_revert', () => {
    const out = build.outApproval({ ...common, employeeId: 'u_ann', openId: 'ou_ann', outName: '外出', unit: 'HOUR', start: '2020-05-15 15:00:00', end: '2020-05-15 18:00:00', intervalSeconds: 10800 });
    expect(builtShape(out)).toEqual(exampleShape(KIND_FIXTURES.out));
    const resources = (JSON.parse(out.body) as { event: { i18n_resources: string[]; out_name: string } }).event;
    expect(JSON.parse(resources.i18n_resources[0]!)).toEqual({ is_default: true, locale: 'zh_cn', texts: { [resources.out_name]: '外出' } });
    expect(builtShape(build.approvalRevert('out_approval_revert', common))).toEqual(exampleShape(KIND_FIXTURES.outRevert));
  });

  it('work_approval with time_range and work_detail, and work_approval_revert', () => {
    const work = build.workApproval({
      ...common,
      employeeId: 'u_ann',
      openId: 'ou_ann',
      workType: 'weekday',
      start: '2018-12-01 12:00:00',
      end: '2018-12-02 12:00:00',
      intervalSeconds: 7200,
      detail: [{ start: '2018-12-01 00:00', end: '2018-12-01 00:00', intervalSeconds: 43200 }],
    });
    expect(builtShape(work)).toEqual(exampleShape(KIND_FIXTURES.work));
    expect(builtShape(build.approvalRevert('work_approval_revert', common))).toEqual(exampleShape(KIND_FIXTURES.workRevert));
  });

  it('approval.instance.trip_group_update_v4: 2.0 schema, the token in header, intervals as strings', () => {
    const trip = build.tripGroupUpdate({
      token: DOC_TOKEN,
      instanceCode: 'INST',
      requester: ann,
      schedules: [{ start: '2022-08-25 12:00:00', end: '2022-09-01 00:00:00', intervalSeconds: 561600, departureId: 'd1', destinationIds: ['d2'] }],
      peers: [{ userId: 'u_bob', openId: 'ou_bob', unionId: 'on_bob' }],
    });
    expect(builtShape(trip)).toEqual(exampleShape(KIND_FIXTURES.trip));
    expect(trip).toMatchObject({ eventType: 'approval.instance.trip_group_update_v4', keyName: 'event_id' });
    expect(JSON.parse(trip.body)).toMatchObject({ header: { token: DOC_TOKEN, event_id: trip.uuid }, event: { object: { trip_interval: '561600' } } });
  });

  it('approval_instance: operate_time in milliseconds as a string, an integer for REVERTED', () => {
    const pending = build.approvalInstance({ ...common, status: 'PENDING', operateTime: new Date(1666079207003), createUuid: '6525bffb' });
    expect(builtShape(pending)).toEqual(exampleShape(FIXTURES.approvalInstance));
    expect(JSON.parse(pending.body)).toMatchObject({ event: { operate_time: '1666079207003', instance_operate_time: '1666079207003' } });
    const reverted = build.approvalInstance({ ...common, status: 'REVERTED', operateTime: new Date(1666079207003) });
    expect(JSON.parse(reverted.body)).toMatchObject({ event: { operate_time: 1666079207003 } });
  });
});
