import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockEventIdFor } from '../../src/google/ids.js';
import type { FakeEvent } from '../fakes/google.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { leaveApprovalV2, tripApproval } from '../support/feishu.js';
import { eventIdFor, startWorld, type World } from '../support/outbox-world.js';

/*
 * Policies through the whole path: a PUT, an approval, the drainer, the fake Google. Each calendar
 * effect, titles and decline modes; and a policy change that re-syncs the future blocks it
 * changes, and only those.
 */

let n = 0;
const code = (k: string) => `POL-${k}-${process.pid}-${Date.now()}-${n++}`;
const CAL = 'u_pol@example.com';
// far enough ahead of any clock this suite runs under, and well behind it
const FUTURE = { start: '2099-03-02 00:00:00', end: '2099-03-03 00:00:00' };
const PAST = { start: '2024-03-04 00:00:00', end: '2024-03-05 00:00:00' };

for (const backend of BACKENDS) {
  describe(`policies on calendar blocks (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db);
      for (const u of ['u_pol', 'u_trip', 'u_peer']) w.feishu.addUser({ user_id: u, email: `${u}@example.com` });
    }, 120_000);
    afterAll(async () => {
      // checked by the fake on every write: never two events of one block at once
      expect(w?.google.violations).toEqual([]);
      await w?.close();
      await db?.close();
    });

    const put = async (leaveType: string, body: Record<string, unknown>, kind?: string) => {
      const res = await w.t.admin(`/api/policies/${encodeURIComponent(leaveType)}${kind ? `?kind=${kind}` : ''}`, {
        method: 'PUT',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { policy: Record<string, unknown>; resynced: number };
    };
    const approve = async (c: string, leaveName: string, when = FUTURE) => {
      expect((await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_pol', leaveName, ...when }))).json).toMatchObject({ status: 'applied' });
    };
    const mine = (c: string, calendar = CAL) =>
      w.confirmed(calendar).filter((e) => (e.extendedProperties as { private: { instanceCode: string } }).private.instanceCode === c);
    const look = (e: FakeEvent) => ({
      id: e.id,
      eventType: e.eventType,
      summary: e.summary,
      transparency: e.transparency ?? 'opaque',
      decline: (e.outOfOfficeProperties as { autoDeclineMode?: string } | undefined)?.autoDeclineMode ?? null,
    });

    it('without a policy a leave gets the out-of-office block it always got, with the generic title', async () => {
      const c = code('default');
      await approve(c, 'Annual leave');
      await w.drainer.drainOnce();
      expect(mine(c).map(look)).toEqual([
        { id: eventIdFor(c), eventType: 'outOfOffice', summary: 'Out of office', transparency: 'opaque', decline: 'declineOnlyNewConflictingInvitations' },
      ]);
    });

    it('each calendar effect: out-of-office with its title and decline mode, busy, free, none', async () => {
      await put('Sick leave', { calendar: 'outOfOffice', decline_mode: 'declineNone', title: 'Away', visibility: 'name_only' });
      await put('Training', { calendar: 'busy', title: 'Busy', visibility: 'name_and_type' });
      await put('Work from home', { calendar: 'free', visibility: 'hidden' });
      await put('Errand', { calendar: 'none', visibility: 'hidden' }, 'leave');
      const sick = code('sick');
      const training = code('training');
      const wfh = code('wfh');
      const errand = code('errand');
      await approve(sick, 'Sick leave');
      await approve(training, 'Training');
      await approve(wfh, 'Work from home');
      await approve(errand, 'Errand');
      await w.drainer.drainOnce();
      expect(mine(sick).map(look)).toEqual([{ id: eventIdFor(sick), eventType: 'outOfOffice', summary: 'Away', transparency: 'opaque', decline: 'declineNone' }]);
      expect(mine(training).map(look)).toEqual([{ id: blockEventIdFor(training, 'plain'), eventType: 'default', summary: 'Busy', transparency: 'opaque', decline: null }]);
      expect(mine(wfh).map(look)).toEqual([{ id: blockEventIdFor(wfh, 'plain'), eventType: 'default', summary: 'Out of office', transparency: 'transparent', decline: null }]);
      expect(mine(errand)).toEqual([]);
      // the plain block is recorded as what it is, not as an out-of-office refusal
      const approval = (await (await w.t.admin(`/api/approvals/${training}`)).json()) as { calendar: { blocks: Array<Record<string, unknown>> } };
      expect(approval.calendar.blocks).toEqual([expect.objectContaining({ block_key: 'plain', state: 'present', event_type: 'default', fallback_reason: null })]);
    });

    it("a kind's policy reaches a trip's every block, the requester's and the peer's", async () => {
      await put('*', { calendar: 'busy', title: 'Travelling', visibility: 'name_only' }, 'trip');
      const c = code('trip');
      await w.send(tripApproval({ instanceCode: c, employeeId: 'u_trip', peers: ['u_peer'], schedules: [{ start: FUTURE.start, end: FUTURE.end, interval: 86400 }] }));
      await w.drainer.drainOnce();
      for (const who of ['u_trip', 'u_peer']) {
        expect(mine(c, `${who}@example.com`).map(look)).toEqual([
          { id: blockEventIdFor(c, `plain:0@${who}`), eventType: 'default', summary: 'Travelling', transparency: 'opaque', decline: null },
        ]);
      }
    });

    it('a policy change re-syncs the future blocks it changes, and only those', async () => {
      const future = code('future');
      const past = code('past');
      const other = code('other');
      const shadowed = code('shadowed');
      await approve(future, 'Parental leave');
      await approve(past, 'Parental leave', PAST);
      await approve(other, 'Compassionate leave');
      await approve(shadowed, 'Sick leave');
      await w.drainer.drainOnce();
      const rowsBefore = (await w.outboxRows()).length;

      // a type's policy: only that type's future record changes
      expect((await put('Parental leave', { calendar: 'busy', visibility: 'name_only' })).resynced).toBe(1);
      const queued = (await w.outboxRows()).slice(rowsBefore);
      expect(queued.map((r) => [r.key, r.kind, r.payload])).toEqual([[future, 'calendar.upsert', { reason: 'policy change' }]]);
      await w.drainer.drainOnce();
      // out-of-office removed before the busy event was written (the fake checks), under its own id
      expect(mine(future).map(look)).toEqual([{ id: blockEventIdFor(future, 'plain'), eventType: 'default', summary: 'Out of office', transparency: 'opaque', decline: null }]);
      expect(w.google.event(CAL, eventIdFor(future))).toMatchObject({ status: 'cancelled' });
      // the past block stays as it was made
      expect(mine(past).map(look)).toEqual([expect.objectContaining({ id: eventIdFor(past), eventType: 'outOfOffice' })]);
      expect(mine(other).map(look)).toEqual([expect.objectContaining({ id: eventIdFor(other), eventType: 'outOfOffice' })]);

      // the same policy again changes no block: nothing is queued
      const rowsAgain = (await w.outboxRows()).length;
      expect((await put('Parental leave', { calendar: 'busy', visibility: 'name_and_type', payroll_code: 'PAR' })).resynced).toBe(0);
      expect((await w.outboxRows()).length).toBe(rowsAgain);

      // the default for leaves: every future leave without a policy of its own changes, not the
      // types that have one (Sick leave, Parental leave, Training, Work from home, Errand)
      const before = (await w.outboxRows()).length;
      const change = await put('*', { calendar: 'outOfOffice', title: 'Away from work', visibility: 'name_only' }, 'leave');
      const keys = (await w.outboxRows()).slice(before).map((r) => r.key);
      expect(keys).toContain(other);
      expect(keys).not.toContain(shadowed);
      expect(keys).not.toContain(future);
      expect(keys).not.toContain(past);
      expect(change.resynced).toBe(keys.length);
      await w.drainer.drainOnce();
      expect(mine(other).map(look)).toEqual([expect.objectContaining({ id: eventIdFor(other), eventType: 'outOfOffice', summary: 'Away from work' })]);
      expect(mine(past).map(look)).toEqual([expect.objectContaining({ summary: 'Out of office' })]);

      // none removes the block; deleting the policy brings the kind's default back (out-of-office, its old id restored)
      await put('Parental leave', { calendar: 'none', visibility: 'hidden' });
      await w.drainer.drainOnce();
      expect(mine(future)).toEqual([]);
      const deleted = await w.t.admin('/api/policies/Parental%20leave', { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toMatchObject({ deleted: { kind: '*', leave_type: 'Parental leave', calendar: 'none' }, resynced: 1 });
      await w.drainer.drainOnce();
      expect(mine(future).map(look)).toEqual([expect.objectContaining({ id: eventIdFor(future), eventType: 'outOfOffice', summary: 'Away from work' })]);
      expect(mine(past).map(look)).toEqual([expect.objectContaining({ id: eventIdFor(past), summary: 'Out of office' })]);
    });
  });
}
