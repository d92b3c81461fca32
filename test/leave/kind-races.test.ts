import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaves } from '../../src/db/schema.js';
import { blockEventIdFor } from '../../src/google/ids.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { approvalInstance, encryptedRequest, outApproval, specialRevert, tripApproval, workApproval } from '../support/feishu.js';
import { eventIdFor, eventTimes, startWorld, type World } from '../support/outbox-world.js';

let n = 0;
const code = (k: string) => `${k.toUpperCase()}-${process.pid}-${Date.now()}-${n++}`;

interface Approval {
  kind: string;
  status: string;
  days: Array<{ employee_id: string; date: string; quantity: string; unit: string }>;
  calendar: { blocks: Array<{ block_key: string; state: string }> };
}

/**
 * Out, trip and overtime under the rules every leave obeys: concurrent copies, a revert before or
 * after the approval, a cancellation through approval_instance. Each ends with one record, exact
 * quantities, and exactly the right events in the fake Google.
 */
for (const backend of BACKENDS) {
  describe(`out, trip and overtime under races and reverts (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db);
      for (const u of ['u_out', 'u_trip', 'u_peer', 'u_peer2', 'u_work']) w.feishu.addUser({ user_id: u, email: `${u}@example.com` });
      // the out-of-office block is placed in the employee's own zone
      await w.t.admin('/api/employees/u_out', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ timezone: 'Europe/Berlin' }) });
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });

    const deliver = async (plaintext: string, times = 5) => {
      const req = await encryptedRequest(plaintext);
      const responses = await Promise.all(Array.from({ length: times }, () => w.t.post(req)));
      for (const r of responses) expect(r.status).toBe(200);
      return Promise.all(responses.map((r) => r.json() as Promise<{ status: string }>));
    };
    const get = async (c: string) => (await (await w.t.admin(`/api/approvals/${c}`)).json()) as Approval;
    const count = async (c: string) => Number((await db.db.select({ n: sql<number>`count(*)::int` }).from(leaves).where(eq(leaves.instanceCode, c)))[0]!.n);
    const mine = (calendar: string, c: string) => w.confirmed(calendar).filter((e) => (e.extendedProperties as { private: { instanceCode: string } }).private.instanceCode === c);

    const KINDS = {
      out: {
        approve: (c: string) => outApproval({ instanceCode: c, employeeId: 'u_out', start: '2024-09-05 14:00:00', end: '2024-09-05 17:00:00', interval: 10800 }),
        revert: (c: string) => specialRevert('out_approval_revert', c),
        days: [{ employee_id: 'u_out', date: '2024-09-05', quantity: '3', unit: 'hour' }],
        calendars: ['u_out@example.com'],
      },
      trip: {
        approve: (c: string) =>
          tripApproval({
            instanceCode: c,
            employeeId: 'u_trip',
            peers: ['u_peer', 'u_peer2'],
            schedules: [
              { start: '2024-09-09 12:00:00', end: '2024-09-11 00:00:00', interval: '129600' },
              { start: '2024-09-12 00:00:00', end: '2024-09-13 00:00:00', interval: 86400 },
            ],
          }),
        // a trip has no revert event: approval_instance REVERTED is how it is undone
        revert: (c: string) => approvalInstance(c, 'REVERTED'),
        days: ['u_peer', 'u_peer2', 'u_trip'].flatMap((e) => [
          { employee_id: e, date: '2024-09-09', quantity: '0.5', unit: 'day' },
          { employee_id: e, date: '2024-09-10', quantity: '1', unit: 'day' },
          { employee_id: e, date: '2024-09-12', quantity: '1', unit: 'day' },
        ]),
        calendars: ['u_trip@example.com', 'u_peer@example.com', 'u_peer2@example.com'],
      },
      overtime: {
        approve: (c: string) => workApproval({ instanceCode: c, employeeId: 'u_work', start: '2024-09-07 20:00:00', end: '2024-09-08 01:30:00', interval: 19800 }),
        revert: (c: string) => specialRevert('work_approval_revert', c),
        days: [
          { employee_id: 'u_work', date: '2024-09-07', quantity: '4', unit: 'hour' },
          { employee_id: 'u_work', date: '2024-09-08', quantity: '1.5', unit: 'hour' },
        ],
        calendars: [] as string[],
      },
    };

    for (const [kind, k] of Object.entries(KINDS)) {
      it(`${kind}: delivered 5× concurrently → one record, exact days, the right blocks`, async () => {
        const c = code(kind);
        const results = await deliver(k.approve(c));
        expect(results.filter((r) => r.status === 'applied')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(4);
        await w.drainer.drainOnce();
        expect(await count(c)).toBe(1);
        const a = await get(c);
        expect(a).toMatchObject({ kind, status: 'approved' });
        expect(a.days).toEqual(k.days);
        if (kind === 'trip') {
          for (const cal of k.calendars) {
            const who = cal.split('@')[0]!;
            const events = mine(cal, c);
            expect(events.map((e) => e.id).sort()).toEqual([blockEventIdFor(c, `0@${who}`), blockEventIdFor(c, `1@${who}`)].sort());
            const first = events.find((e) => e.id === blockEventIdFor(c, `0@${who}`))!;
            expect(eventTimes(first)).toMatchObject({ start: Date.parse('2024-09-09T04:00:00Z'), end: Date.parse('2024-09-10T16:00:00Z'), startZone: 'Asia/Shanghai' });
          }
          expect(a.calendar.blocks).toHaveLength(6);
        } else if (kind === 'out') {
          const [event] = mine('u_out@example.com', c);
          expect(event).toMatchObject({ id: eventIdFor(c), eventType: 'outOfOffice' });
          // 14:00–17:00 in Berlin (CEST, UTC+2)
          expect(eventTimes(event!)).toMatchObject({ start: Date.parse('2024-09-05T12:00:00Z'), end: Date.parse('2024-09-05T15:00:00Z'), startZone: 'Europe/Berlin' });
        } else {
          expect(await w.outboxRows(c)).toEqual([]);
        }
      });

      it(`${kind}: reverted after its approval → no days, no events`, async () => {
        const c = code(kind);
        await deliver(k.approve(c), 2);
        await w.drainer.drainOnce();
        expect((await deliver(k.revert(c), 5)).filter((r) => r.status === 'applied')).toHaveLength(1);
        await w.drainer.drainOnce();
        const a = await get(c);
        expect(a).toMatchObject({ kind, status: 'reverted', days: [] });
        for (const cal of k.calendars) expect(mine(cal, c)).toEqual([]);
        expect(a.calendar.blocks.every((b) => b.state === 'deleted')).toBe(true);
      });

      it(`${kind}: the revert arrives first and wins; the late approval changes nothing`, async () => {
        const c = code(kind);
        await Promise.all([deliver(k.revert(c), 3)]);
        await deliver(k.approve(c), 3);
        await w.drainer.drainOnce();
        expect(await count(c)).toBe(1);
        const a = await get(c);
        expect(a).toMatchObject({ kind, status: 'reverted', days: [] });
        for (const cal of k.calendars) expect(mine(cal, c)).toEqual([]);
      });

      it(`${kind}: cancelled through approval_instance (CANCELED) after approval → undone`, async () => {
        const c = code(kind);
        await deliver(k.approve(c), 1);
        await w.drainer.drainOnce();
        await deliver(approvalInstance(c, 'CANCELED'), 3);
        await w.drainer.drainOnce();
        const a = await get(c);
        expect(a).toMatchObject({ kind, status: 'reverted', days: [] });
        for (const cal of k.calendars) expect(mine(cal, c)).toEqual([]);
      });
    }
  });
}
