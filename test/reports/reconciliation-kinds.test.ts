import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays } from '../../src/db/schema.js';
import { blockEventIdFor } from '../../src/google/ids.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { tripApproval, workApproval, outApproval } from '../support/feishu.js';
import { startWorld, type World } from '../support/outbox-world.js';

interface Item {
  category: string;
  instance_code: string | null;
  employee_id: string | null;
  data?: Record<string, unknown>;
}

let n = 0;
const code = (k: string) => `RK-${k}-${process.pid}-${Date.now()}-${n++}`;

for (const backend of BACKENDS) {
  describe(`reconciliation of every kind with blocks and totals (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    const c = { trip: code('trip'), work: code('work'), out: code('out') };
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db);
      for (const u of ['u_rt', 'u_rp', 'u_rw', 'u_ro']) w.feishu.addUser({ user_id: u, email: `${u}@example.com` });
      await w.send(tripApproval({ instanceCode: c.trip, employeeId: 'u_rt', peers: ['u_rp'], schedules: [{ start: '2042-05-04 09:00:00', end: '2042-05-05 18:00:00', interval: 86400 }, { start: '2042-05-07 09:00:00', end: '2042-05-07 18:00:00', interval: 43200 }] }));
      await w.send(workApproval({ instanceCode: c.work, employeeId: 'u_rw', start: '2042-05-06 18:00:00', end: '2042-05-06 21:00:00', interval: 10800 }));
      await w.send(outApproval({ instanceCode: c.out, employeeId: 'u_ro', start: '2042-05-06 10:00:00', end: '2042-05-06 12:00:00', interval: 7200 }));
      await w.drainer.drainOnce();
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });
    const report = async () =>
      ((await (await w.t.admin('/api/reconciliation?from=2042-05-01&to=2042-05-31&verify=google')).json()) as { items: Item[] }).items.filter((i) =>
        Object.values(c).includes(i.instance_code ?? ''),
      );

    it('all in order: no drift for the trip (four blocks on two calendars), the out or the overtime', async () => {
      expect(await report()).toEqual([]);
    });

    it("a peer's block deleted in Google is a mismatch of that block; an overtime whose days do not add up is a total mismatch", async () => {
      w.google.cancelEvent('u_rp@example.com', blockEventIdFor(c.trip, '1@u_rp'));
      await db.db.update(attendanceDays).set({ quantity: '2' }).where(and(eq(attendanceDays.instanceCode, c.work), eq(attendanceDays.status, 'active')));
      const items = await report();
      expect(items).toHaveLength(2);
      expect(items).toEqual(expect.arrayContaining([
        expect.objectContaining({ category: 'google_mismatch', instance_code: c.trip, employee_id: 'u_rp', data: expect.objectContaining({ block_key: '1@u_rp', event_id: blockEventIdFor(c.trip, '1@u_rp') }) }),
        expect.objectContaining({ category: 'attendance_total_mismatch', instance_code: c.work, data: { sum: '2', expected: '3', unit: 'hour' } }),
      ]));
    });

    it('a block no record describes is an orphan, on a peer calendar too', async () => {
      w.google.putEvent('u_rp@example.com', {
        id: blockEventIdFor(c.trip, '7@u_rp'),
        status: 'confirmed',
        eventType: 'outOfOffice',
        start: { dateTime: '2042-05-09T01:00:00Z' },
        end: { dateTime: '2042-05-09T09:00:00Z' },
        extendedProperties: { private: { leaveBridge: '1', instanceCode: c.trip, blockKey: '7@u_rp' } },
      });
      const orphan = (await report()).find((i) => i.category === 'google_orphan');
      expect(orphan).toMatchObject({ instance_code: c.trip, data: { calendar_id: 'u_rp@example.com', event_id: blockEventIdFor(c.trip, '7@u_rp') } });
    });
  });
}
