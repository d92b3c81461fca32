import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill } from '../../src/feishu/backfill.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { getApproval } from '../../src/leave/approvals.js';
import { silentLogger } from '../../src/logger.js';
import { outGroupForm, startFakeFeishu, tripGroupForm, workGroupForm, type FakeFeishu } from '../fakes/feishu.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { encryptedRequest, workApproval } from '../support/feishu.js';

const created = Date.UTC(2024, 9, 2, 2);

for (const backend of BACKENDS) {
  describe(`backfill recovers out, trip and overtime from their form widgets (${backend.name})`, () => {
    let db: TestDatabase;
    let fake: FakeFeishu;
    let t: ReturnType<typeof testApp>;
    beforeAll(async () => {
      db = await backend.create();
      fake = await startFakeFeishu();
      const feishu = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger, retry: { retries: 1, minTimeout: 1, maxTimeout: 5 } });
      t = testApp(db, { feishu });
      const add = (instance_code: string, form: string, extra: Record<string, unknown> = {}) =>
        fake.addInstance({ instance_code, approval_code: 'APPROVAL-KINDS', status: 'APPROVED', user_id: 'u_k', open_id: 'ou_k', createdMs: created, form, ...extra });
      add('BK-OUT', outGroupForm({ start: '2024-10-08T14:00:00+08:00', end: '2024-10-08T17:30:00+08:00', interval: 3.5 }));
      add('BK-WORK', workGroupForm({ start: '2024-10-09T19:00:00+08:00', end: '2024-10-09T22:00:00+08:00', interval: 3 }));
      add('BK-TRIP', tripGroupForm({ schedules: [{ start: '2024-10-10T12:00:00+08:00', end: '2024-10-12T00:00:00+08:00', interval: 1.5 }], peers: ['u_peer'] }));
      add('BK-TRIP-REVERTED', tripGroupForm({ schedules: [{ start: '2024-10-14T00:00:00+08:00', end: '2024-10-15T00:00:00+08:00', interval: 1 }] }), { status: 'REVERTED', reverted: true });
      add('BK-WH', workGroupForm({ start: '2024-10-16T19:00:00+08:00', end: '2024-10-16T21:00:00+08:00', interval: 2 }));
    });
    afterAll(async () => {
      await fake?.close();
      await db?.close();
    });

    it('each kind with its days; the reverted trip remembered; the overtime a webhook described first is left as it said', async () => {
      // the webhook said 2.5 hours; the form's 2 does not rewrite what an event said
      expect((await t.post(await encryptedRequest(workApproval({ instanceCode: 'BK-WH', employeeId: 'u_k', start: '2024-10-16 19:00:00', end: '2024-10-16 21:30:00', interval: 9000 })))).status).toBe(200);
      const report = await backfill(t.deps, { approvalCode: 'APPROVAL-KINDS', from: '2024-10-02', to: '2024-10-02' });
      expect(report).toMatchObject({ listed: 5, approved: 3, reverted: 1, errors: [] });
      expect(await getApproval(db.db, 'BK-OUT')).toMatchObject({ kind: 'out', status: 'approved', type_name: 'Client visit', days: [{ employee_id: 'u_k', date: '2024-10-08', quantity: '3.5', unit: 'hour' }] });
      expect(await getApproval(db.db, 'BK-WORK')).toMatchObject({ kind: 'overtime', days: [{ date: '2024-10-09', quantity: '3', unit: 'hour' }] });
      const trip = await getApproval(db.db, 'BK-TRIP');
      expect(trip).toMatchObject({ kind: 'trip', peers: ['u_peer'] });
      expect(trip!.days.map((d) => [d.employee_id, d.date, d.quantity])).toEqual([
        ['u_k', '2024-10-10', '0.5'],
        ['u_k', '2024-10-11', '1'],
        ['u_peer', '2024-10-10', '0.5'],
        ['u_peer', '2024-10-11', '1'],
      ]);
      expect(await getApproval(db.db, 'BK-TRIP-REVERTED')).toMatchObject({ kind: 'trip', status: 'reverted', days: [] });
      expect(await getApproval(db.db, 'BK-WH')).toMatchObject({ detail_source: 'v1', days: [{ date: '2024-10-16', quantity: '2.5' }] });
      // a second run changes nothing
      expect(await backfill(t.deps, { approvalCode: 'APPROVAL-KINDS', from: '2024-10-02', to: '2024-10-02' })).toMatchObject({ approved: 0, reverted: 0, unchanged: 5 });
    });
  });
}

describe('approvalFromInstance: unusable widgets say why', () => {
  const inst = (form: string) => ({ instanceCode: 'X', approvalCode: 'A', status: 'APPROVED', reverted: false, userId: 'u', openId: null, form, startTimeMs: null, endTimeMs: null });
  it('a trip without schedules, an out that ends before it starts, an overtime without an interval', async () => {
    const { approvalFromInstance } = await import('../../src/feishu/form.js');
    expect(() => approvalFromInstance(inst(tripGroupForm({ schedules: [] })), 'Asia/Shanghai')).toThrow(/trip widget has no schedule/);
    expect(() => approvalFromInstance(inst(outGroupForm({ start: '2024-10-08T17:00:00+08:00', end: '2024-10-08T14:00:00+08:00', interval: 3 })), 'Asia/Shanghai')).toThrow(/out ends before it starts/);
    expect(() => approvalFromInstance(inst(JSON.stringify([{ type: 'workGroup', value: { start: '2024-10-09T19:00:00+08:00', end: '2024-10-09T22:00:00+08:00' } }])), 'Asia/Shanghai')).toThrow(/interval/);
    expect(approvalFromInstance(inst(JSON.stringify([{ type: 'input', value: 'x' }])), 'Asia/Shanghai')).toBeNull();
  });
});
