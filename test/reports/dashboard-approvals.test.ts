import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { approvalTask, encryptedRequest, leaveApprovalV1, tripApproval, workApproval } from '../support/feishu.js';

for (const backend of BACKENDS) {
  describe(`dashboard: every kind, and a record's timeline (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    const c = { leave: 'DA-LEAVE-1', trip: 'DA-TRIP-1', work: 'DA-WORK-1' };
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db);
      const send = async (body: string) => expect((await t.post(await encryptedRequest(body))).status).toBe(200);
      await send(leaveApprovalV1({ instanceCode: c.leave, employeeId: 'u_dl' }));
      await send(approvalTask(c.trip, { taskId: 't2', status: 'APPROVED', userId: 'u_boss', operateTime: 1725600060000 }));
      await send(tripApproval({ instanceCode: c.trip, employeeId: 'u_dt', peers: ['u_dp'] }));
      await send(approvalTask(c.trip, { taskId: 't1', status: 'PENDING', userId: 'u_boss', operateTime: 1725600000000 }));
      await send(workApproval({ instanceCode: c.work, employeeId: 'u_dw' }));
    });
    afterAll(async () => {
      await db?.close();
    });
    const page = async (path: string) => {
      const res = await t.admin(path);
      return { status: res.status, html: await res.text(), location: res.headers.get('location') };
    };

    it('lists every kind; the kind filter keeps one', async () => {
      const all = await page('/dashboard/approvals');
      expect(all.status).toBe(200);
      for (const code of Object.values(c)) expect(all.html).toContain(code);
      const trips = await page('/dashboard/approvals?kind=trip&status=');
      expect(trips.html).toContain(c.trip);
      expect(trips.html).not.toContain(c.leave);
      expect(trips.html).toContain('<option value="trip" selected');
      expect((await page('/dashboard/approvals?kind=holiday')).status).toBe(400);
    });

    it("a record's page shows its timeline in order, its peers and its days", async () => {
      const trip = await page(`/dashboard/approvals/${c.trip}`);
      expect(trip.status).toBe(200);
      const timeline = trip.html.slice(trip.html.indexOf('data-testid="timeline"'));
      expect(timeline.indexOf('>t1<')).toBeGreaterThan(0);
      expect(timeline.indexOf('>t1<')).toBeLessThan(timeline.indexOf('>t2<'));
      expect(trip.html).toContain('travelling with u_dp');
      expect((await page('/dashboard/approvals/NOPE')).status).toBe(404);
    });

    it('the leave page sends another kind to its own page', async () => {
      expect(await page(`/dashboard/leaves/${c.trip}`)).toMatchObject({ status: 302, location: `/dashboard/approvals/${c.trip}` });
      expect((await page(`/dashboard/leaves/${c.leave}`)).status).toBe(200);
    });
  });
}
