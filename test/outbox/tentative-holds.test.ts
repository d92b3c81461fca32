import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockEventIdFor } from '../../src/google/ids.js';
import { leaveGroupV2Form, tripGroupForm } from '../fakes/feishu.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { approvalInstance, leaveApprovalV1, leaveApprovalV2, tripApproval } from '../support/feishu.js';
import { eventIdFor, eventTimes, startWorld, type World } from '../support/outbox-world.js';

let n = 0;
const code = (k: string) => `HOLD-${k}-${process.pid}-${Date.now()}-${n++}`;

interface Approval {
  kind: string | null;
  status: string;
  start: string | null;
  days: Array<{ date: string; quantity: string }>;
  calendar: { blocks: Array<{ block_key: string; state: string }> };
  history: Array<{ event_type: string; effect: string | null }>;
}

for (const backend of BACKENDS) {
  describe(`pending requests as tentative holds (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db, { env: { CALENDAR_TENTATIVE_HOLDS: 'true' } });
      for (const u of ['u_h', 'u_tp', 'u_tq']) w.feishu.addUser({ user_id: u, email: `${u}@example.com` });
    });
    afterAll(async () => {
      // checked by the fake on every write: never a hold and its block at once
      expect(w?.google.violations).toEqual([]);
      await w?.close();
      await db?.close();
    });
    const get = async (c: string) => (await (await w.t.admin(`/api/approvals/${c}`)).json()) as Approval;
    const mine = (calendar: string, c: string) => w.confirmed(calendar).filter((e) => (e.extendedProperties as { private: { instanceCode: string } }).private.instanceCode === c);
    const pendingLeave = (c: string) =>
      w.feishu.addInstance({
        instance_code: c,
        approval_code: 'APPROVAL-LEAVE',
        status: 'PENDING',
        user_id: 'u_h',
        createdMs: Date.UTC(2024, 10, 1),
        form: leaveGroupV2Form({ start: '2024-11-04T09:00:00+08:00', end: '2024-11-04T18:00:00+08:00', interval: 1 }),
      });

    it('a pending leave gets one tentative, transparent, non-declining hold; its approval turns it into one out-of-office block', async () => {
      const c = code('approve');
      pendingLeave(c);
      expect((await w.send(approvalInstance(c, 'PENDING', { approvalCode: 'APPROVAL-LEAVE' }))).json).toMatchObject({ status: 'applied' });
      expect((await get(c)).history).toEqual([expect.objectContaining({ event_type: 'approval_instance', effect: 'pending_recorded' })]);
      await w.drainer.drainOnce();
      expect(await get(c)).toMatchObject({ kind: 'leave', status: 'pending', start: '2024-11-04 09:00:00', days: [] });
      const [hold] = mine('u_h@example.com', c);
      expect(hold).toMatchObject({ id: blockEventIdFor(c, 'hold'), eventType: 'default', transparency: 'transparent', summary: 'Leave requested' });
      expect(hold).not.toHaveProperty('outOfOfficeProperties');
      expect(eventTimes(hold!)).toMatchObject({ start: Date.parse('2024-11-04T01:00:00Z'), end: Date.parse('2024-11-04T10:00:00Z') });
      // colleagues see it before it is decided
      const listed = (await (await w.t.admin('/api/approvals?status=pending')).json()) as { items: Array<{ instance_code: string }> };
      expect(listed.items.map((i) => i.instance_code)).toContain(c);
      // not a leave yet: the leave view does not show it
      expect((await w.t.admin(`/api/leaves/${c}`)).status).toBe(404);

      const spec = { instanceCode: c, employeeId: 'u_h', start: '2024-11-04 09:00:00', end: '2024-11-04 18:00:00', interval: 86400 };
      await w.send(leaveApprovalV1(spec));
      await w.send(leaveApprovalV2(spec));
      await w.drainer.drainOnce();
      const events = mine('u_h@example.com', c);
      expect(events.map((e) => [e.id, e.eventType])).toEqual([[eventIdFor(c), 'outOfOffice']]);
      expect(w.google.event('u_h@example.com', blockEventIdFor(c, 'hold'))).toMatchObject({ status: 'cancelled' });
      const approved = await get(c);
      expect(approved).toMatchObject({ kind: 'leave', status: 'approved', days: [{ date: '2024-11-04', quantity: '1' }] });
      expect(approved.calendar.blocks.map((b) => [b.block_key, b.state])).toEqual([
        ['', 'present'],
        ['hold', 'deleted'],
      ]);
      // the hold was removed before the block was written, in the same sync
      const writes = w.google.calls.filter((x) => x.calendarId === 'u_h@example.com' && (x.op === 'delete' || x.op === 'insert') && x.committed);
      expect(writes.map((x) => x.op).slice(-2)).toEqual(['delete', 'insert']);
      expect(w.google.violations).toEqual([]);
    });

    it('approval_instance APPROVED before the kind\'s event also turns the hold into the block', async () => {
      const c = code('instance-approved');
      pendingLeave(c);
      await w.send(approvalInstance(c, 'PENDING'));
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c).map((e) => e.id)).toEqual([blockEventIdFor(c, 'hold')]);
      w.feishu.updateInstance(c, { status: 'APPROVED' });
      await w.send(approvalInstance(c, 'APPROVED'));
      expect((await get(c)).history.map((h) => h.effect)).toEqual(['pending_recorded', 'approved']);
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c).map((e) => [e.id, e.eventType])).toEqual([[eventIdFor(c), 'outOfOffice']]);
    });

    it('rejection leaves no event', async () => {
      const c = code('reject');
      pendingLeave(c);
      await w.send(approvalInstance(c, 'PENDING'));
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c)).toHaveLength(1);
      await w.send(approvalInstance(c, 'REJECTED'));
      expect((await get(c)).history.map((h) => h.effect)).toEqual(['pending_recorded', 'rejected']);
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c)).toEqual([]);
      expect(await get(c)).toMatchObject({ status: 'rejected', days: [] });
      // a late approval event of a rejected request changes nothing
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_h' }));
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c)).toEqual([]);
    });

    it('a cancelled request (CANCELED) loses its hold', async () => {
      const c = code('cancel');
      pendingLeave(c);
      await w.send(approvalInstance(c, 'PENDING'));
      await w.drainer.drainOnce();
      await w.send(approvalInstance(c, 'CANCELED'));
      await w.drainer.drainOnce();
      expect(mine('u_h@example.com', c)).toEqual([]);
      expect(await get(c)).toMatchObject({ status: 'reverted' });
    });

    it('a pending trip holds every segment for the requester and the peer; its approval replaces each hold by its block', async () => {
      const c = code('trip');
      w.feishu.addInstance({
        instance_code: c,
        approval_code: 'APPROVAL-TRIP',
        status: 'PENDING',
        user_id: 'u_tp',
        createdMs: Date.UTC(2024, 10, 1),
        form: tripGroupForm({ schedules: [{ start: '2024-11-11T00:00:00+08:00', end: '2024-11-12T00:00:00+08:00', interval: 1 }], peers: ['u_tq'] }),
      });
      await w.send(approvalInstance(c, 'PENDING'));
      await w.drainer.drainOnce();
      for (const who of ['u_tp', 'u_tq']) {
        expect(mine(`${who}@example.com`, c).map((e) => [e.id, e.eventType, e.transparency])).toEqual([[blockEventIdFor(c, `hold:0@${who}`), 'default', 'transparent']]);
      }
      await w.send(tripApproval({ instanceCode: c, employeeId: 'u_tp', peers: ['u_tq'], schedules: [{ start: '2024-11-11 00:00:00', end: '2024-11-12 00:00:00', interval: 86400 }] }));
      await w.drainer.drainOnce();
      for (const who of ['u_tp', 'u_tq']) {
        expect(mine(`${who}@example.com`, c).map((e) => [e.id, e.eventType])).toEqual([[blockEventIdFor(c, `0@${who}`), 'outOfOffice']]);
      }
      expect(w.google.violations).toEqual([]);
    });

    it('the fake Google catches a hold and its block at once (the check the tests above rely on)', async () => {
      const { createGoogleCalendar } = await import('../../src/google/calendar.js');
      const { startFakeGoogle } = await import('../fakes/google.js');
      const google = await startFakeGoogle();
      try {
        const port = createGoogleCalendar({ key: google.serviceAccountKey, baseUrl: google.url });
        const block = { instanceCode: 'CHECK-1', calendarId: 'c@example.com', start: new Date('2024-11-04T01:00:00Z'), end: new Date('2024-11-04T10:00:00Z'), timeZone: 'Asia/Shanghai', summary: 'x', declineMode: 'declineNone' as const, declineMessage: '' };
        await port.upsertBlock({ ...block, blockKey: 'hold', hold: { transparency: 'transparent' } });
        expect(google.violations).toEqual([]);
        await port.upsertBlock(block);
        expect(google.violations).toEqual([expect.stringContaining('2 events of block "CHECK-1 "')]);
      } finally {
        await google.close();
      }
    });
  });
}
