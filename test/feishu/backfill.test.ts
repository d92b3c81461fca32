import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxEvents, leaves, outbox } from '../../src/db/schema.js';
import { backfill, creationRange, startPeriodicBackfill, type BackfillReport } from '../../src/feishu/backfill.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { leaveFromInstance } from '../../src/feishu/form.js';
import { getLeave } from '../../src/leave/queries.js';
import { silentLogger } from '../../src/logger.js';
import { ExternalError, type FeishuInstance } from '../../src/ports.js';
import { freePort, runCli, waitFor } from '../support/process.js';
import { leaveGroupForm, leaveGroupV2Form, startFakeFeishu, type FakeFeishu, type FakeInstance } from '../fakes/feishu.js';
import { testApp, testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1, leaveApprovalV2 } from '../support/feishu.js';

const run = promisify(execFile);
const FAST = { retries: 2, minTimeout: 1, maxTimeout: 5 };
/** 2024-09-0x at a given Shanghai hour, as epoch ms */
const shanghai = (day: number, hour = 10, minute = 0) => Date.UTC(2024, 8, day, hour - 8, minute);

describe('the leave widget of an instance form (shapes from the instance get/create pages)', () => {
  const inst = (form: unknown, extra: Partial<FeishuInstance> = {}): FeishuInstance => ({
    instanceCode: 'I-1',
    approvalCode: 'A-1',
    status: 'APPROVED',
    reverted: false,
    userId: 'u_alice',
    openId: 'ou_alice',
    form: typeof form === 'string' ? form : JSON.stringify(form),
    startTimeMs: null,
    endTimeMs: null,
    ...extra,
  });
  const zone = 'Asia/Shanghai';

  it('reads leaveGroupV2 (value object, or value as a JSON string, or type widgetLeaveGroupV2 as the docs example writes)', () => {
    const value = { name: '年假', start: '2024-09-05T09:00:00+08:00', end: '2024-09-06T18:00:00+08:00', interval: 1.5, unit: 'DAY', reason: 'trip' };
    const expected = {
      kind: 'approve',
      variant: 'backfill',
      instanceCode: 'I-1',
      approvalCode: 'A-1',
      employeeId: 'u_alice',
      openId: 'ou_alice',
      leaveType: '年假',
      unit: 'DAY',
      intervalSeconds: 129600,
      startLocal: '2024-09-05 09:00:00',
      endLocal: '2024-09-06 18:00:00',
      segments: [['2024-09-05 09:00:00', '2024-09-06 18:00:00']],
      segmentsSource: 'start_end',
      reason: 'trip',
    };
    expect(leaveFromInstance(inst([{ id: 'w', type: 'leaveGroupV2', value }]), zone)).toMatchObject(expected);
    expect(leaveFromInstance(inst([{ id: 'w', type: 'leaveGroupV2', value: JSON.stringify(value) }]), zone)).toMatchObject(expected);
    expect(leaveFromInstance(inst([{ id: 'w', type: 'widgetLeaveGroupV2', value }]), zone)).toMatchObject(expected);
    // an hour leave: interval counts hours; the form's wall clock is kept even in another offset
    expect(leaveFromInstance(inst([{ type: 'leaveGroupV2', value: { ...value, start: '2024-09-05T14:00:00+09:00', end: '2024-09-05T16:30:00+09:00', interval: 2.5, unit: 'HOUR' } }]), zone)).toMatchObject({
      unit: 'HOUR',
      intervalSeconds: 9000,
      startLocal: '2024-09-05 14:00:00',
      endLocal: '2024-09-05 16:30:00',
    });
  });

  it('reads leaveGroup (days, no unit), the create-page sub-widget list, and places Z / epoch times in the zone', () => {
    expect(leaveFromInstance(inst([{ type: 'leaveGroup', value: { name: 'annual leave', start: '2019-10-01T00:00:00+08:00', end: '2019-10-02T00:0:00+08:00', interval: 1.0 } }]), zone)).toMatchObject({
      unit: 'DAY',
      intervalSeconds: 86400,
      startLocal: '2019-10-01 00:00:00',
      endLocal: '2019-10-02 00:00:00',
    });
    const sub = (extra: unknown[]) => [
      {
        id: 'widgetLeaveGroupV2',
        type: 'leaveGroupV2',
        value: [
          { id: 'widgetLeaveGroupType', type: 'radioV2', value: 'Sick leave' },
          { id: 'widgetLeaveGroupStartTime', type: 'date', value: '2024-09-05T01:00:00Z' },
          { id: 'widgetLeaveGroupEndTime', type: 'date', value: Date.UTC(2024, 8, 5, 10) },
          { id: 'widgetLeaveGroupReason', type: 'textarea', value: 'flu' },
          ...extra,
        ],
      },
    ];
    expect(leaveFromInstance(inst(sub([{ id: 'widgetLeaveGroupInterval', value: 1 }])), zone)).toMatchObject({
      leaveType: 'Sick leave',
      reason: 'flu',
      startLocal: '2024-09-05 09:00:00',
      endLocal: '2024-09-05 18:00:00',
      intervalSeconds: 86400,
    });
    expect(() => leaveFromInstance(inst(sub([])), zone)).toThrow(/interval/);
  });

  it('no leave widget → null; unusable ones → LeaveFormError with the reason', () => {
    expect(leaveFromInstance(inst([{ id: 'w', type: 'input', value: 'x' }]), zone)).toBeNull();
    const v = { start: '2024-09-06T00:00:00+08:00', end: '2024-09-05T00:00:00+08:00', interval: 1 };
    expect(() => leaveFromInstance(inst([{ type: 'leaveGroupV2', value: v }]), zone)).toThrow(/ends before it starts/);
    expect(() => leaveFromInstance(inst([{ type: 'leaveGroupV2', value: { ...v, unit: 'WEEK' } }]), zone)).toThrow(/unit/);
    expect(() => leaveFromInstance(inst([{ type: 'leaveGroupV2', value: { ...v, end: '2024-09-07T00:00:00+08:00' } }], { userId: null }), zone)).toThrow(/user_id/);
    expect(() => leaveFromInstance(inst('{oops'), zone)).toThrow(/not JSON/);
  });
});

describe('backfill from the approval instance API (Postgres, fake Feishu, real SDK)', () => {
  let db: TestDatabase;
  let fake: FakeFeishu;
  let t: ReturnType<typeof testApp>;

  const instance = (i: Partial<FakeInstance> & Pick<FakeInstance, 'instance_code' | 'form'>): void =>
    fake.addInstance({ approval_code: 'APPROVAL-BF', status: 'APPROVED', user_id: 'u_alice', open_id: 'ou_alice', createdMs: shanghai(2), ...i });

  const counts = async () => ({
    inbox: (await db.db.select({ id: inboxEvents.id }).from(inboxEvents)).length,
    outbox: (await db.db.select({ id: outbox.id }).from(outbox)).length,
    leaves: (await db.db.select({ c: leaves.instanceCode }).from(leaves)).length,
  });

  beforeAll(async () => {
    db = await createPostgresDatabase();
    fake = await startFakeFeishu({ pageSize: 3 });
    const feishu = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger, retry: FAST });
    t = testApp(db, { feishu });

    instance({ instance_code: 'BF-FULL', form: leaveGroupV2Form({ start: '2024-09-05T00:00:00+08:00', end: '2024-09-07T00:00:00+08:00', interval: 2, name: 'Annual leave' }) });
    instance({ instance_code: 'BF-HALF', user_id: 'u_bob', open_id: 'ou_bob', form: leaveGroupV2Form({ start: '2024-09-10T09:00:00+08:00', end: '2024-09-10T12:00:00+08:00', interval: 0.5 }) });
    instance({ instance_code: 'BF-HOUR', form: leaveGroupV2Form({ start: '2024-09-11T14:00:00+08:00', end: '2024-09-11T18:00:00+08:00', interval: 4, unit: 'HOUR', name: 'Sick leave' }) });
    instance({ instance_code: 'BF-OLD', form: leaveGroupForm({ start: '2024-09-12T00:00:00+08:00', end: '2024-09-13T00:00:00+08:00', interval: 1, name: 'Personal leave' }) });
    // the first minute of 2024-09-01 in Shanghai is still 2024-08-31 in UTC: inside the range
    instance({ instance_code: 'BF-EARLY', createdMs: shanghai(1, 0, 30), form: leaveGroupV2Form({ start: '2024-09-16T00:00:00+08:00', end: '2024-09-17T00:00:00+08:00', interval: 1 }) });
    instance({ instance_code: 'BF-PENDING', status: 'PENDING', form: leaveGroupV2Form({ start: '2024-09-18T00:00:00+08:00', end: '2024-09-19T00:00:00+08:00', interval: 1 }) });
    instance({ instance_code: 'BF-REJECTED', status: 'REJECTED', form: leaveGroupV2Form({ start: '2024-09-18T00:00:00+08:00', end: '2024-09-19T00:00:00+08:00', interval: 1 }) });
    instance({ instance_code: 'BF-NOLEAVE', form: JSON.stringify([{ id: 'widget1', name: 'Amount', type: 'amount', value: 12.5 }]) });
    instance({ instance_code: 'BF-BROKEN', form: leaveGroupV2Form({ start: 'next tuesday', end: '2024-09-19T00:00:00+08:00', interval: 1 }) });
    // outside 2024-09-01..2024-09-03 (Shanghai): never listed
    instance({ instance_code: 'BF-BEFORE', createdMs: Date.UTC(2024, 7, 31, 23 - 8, 30), form: leaveGroupV2Form({ start: '2024-09-20T00:00:00+08:00', end: '2024-09-21T00:00:00+08:00', interval: 1 }) });
    instance({ instance_code: 'BF-AFTER', createdMs: shanghai(4, 0, 0), form: leaveGroupV2Form({ start: '2024-09-20T00:00:00+08:00', end: '2024-09-21T00:00:00+08:00', interval: 1 }) });
  });
  afterAll(async () => {
    await fake?.close();
    await db?.close();
  });

  it('turns local dates into a creation-time range in DEFAULT_TIMEZONE', () => {
    expect(creationRange('2024-09-01', '2024-09-03', 'Asia/Shanghai')).toEqual({ startMs: shanghai(1, 0), endMs: shanghai(4, 0) - 1 });
    expect(() => creationRange('2024-09-03', '2024-09-01', 'Asia/Shanghai')).toThrow(/before/);
    expect(() => creationRange('2024-9-1', '2024-09-01', 'Asia/Shanghai')).toThrow(/from/);
  });

  it('makes leaves with the right attendance days; skips and reports the rest', async () => {
    const first = await backfill(t.deps, { approvalCode: 'APPROVAL-BF', from: '2024-09-01', to: '2024-09-03' });
    expect(first).toMatchObject({ listed: 9, approved: 5, reverted: 0, skipped: 3, unchanged: 0 });
    expect(first.items.map((i) => i.instanceCode)).not.toContain('BF-BEFORE');
    expect(first.items.map((i) => i.instanceCode)).not.toContain('BF-AFTER');
    expect(first.errors).toEqual([{ instanceCode: 'BF-BROKEN', message: expect.stringContaining('not an RFC3339 time') }]);
    const skipped = Object.fromEntries(first.items.filter((i) => i.outcome === 'skipped').map((i) => [i.instanceCode, i.detail]));
    expect(skipped).toEqual({
      'BF-PENDING': expect.stringContaining('PENDING'),
      'BF-REJECTED': expect.stringContaining('REJECTED'),
      'BF-NOLEAVE': 'the form has no leave widget',
    });

    const full = await getLeave(db.db, 'BF-FULL');
    expect(full).toMatchObject({ status: 'approved', employee_id: 'u_alice', leave_type: 'Annual leave', unit: 'DAY', detail_source: 'backfill', start: '2024-09-05 00:00:00', end: '2024-09-07 00:00:00' });
    expect(full!.days).toEqual([
      { date: '2024-09-05', quantity: '1', unit: 'day' },
      { date: '2024-09-06', quantity: '1', unit: 'day' },
    ]);
    expect(full!.outbox.map((m) => m.kind)).toEqual(['calendar.upsert']);
    expect((await getLeave(db.db, 'BF-HALF'))!.days).toEqual([{ date: '2024-09-10', quantity: '0.5', unit: 'day' }]);
    expect((await getLeave(db.db, 'BF-HALF'))!.employee_id).toBe('u_bob');
    expect((await getLeave(db.db, 'BF-HOUR'))!.days).toEqual([{ date: '2024-09-11', quantity: '4', unit: 'hour' }]);
    expect((await getLeave(db.db, 'BF-OLD'))).toMatchObject({ leave_type: 'Personal leave', days: [{ date: '2024-09-12', quantity: '1', unit: 'day' }] });
    expect((await getLeave(db.db, 'BF-EARLY'))!.days).toEqual([{ date: '2024-09-16', quantity: '1', unit: 'day' }]);
    for (const code of ['BF-PENDING', 'BF-REJECTED', 'BF-NOLEAVE', 'BF-BROKEN']) expect(await getLeave(db.db, code)).toBeNull();
  });

  it('running it twice changes nothing', async () => {
    const before = await counts();
    const again = await backfill(t.deps, { approvalCode: 'APPROVAL-BF', from: '2024-09-01', to: '2024-09-03' });
    expect(again).toMatchObject({ listed: 9, approved: 0, reverted: 0, skipped: 3, unchanged: 5 });
    expect(again.errors.map((e) => e.instanceCode)).toEqual(['BF-BROKEN']);
    expect(await counts()).toEqual(before);
  });

  it('after the webhook events (V1+V2, or V1 only) it changes nothing: one leave, same days, no outbox rows', async () => {
    const send = async (body: string) => expect((await t.post(await encryptedRequest(body))).status).toBe(200);
    await send(leaveApprovalV1({ instanceCode: 'WH-BOTH', employeeId: 'u_carol', openId: 'ou_carol', start: '2024-09-23 09:00:00', end: '2024-09-24 18:00:00', interval: 2 * 86400 }));
    await send(leaveApprovalV2({ instanceCode: 'WH-BOTH', employeeId: 'u_carol', openId: 'ou_carol', start: '2024-09-23 09:00:00', end: '2024-09-24 18:00:00', interval: 2 * 86400 }));
    // a half day: V1 says HALF_DAY, the form can only say DAY 0.5
    await send(leaveApprovalV1({ instanceCode: 'WH-V1', employeeId: 'u_carol', start: '2024-09-25 09:00:00', end: '2024-09-25 12:00:00', interval: 43200, unit: 'HALF_DAY' }));
    const form = (start: string, end: string, interval: number) => leaveGroupV2Form({ start, end, interval, name: 'Annual leave (form)' });
    fake.addInstance({ instance_code: 'WH-BOTH', approval_code: 'APPROVAL-WH', status: 'APPROVED', user_id: 'u_carol', createdMs: shanghai(20), form: form('2024-09-23T09:00:00+08:00', '2024-09-24T18:00:00+08:00', 2) });
    fake.addInstance({ instance_code: 'WH-V1', approval_code: 'APPROVAL-WH', status: 'APPROVED', user_id: 'u_carol', createdMs: shanghai(20, 11), form: form('2024-09-25T09:00:00+08:00', '2024-09-25T12:00:00+08:00', 0.5) });

    const before = { both: await getLeave(db.db, 'WH-BOTH'), v1: await getLeave(db.db, 'WH-V1'), counts: await counts() };
    const report = await backfill(t.deps, { approvalCode: 'APPROVAL-WH', from: '2024-09-20', to: '2024-09-20' });
    expect(report).toMatchObject({ listed: 2, approved: 0, unchanged: 2, errors: [] });
    const after = { both: await getLeave(db.db, 'WH-BOTH'), v1: await getLeave(db.db, 'WH-V1'), counts: await counts() };
    for (const k of ['both', 'v1'] as const) {
      expect(after[k]!.days).toEqual(before[k]!.days);
      expect(after[k]!.days_history).toEqual(before[k]!.days_history);
      expect(after[k]!.outbox).toEqual(before[k]!.outbox);
      expect(after[k]).toMatchObject({ unit: before[k]!.unit, leave_type: before[k]!.leave_type, detail_source: before[k]!.detail_source, start: before[k]!.start });
    }
    expect(after.v1!.unit).toBe('HALF_DAY');
    expect(after.counts).toEqual({ ...before.counts, inbox: before.counts.inbox + 2 });
  });

  it('a REVERTED instance ends reverted, and a missed revert of a known leave is applied', async () => {
    fake.addInstance({ instance_code: 'REV-NEW', approval_code: 'APPROVAL-REV', status: 'REVERTED', user_id: 'u_dave', createdMs: shanghai(3), form: leaveGroupV2Form({ start: '2024-09-26T00:00:00+08:00', end: '2024-09-27T00:00:00+08:00', interval: 1 }) });
    // approved by webhook; Feishu's instance now shows the reverted flag (the revert event never came)
    await t.post(await encryptedRequest(leaveApprovalV2({ instanceCode: 'REV-KNOWN', employeeId: 'u_dave', start: '2024-09-27 00:00:00', end: '2024-09-28 00:00:00', interval: 86400 })));
    expect((await getLeave(db.db, 'REV-KNOWN'))!.status).toBe('approved');
    fake.addInstance({ instance_code: 'REV-KNOWN', approval_code: 'APPROVAL-REV', status: 'APPROVED', reverted: true, user_id: 'u_dave', createdMs: shanghai(3, 12), form: leaveGroupV2Form({ start: '2024-09-27T00:00:00+08:00', end: '2024-09-28T00:00:00+08:00', interval: 1 }) });

    const report = await backfill(t.deps, { approvalCode: 'APPROVAL-REV', from: '2024-09-03', to: '2024-09-03' });
    expect(report).toMatchObject({ listed: 2, reverted: 2, approved: 0, errors: [] });
    for (const code of ['REV-NEW', 'REV-KNOWN']) {
      const leave = await getLeave(db.db, code);
      expect(leave).toMatchObject({ status: 'reverted', days: [] });
      expect(leave!.days_history.every((d) => d.status === 'reverted')).toBe(true);
      expect(leave!.outbox.map((m) => m.kind)).toContain('calendar.delete');
    }
    const again = await backfill(t.deps, { approvalCode: 'APPROVAL-REV', from: '2024-09-03', to: '2024-09-03' });
    expect(again).toMatchObject({ listed: 2, reverted: 0, unchanged: 2 });
  });

  it('stops with a configuration error on bad credentials', async () => {
    const feishu = createFeishuClient({ appId: fake.appId, appSecret: 'wrong-secret-123456', baseUrl: fake.url, logger: silentLogger, retry: FAST });
    const bad = testApp(db, { feishu });
    const err = await backfill(bad.deps, { approvalCode: 'APPROVAL-BF', from: '2024-09-01', to: '2024-09-03' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExternalError);
    expect(err).toMatchObject({ failure: 'configuration' });
  });

  it('periodic backfill covers yesterday and today (local dates in DEFAULT_TIMEZONE) for each configured code', async () => {
    fake.addInstance({ instance_code: 'PER-1', approval_code: 'APPROVAL-PER', status: 'APPROVED', user_id: 'u_erin', createdMs: shanghai(9, 15), form: leaveGroupV2Form({ start: '2024-09-30T00:00:00+08:00', end: '2024-10-01T00:00:00+08:00', interval: 1 }) });
    fake.addInstance({ instance_code: 'PER-OLD', approval_code: 'APPROVAL-PER', status: 'APPROVED', user_id: 'u_erin', createdMs: shanghai(7, 15), form: leaveGroupV2Form({ start: '2024-09-30T00:00:00+08:00', end: '2024-10-01T00:00:00+08:00', interval: 1 }) });
    const config = testConfig({ BACKFILL_INTERVAL: '1h', BACKFILL_APPROVAL_CODES: 'APPROVAL-PER, APPROVAL-NONE' });
    fake.addApproval('APPROVAL-NONE');
    const listsBefore = fake.calls('instance.list');
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    const lastCode = (msg: string, f?: Record<string, unknown>) => {
      if (msg.startsWith('periodic backfill') && f?.approvalCode === 'APPROVAL-NONE') done();
    };
    const logger = { ...silentLogger, info: lastCode, warn: lastCode, error: lastCode };
    const stop = startPeriodicBackfill({ ...t.deps, config, logger, clock: { now: () => new Date(shanghai(10, 9)) } }, config);
    await finished;
    await stop();
    expect((await getLeave(db.db, 'PER-1'))!.status).toBe('approved');
    expect(await getLeave(db.db, 'PER-OLD')).toBeNull();
    const lists = fake.requests.filter((r) => r.route === 'instance.list').slice(listsBefore);
    expect(Math.min(...lists.map((r) => Number(r.query.start_time)))).toBe(shanghai(9, 0));
    expect(Math.max(...lists.map((r) => Number(r.query.end_time)))).toBe(shanghai(11, 0) - 1);
  });

  it('`leave-bridge backfill` runs as a child process and prints the report', async () => {
    fake.addInstance({ instance_code: 'CLI-1', approval_code: 'APPROVAL-CLI', status: 'APPROVED', user_id: 'u_fay', createdMs: shanghai(15), form: leaveGroupV2Form({ start: '2024-10-08T09:00:00+08:00', end: '2024-10-08T18:00:00+08:00', interval: 1 }) });
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: db.url!,
      FEISHU_APP_ID: fake.appId,
      FEISHU_APP_SECRET: fake.appSecret,
      FEISHU_BASE_URL: fake.url,
      LOG_LEVEL: 'silent',
    };
    const args = ['--import', 'tsx', 'src/node.ts', 'backfill', '--approval', 'APPROVAL-CLI', '--from', '2024-09-15', '--to', '2024-09-15', '--format', 'json'];
    const { stdout } = await run(process.execPath, args, { cwd: process.cwd(), env });
    const report = JSON.parse(stdout) as BackfillReport;
    expect(report).toMatchObject({ approvalCode: 'APPROVAL-CLI', listed: 1, approved: 1, errors: [] });
    expect((await getLeave(db.db, 'CLI-1'))!.days).toEqual([{ date: '2024-10-08', quantity: '1', unit: 'day' }]);

    // the table format; an instance that fails → exit code 1; bad dates → usage, exit code 2
    fake.addInstance({ instance_code: 'CLI-BAD', approval_code: 'APPROVAL-CLI', status: 'APPROVED', user_id: 'u_fay', createdMs: shanghai(15, 11), form: '{not json' });
    const failing = await run(process.execPath, args.slice(0, -2), { cwd: process.cwd(), env }).catch((e: { code: number; stdout: string }) => e);
    expect(failing).toMatchObject({ code: 1 });
    expect(failing.stdout).toMatch(/listed\s+2/);
    expect(failing.stdout).toMatch(/unchanged\s+1/);
    expect(failing.stdout).toMatch(/errors\s+1/);
    expect(failing.stdout).toMatch(/CLI-BAD\t-\terror\tform is not JSON/);
    const usage = await run(process.execPath, ['--import', 'tsx', 'src/node.ts', 'backfill', '--approval', 'X', '--from', 'yesterday', '--to', '2024-09-15'], { cwd: process.cwd(), env }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(usage).toMatchObject({ code: 2 });
    expect((usage as { stderr: string }).stderr).toContain('from');
    const rows = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, 'CLI-1'));
    expect(rows.map((r) => [r.eventKey, r.eventType, r.source])).toEqual([['backfill:CLI-1:approved', 'backfill', 'backfill']]);
  });

  it('`serve` with BACKFILL_INTERVAL closes a gap the events left, and stops cleanly', async () => {
    // created an hour ago: inside "yesterday and today" whatever the real date is
    fake.addInstance({ instance_code: 'SERVE-GAP', approval_code: 'APPROVAL-SERVE', status: 'APPROVED', user_id: 'u_gus', createdMs: Date.now() - 3_600_000, form: leaveGroupV2Form({ start: '2024-10-09T00:00:00+08:00', end: '2024-10-10T00:00:00+08:00', interval: 1 }) });
    const port = await freePort();
    const child = runCli(['serve'], {
      DATABASE_URL: db.url!,
      PORT: String(port),
      FEISHU_VERIFICATION_TOKEN: 'tok',
      FEISHU_APP_ID: fake.appId,
      FEISHU_APP_SECRET: fake.appSecret,
      FEISHU_BASE_URL: fake.url,
      BACKFILL_INTERVAL: '1h',
      BACKFILL_APPROVAL_CODES: 'APPROVAL-SERVE',
    });
    try {
      await waitFor('the periodic backfill to apply SERVE-GAP', async () => (await getLeave(db.db, 'SERVE-GAP')) !== null, 60_000);
      expect((await getLeave(db.db, 'SERVE-GAP'))!.days).toEqual([{ date: '2024-10-09', quantity: '1', unit: 'day' }]);
    } finally {
      child.proc.kill('SIGTERM');
    }
    expect((await child.exited).code).toBe(0);
    expect(child.output()).toMatch(/periodic backfill/);
  });
});
