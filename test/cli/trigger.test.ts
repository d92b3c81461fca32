import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerCommand, TRIGGER_APPROVAL_CODE } from '../../src/cli/trigger.js';
import { SCENARIOS } from '../../src/cli/trigger/scenarios.js';
import { loadConfig } from '../../src/config.js';
import { attendanceDays, leaves, outbox } from '../../src/db/schema.js';
import { eventIdFor } from '../../src/google/ids.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { ADMIN } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { serveEnv, startServe, stopServe, type ServeProcess } from '../support/drainer-process.js';
import { DOC_TOKEN, TEST_ENCRYPT_KEY } from '../support/feishu.js';
import { freePort, runCli, waitFor } from '../support/process.js';

/*
 * `leave-bridge trigger` against real `serve` processes: one as `npm start` comes up (no encrypt
 * key, no Google, no Feishu app), one set up fully (encrypt key, the fake Google and Feishu). Each
 * scenario must end in the record it describes.
 */

const EMPLOYEE = { user_id: 'u_trigger_ann', email: 'ann@trigger.example.com' };

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
  return { code, output, instanceCode: /leave ([0-9A-F-]{36}),/.exec(output)?.[1] ?? '' };
}

interface Expected {
  /** the event types sent, in order */
  events: string[];
  status: 'approved' | 'reverted';
  days: Array<{ date: string; quantity: string; unit: string }>;
}

const APPROVAL = ['leave_approval', 'leave_approvalV2'];

const FROM = '2031-03-04';
const TO = '2031-03-05';
/** What each scenario leaves behind, for --from FROM --to TO. */
const EXPECTED: Record<string, Expected> = {
  'leave.approved': {
    events: APPROVAL,
    status: 'approved',
    days: [
      { date: FROM, quantity: '1', unit: 'day' },
      { date: TO, quantity: '1', unit: 'day' },
    ],
  },
  'leave.reverted': { events: [...APPROVAL, 'leave_approval_revert'], status: 'reverted', days: [] },
  'leave.revert-first': { events: ['leave_approval_revert', ...APPROVAL], status: 'reverted', days: [] },
  'leave.half-day': {
    events: APPROVAL,
    status: 'approved',
    days: [
      { date: FROM, quantity: '0.5', unit: 'day' },
      { date: TO, quantity: '1', unit: 'day' },
    ],
  },
  'leave.hours': {
    events: APPROVAL,
    status: 'approved',
    days: [
      { date: FROM, quantity: '4', unit: 'hour' },
      { date: TO, quantity: '4', unit: 'hour' },
    ],
  },
};

async function recordOf(db: TestDatabase, instanceCode: string) {
  const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, instanceCode));
  const days = await db.db
    .select({ date: attendanceDays.date, quantity: attendanceDays.quantity, unit: attendanceDays.unit })
    .from(attendanceDays)
    .where(and(eq(attendanceDays.instanceCode, instanceCode), eq(attendanceDays.status, 'active')))
    .orderBy(asc(attendanceDays.date));
  const rows = await db.db.select().from(outbox).where(eq(outbox.key, instanceCode)).orderBy(asc(outbox.id));
  return {
    leave,
    days: days.map((d) => ({ date: String(d.date), quantity: String(Number(d.quantity)), unit: d.unit })),
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
    [plain, full] = await Promise.all([
      startServe({ DATABASE_URL: plainDb.url!, PORT: '0', FEISHU_VERIFICATION_TOKEN: DOC_TOKEN, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'info', OUTBOX_POLL_MS: '100' }),
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

  /** Trigger `name` for EMPLOYEE from FROM to TO: it succeeds and leaves the expected status and days. */
  async function scenario(env: Record<string, string>, db: TestDatabase, name: string) {
    const run = await trigger(env, [name, '--employee', EMPLOYEE.user_id, '--from', FROM, '--to', TO]);
    expect(run.code, run.output).toBe(0);
    const want = EXPECTED[name]!;
    const got = await recordOf(db, run.instanceCode);
    expect(got.leave?.status).toBe(want.status);
    expect(got.days).toEqual(want.days);
    // every delivery acknowledged, each with a uuid of its own, in Feishu's order
    const sent = [...run.output.matchAll(/→ (\S+)\s+uuid ([0-9a-f]{32})/g)];
    expect(sent.map((m) => m[1])).toEqual(want.events);
    expect(new Set(sent.map((m) => m[2])).size).toBe(want.events.length);
    expect(run.output.match(/← 200 /g)).toHaveLength(want.events.length);
    return { run, want, got };
  }

  for (const name of Object.keys(EXPECTED)) {
    it(`${name} without an encrypt key or Google: the record, its days, its calendar work held with the reason`, async () => {
      const { run, want, got } = await scenario(plainEnv, plainDb, name);
      expect(run.output).toContain('as plain JSON with the verification token');
      expect(got.leave?.approvalCode).toBe(TRIGGER_APPROVAL_CODE);
      expect(got.leave?.employeeId).toBe(EMPLOYEE.user_id);
      expect(got.leave?.hasV1 && got.leave?.hasV2).toBe(true);
      expect(run.output).toContain(`dashboard: http://127.0.0.1:${plain.port}/dashboard/leaves/${run.instanceCode}`);
      expect(run.output).toContain(`record: ${want.status}`);
      // nothing reaches Google: an approval's calendar work is held, saying how to enable it
      expect(got.outbox.filter((r) => r.status === 'dead')).toEqual([]);
      if (name === 'leave.revert-first') {
        expect(got.outbox).toEqual([]);
      } else {
        const upsert = got.outbox.find((r) => r.kind === 'calendar.upsert');
        if (name !== 'leave.reverted') {
          expect(upsert?.status).toBe('held');
          expect(upsert?.lastError).toMatch(/GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE/);
          expect(run.output).toMatch(/calendar work #\d+ calendar\.upsert: held \(.*calendar sync is off/);
          expect(run.output).toContain('to enable calendar sync: give the service GOOGLE_SERVICE_ACCOUNT_JSON');
        }
      }
    });

    it(`${name} encrypted and signed, with Google: the record and its calendar block`, async () => {
      const { run, want, got } = await scenario(fullEnv, fullDb, name);
      expect(run.output).toContain('encrypted and signed with FEISHU_ENCRYPT_KEY');
      // trigger waited for the calendar work to settle: all of it done, none held
      expect(got.outbox.map((r) => r.status).filter((s) => s !== 'done' && s !== 'superseded')).toEqual([]);
      expect(run.output).not.toContain('to enable calendar sync');
      const event = google.event(EMPLOYEE.email, eventIdFor(run.instanceCode));
      if (want.status === 'approved') {
        expect(event?.status).toBe('confirmed');
        expect(event?.eventType).toBe('outOfOffice');
        expect(run.output).toMatch(/calendar: present · outOfOffice · ann@trigger\.example\.com/);
      } else {
        expect(event === undefined || event.status === 'cancelled').toBe(true);
      }
    });
  }

  it('defaults to tomorrow in DEFAULT_TIMEZONE for one day', async () => {
    // 20:00 UTC is already 04:00 of the next day in Asia/Shanghai
    const run = await trigger(plainEnv, ['leave.approved'], { now: () => new Date('2031-03-03T20:00:00Z') });
    expect(run.code, run.output).toBe(0);
    const got = await recordOf(plainDb, run.instanceCode);
    expect(got.days).toEqual([{ date: '2031-03-05', quantity: '1', unit: 'day' }]);
    expect(got.leave?.employeeId).toBe('leave_bridge_trigger');
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
    for (const args of [[], ['leave.approved', '--from', '2031-02-30'], ['leave.approved', '--from', '2031-03-05', '--to', '2031-03-04'], ['leave.approved', '--url', 'ftp://x'], ['leave.approved', '--bogus']]) {
      const run = await trigger(plainEnv, args);
      expect(run.code, JSON.stringify(args)).toBe(2);
      expect(run.output).toContain('usage: leave-bridge trigger');
    }
    const { FEISHU_VERIFICATION_TOKEN: _dropped, ...noToken } = plainEnv;
    expect((await trigger(noToken, ['leave.approved'])).code).toBe(78);
  });
});
