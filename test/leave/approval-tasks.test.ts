import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { approvalTask, encryptedRequest, outApproval } from '../support/feishu.js';

let n = 0;
const code = () => `TASKS-${process.pid}-${Date.now()}-${n++}`;

/** A request's path: submitted, approved by one, transferred, rejected, rolled back, approved. */
const steps = (c: string) => [
  approvalTask(c, { taskId: 't1', status: 'PENDING', userId: 'u_boss', operateTime: 1725600000000 }),
  approvalTask(c, { taskId: 't1', status: 'APPROVED', userId: 'u_boss', operateTime: 1725600060000 }),
  approvalTask(c, { taskId: 't2', status: 'PENDING', userId: 'u_hr', operateTime: 1725600060000 }),
  approvalTask(c, { taskId: 't2', status: 'TRANSFERRED', userId: 'u_hr', operateTime: 1725600120000 }),
  approvalTask(c, { taskId: 't3', status: 'PENDING', userId: 'u_hr2', operateTime: 1725600120000 }),
  approvalTask(c, { taskId: 't3', status: 'ROLLBACK', userId: 'u_hr2', operateTime: 1725600180000, extra: '{"rollback_node_ids":["n1"]}' }),
  approvalTask(c, { taskId: 't4', status: 'APPROVED', operateTime: 1725600240000 }),
];

// at one instant, the decision before the task it opens
const EXPECTED = [
  ['t1', 'PENDING', 'u_boss', '2024-09-06T05:20:00.000Z'],
  ['t1', 'APPROVED', 'u_boss', '2024-09-06T05:21:00.000Z'],
  ['t2', 'PENDING', 'u_hr', '2024-09-06T05:21:00.000Z'],
  ['t2', 'TRANSFERRED', 'u_hr', '2024-09-06T05:22:00.000Z'],
  ['t3', 'PENDING', 'u_hr2', '2024-09-06T05:22:00.000Z'],
  ['t3', 'ROLLBACK', 'u_hr2', '2024-09-06T05:23:00.000Z'],
  // an automatic approval has no approver
  ['t4', 'APPROVED', null, '2024-09-06T05:24:00.000Z'],
];

for (const backend of BACKENDS) {
  describe(`approval tasks: one timeline whatever the order (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    const post = async (body: string) => {
      const res = await t.post(await encryptedRequest(body));
      expect(res.status).toBe(200);
      return (await res.json()) as { status: string };
    };

    it('task events in any order relative to each other and to their instance give the same timeline', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: 7 }), fc.array(fc.nat(), { minLength: 7, maxLength: 7 }), fc.boolean(), async (instanceAt, keys, twice) => {
          const c = code();
          const tasks = steps(c);
          // a random order of the steps, the approval inserted at a random place, some re-pushed
          const order = tasks.map((body, i) => ({ body, k: keys[i]! })).sort((a, b) => a.k - b.k).map((x) => x.body);
          order.splice(instanceAt, 0, outApproval({ instanceCode: c }));
          for (const body of order) expect((await post(body)).status).toBe('applied');
          if (twice) for (const body of order) expect((await post(body)).status).toBe('duplicate');
          const a = (await (await t.admin(`/api/approvals/${c}`)).json()) as { tasks: Array<{ task_id: string; status: string; user_id: string | null; operate_time: string; extra: unknown }> };
          expect(a.tasks.map((x) => [x.task_id, x.status, x.user_id, x.operate_time])).toEqual(EXPECTED);
          expect(a.tasks.find((x) => x.status === 'ROLLBACK')!.extra).toEqual({ rollback_node_ids: ['n1'] });
        }),
        { numRuns: 6 },
      );
    });

    it('the same step re-pushed under another uuid is one step', async () => {
      const c = code();
      const step = { taskId: 't1', status: 'APPROVED', userId: 'u_boss', operateTime: 1725600060000 };
      await post(approvalTask(c, step));
      await post(approvalTask(c, step));
      await post(outApproval({ instanceCode: c }));
      const a = (await (await t.admin(`/api/approvals/${c}`)).json()) as { tasks: unknown[] };
      expect(a.tasks).toHaveLength(1);
    });
  });
}
