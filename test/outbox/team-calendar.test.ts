import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { employees } from '../../src/db/schema.js';
import { blockEventIdFor } from '../../src/google/ids.js';
import { toInstant } from '../../src/shared/local-time.js';
import { BACKENDS, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert, tripApproval } from '../support/feishu.js';
import { startWorld, type World } from '../support/outbox-world.js';
import { waitFor } from '../support/process.js';
import { googleError } from '../fakes/google.js';

const TEAM = 'team-absences@group.calendar.google.com';
const OWNER = 'calendar-admin@example.com';
const TEAM_ENV = { GOOGLE_TEAM_CALENDAR_ID: TEAM, GOOGLE_TEAM_CALENDAR_OWNER: OWNER };

let seq = 0;
const code = (tag: string) => `TEAM-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
const teamId = (c: string, key = 'team') => blockEventIdFor(c, key);

async function settled(w: World) {
  await waitFor(
    'outbox to settle',
    async () => {
      const rows = await w.outboxRows();
      return rows.length > 0 && rows.every((r) => r.status !== 'pending' && r.status !== 'running');
    },
    120_000,
  );
}

for (const backend of BACKENDS) {
  describe(`team absence calendar (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db, { env: TEAM_ENV });
      w.google.share(TEAM, OWNER);
      w.feishu.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice', email: 'alice@example.com', departments: ['od_eng', 'od_ops'] });
      w.feishu.addUser({ user_id: 'u_bob', open_id: 'ou_bob', name: 'Bob', email: 'bob@example.com' });
      w.feishu.addUser({ user_id: 'u_carol', open_id: 'ou_carol', name: 'Carol', email: 'carol@example.com' });
      // annual leave may show its type; every other type keeps the default, name only
      const put = await w.t.admin('/api/policies/Annual%20leave', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ calendar: 'outOfOffice', visibility: 'name_and_type' }),
      });
      expect(put.status).toBe(200);
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });

    it('a whole-day leave is an all-day event titled with name and type, written as the owner; a revert removes it', async () => {
      const c = code('days');
      await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_alice', start: '2024-09-05 00:00:00', end: '2024-09-07 00:00:00', unit: 'DAY', interval: 2 * 86400 }));
      const rows = await w.outboxRows(`team:${c}`);
      expect(rows.map((r) => r.kind)).toEqual(['team_calendar.sync']);
      await w.drainer.drainOnce({ keys: [c, `team:${c}`] });

      const events = w.confirmed(TEAM);
      const mine = events.filter((e) => e.id === teamId(c));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ summary: 'Alice — Annual leave', transparency: 'transparent', start: { date: '2024-09-05' }, end: { date: '2024-09-07' } });
      expect(w.google.calls.filter((x) => x.calendarId === TEAM).every((x) => x.subject === OWNER)).toBe(true);
      // the contact API's answer is kept: her name, and her departments for department feeds
      const [alice] = await db.db.select().from(employees).where(eq(employees.employeeId, 'u_alice'));
      expect(alice).toMatchObject({ name: 'Alice', departmentIds: ['od_eng', 'od_ops'] });
      // the personal block is untouched by it: Alice's calendar has her out-of-office block
      expect(w.confirmed('alice@example.com').map((e) => e.id)).toEqual([blockEventIdFor(c, '')]);

      await w.send(leaveRevert({ instanceCode: c }));
      await w.drainer.drainOnce({ keys: [c, `team:${c}`] });
      expect(w.confirmed(TEAM).filter((e) => e.id === teamId(c))).toHaveLength(0);
      expect(w.confirmed('alice@example.com')).toHaveLength(0);
    });

    it('V2 naming the type differently from V1 re-syncs the team event (its title shows the type); the same name does not', async () => {
      const c = code('rename');
      const spec = { instanceCode: c, employeeId: 'u_alice', start: '2024-10-15 00:00:00', end: '2024-10-16 00:00:00' };
      await w.send(leaveApprovalV1(spec));
      await w.drainer.drainOnce({ keys: [c, `team:${c}`] });
      expect(w.google.event(TEAM, teamId(c))?.summary).toBe('Alice — Annual leave');
      await w.send(leaveApprovalV2({ ...spec, leaveName: 'Paternity leave' }));
      // the times did not change: no calendar.upsert, but the team event is re-synced
      expect((await w.outboxRows(c)).map((r) => r.kind)).toEqual(['calendar.upsert']);
      expect((await w.outboxRows(`team:${c}`)).map((r) => r.status)).toEqual(['done', 'pending']);
      await w.drainer.drainOnce({ keys: [`team:${c}`] });
      // a type without a policy of its own: the default, name only
      expect(w.google.event(TEAM, teamId(c))?.summary).toBe('Alice — away');
      await w.send(leaveApprovalV2({ ...spec, leaveName: 'Paternity leave' }));
      expect((await w.outboxRows(`team:${c}`)).map((r) => r.status)).toEqual(['done', 'done']);
    });

    it('an hourly leave is a timed event at its instants in the leave zone', async () => {
      const c = code('hours');
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_bob', start: '2024-10-08 14:00:00', end: '2024-10-08 18:00:00', unit: 'HOUR', interval: 4 * 3600 }));
      await w.drainer.drainOnce({ keys: [c, `team:${c}`] });
      const e = w.google.event(TEAM, teamId(c))!;
      expect(e.summary).toBe('Bob — Annual leave');
      expect(e.start).toMatchObject({ timeZone: 'Asia/Shanghai' });
      expect(Date.parse((e.start as { dateTime: string }).dateTime)).toBe(toInstant('2024-10-08 14:00:00', 'Asia/Shanghai').getTime());
      expect(Date.parse((e.end as { dateTime: string }).dateTime)).toBe(toInstant('2024-10-08 18:00:00', 'Asia/Shanghai').getTime());
      expect((e.start as Record<string, unknown>).date).toBeUndefined();
    });

    it('visibility per policy: the default shows the name only, hidden shows nothing, and a change re-syncs future absences only', async () => {
      const past = code('sick-past');
      const future = code('sick-future');
      await w.send(leaveApprovalV1({ instanceCode: past, employeeId: 'u_carol', leaveName: 'Sick leave', start: '2024-09-05 00:00:00', end: '2024-09-06 00:00:00' }));
      await w.send(leaveApprovalV1({ instanceCode: future, employeeId: 'u_carol', leaveName: 'Sick leave', start: '2099-01-05 00:00:00', end: '2099-01-06 00:00:00' }));
      await w.drainer.drainOnce({ keys: [past, future, `team:${past}`, `team:${future}`] });
      expect(w.google.event(TEAM, teamId(past))).toMatchObject({ summary: 'Carol — away', status: 'confirmed' });
      expect(w.google.event(TEAM, teamId(future))).toMatchObject({ summary: 'Carol — away', status: 'confirmed' });

      const put = await w.t.admin('/api/policies/Sick%20leave', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ calendar: 'outOfOffice', visibility: 'hidden' }),
      });
      expect(await put.json()).toMatchObject({ resynced: 1 });
      expect((await w.outboxRows(`team:${past}`)).map((r) => r.status)).toEqual(['done']);
      expect((await w.outboxRows(`team:${future}`)).map((r) => r.status)).toEqual(['done', 'pending']);
      // the personal block's policy did not change: no calendar sync for it
      expect((await w.outboxRows(future)).map((r) => r.status)).toEqual(['done']);
      await w.drainer.drainOnce({ keys: [`team:${future}`] });
      expect(w.google.event(TEAM, teamId(future))?.status).toBe('cancelled');
      expect(w.google.event(TEAM, teamId(past))?.status).toBe('confirmed');

      // a new hidden absence never reaches the team calendar
      const hidden = code('sick-new');
      await w.send(leaveApprovalV1({ instanceCode: hidden, employeeId: 'u_carol', leaveName: 'Sick leave', start: '2099-02-05 00:00:00', end: '2099-02-06 00:00:00' }));
      await w.drainer.drainOnce({ keys: [hidden, `team:${hidden}`] });
      expect(w.google.event(TEAM, teamId(hidden))).toBeUndefined();
      expect(w.confirmed('carol@example.com').map((e) => e.id)).toContain(blockEventIdFor(hidden, ''));
    });

    it('the reconciliation: a team event deleted, retitled or made by hand is missing, mismatched or orphaned; a sync repairs it', async () => {
      const gone = code('rec-gone');
      const edited = code('rec-edit');
      await w.send(leaveApprovalV1({ instanceCode: gone, employeeId: 'u_alice', start: '2025-01-13 00:00:00', end: '2025-01-14 00:00:00' }));
      await w.send(leaveApprovalV1({ instanceCode: edited, employeeId: 'u_bob', start: '2025-01-14 09:00:00', end: '2025-01-14 12:00:00', unit: 'HOUR', interval: 3 * 3600 }));
      await w.drainer.drainOnce({ keys: [gone, edited, `team:${gone}`, `team:${edited}`] });
      const report = async () =>
        ((await (await w.t.admin('/api/reconciliation?from=2025-01-13&to=2025-01-14&verify=google')).json()) as {
          summary: Record<string, number>;
          items: Array<{ category: string; instance_code: string | null; action: string }>;
        });
      const clean = await report();
      expect(clean.items.filter((i) => i.category.startsWith('team_calendar'))).toEqual([]);
      expect(clean.summary).toMatchObject({ team_calendar_missing: 0, team_calendar_orphan: 0, team_calendar_mismatch: 0 });

      w.google.cancelEvent(TEAM, teamId(gone));
      w.google.alterEvent(TEAM, teamId(edited), { summary: 'Bob — Sick leave' });
      w.google.putEvent(TEAM, {
        id: 'lbstray0000',
        status: 'confirmed',
        eventType: 'default',
        summary: 'Nobody — away',
        start: { date: '2025-01-13' },
        end: { date: '2025-01-14' },
        extendedProperties: { private: { leaveBridge: '1', instanceCode: 'NO-SUCH-RECORD', blockKey: 'team' } },
      });
      const drift = (await report()).items.filter((i) => i.category.startsWith('team_calendar'));
      expect(drift.map((i) => [i.category, i.instance_code]).sort()).toEqual(
        [
          ['team_calendar_missing', gone],
          ['team_calendar_mismatch', edited],
          ['team_calendar_orphan', 'NO-SUCH-RECORD'],
        ].sort(),
      );
      expect(drift.find((i) => i.category === 'team_calendar_missing')!.action).toContain(`/api/approvals/${gone}/sync`);

      for (const c of [gone, edited]) expect((await w.t.admin(`/api/approvals/${c}/sync`, { method: 'POST' })).status).toBe(200);
      await w.drainer.drainOnce({ keys: [gone, edited, `team:${gone}`, `team:${edited}`] });
      w.google.purgeEvent(TEAM, 'lbstray0000');
      expect((await report()).items.filter((i) => i.category.startsWith('team_calendar'))).toEqual([]);
      expect(w.google.event(TEAM, teamId(edited))?.summary).toBe('Bob — Annual leave');
    });

    it('a trip with a peer: one team event per traveller, over the whole trip', async () => {
      const c = code('trip');
      await w.send(
        tripApproval({
          instanceCode: c,
          employeeId: 'u_alice',
          peers: ['u_carol'],
          schedules: [
            { start: '2024-11-04 09:00:00', end: '2024-11-05 18:00:00', interval: '172800' },
            { start: '2024-11-07 09:00:00', end: '2024-11-08 18:00:00', interval: '172800' },
          ],
        }),
      );
      await w.drainer.drainOnce({ keys: [c, `team:${c}`] });
      const alice = w.google.event(TEAM, teamId(c))!;
      const carol = w.google.event(TEAM, teamId(c, 'team@u_carol'))!;
      // a trip's type has no policy of its own: the default, name only
      expect(alice.summary).toBe('Alice — away');
      expect(carol.summary).toBe('Carol — away');
      for (const e of [alice, carol]) {
        expect(Date.parse((e.start as { dateTime: string }).dateTime)).toBe(toInstant('2024-11-04 09:00:00', 'Asia/Shanghai').getTime());
        expect(Date.parse((e.end as { dateTime: string }).dateTime)).toBe(toInstant('2024-11-08 18:00:00', 'Asia/Shanghai').getTime());
      }
      expect(w.google.violations).toEqual([]);
    });

    it('a Google refusal for the team calendar holds only the team row; the personal block is written', async () => {
      const c = code('refused');
      // as when the owner's delegation is withdrawn: every call on the team calendar answers 401
      w.google.faults.add({ calendarId: TEAM, fault: googleError(401, 'authError', 'Invalid Credentials'), times: Infinity });
      try {
        await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_bob', start: '2024-12-02 09:00:00', end: '2024-12-02 12:00:00', unit: 'HOUR', interval: 3 * 3600 }));
        await w.drainer.drainOnce({ keys: [c, `team:${c}`] });
        const [team] = await w.outboxRows(`team:${c}`);
        expect(team).toMatchObject({ status: 'held', attempts: 0 });
        expect((await w.outboxRows(c)).map((r) => r.status)).toEqual(['done']);
        expect(w.confirmed('bob@example.com').map((e) => e.id)).toContain(blockEventIdFor(c, ''));
      } finally {
        w.google.faults.clear();
      }
    });
  });
}

describe('team calendar off (pglite)', () => {
  let db: TestDatabase;
  let w: World;
  beforeAll(async () => {
    db = await BACKENDS[1]!.create();
    w = await startWorld(db);
    w.feishu.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice', email: 'alice@example.com' });
  });
  afterAll(async () => {
    await w?.close();
    await db?.close();
  });

  it('enqueues nothing for the team calendar when GOOGLE_TEAM_CALENDAR_ID is unset', async () => {
    const c = code('off');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice' }));
    await w.send(leaveRevert({ instanceCode: c }));
    expect((await w.outboxRows()).map((r) => r.kind).sort()).toEqual(['calendar.delete', 'calendar.upsert']);
  });
});

describe('team calendar convergence under Google faults (postgres)', { timeout: 240_000 }, () => {
  let db: TestDatabase;
  let w: World;
  const people = Array.from({ length: 8 }, (_, i) => ({ id: `u_t${i}`, email: `t${i}@example.com`, name: `Person ${i}` }));
  beforeAll(async () => {
    db = await createPostgresDatabase();
    w = await startWorld(db, { env: TEAM_ENV, calendarTimeoutMs: 300, drainer: { maxAttempts: 30 }, google: { seed: 11 } });
    w.google.share(TEAM, OWNER);
    for (const p of people) w.feishu.addUser({ user_id: p.id, email: p.email, name: p.name });
  });
  afterAll(async () => {
    await w?.close();
    await db?.close();
  });

  it('60 absences (18 reverted) leave exactly one team event per approved absence with 30% of calls failing', async () => {
    w.google.faults.random({ rate: 0.3, kinds: ['http500', 'http503', 'http429', 'rateLimitExceeded', 'userRateLimitExceeded', 'hang', 'reset'] });
    const absences = Array.from({ length: 60 }, (_, i) => {
      const day = String(1 + (i % 28)).padStart(2, '0');
      const whole = i % 2 === 0;
      return {
        code: code(`fault${i}`),
        person: people[i % people.length]!,
        start: whole ? `2025-03-${day} 00:00:00` : `2025-03-${day} 09:00:00`,
        end: whole ? `2025-03-${day} 00:00:00`.replace(/-(\d\d) /, (_m, d: string) => `-${String(Number(d) + 1).padStart(2, '0')} `) : `2025-03-${day} 18:00:00`,
        whole,
        reverted: i % 10 < 3,
      };
    });
    w.drainer.start();
    try {
      for (let i = 0; i < absences.length; i += 10) {
        await Promise.all(
          absences.slice(i, i + 10).map((a) =>
            w.send(
              leaveApprovalV1({
                instanceCode: a.code,
                employeeId: a.person.id,
                start: a.start,
                end: a.end,
                unit: a.whole ? 'DAY' : 'HOUR',
                interval: a.whole ? 86400 : 9 * 3600,
              }),
            ),
          ),
        );
      }
      await Promise.all(absences.filter((a, i) => a.reverted && i % 2 === 0).map((a) => w.send(leaveRevert({ instanceCode: a.code }))));
      await settled(w);
      await Promise.all(absences.filter((a, i) => a.reverted && i % 2 === 1).map((a) => w.send(leaveRevert({ instanceCode: a.code }))));
      await settled(w);
    } finally {
      await w.drainer.stop();
      w.google.faults.clear();
    }
    expect(w.google.calls.filter((c) => c.fault !== undefined && c.calendarId === TEAM).length).toBeGreaterThan(10);
    const rows = await w.outboxRows();
    expect(rows.filter((r) => r.status === 'dead' || r.status === 'held')).toEqual([]);

    const wanted = absences.filter((a) => !a.reverted);
    const confirmed = w.confirmed(TEAM);
    expect(confirmed.map((e) => e.id).sort()).toEqual(wanted.map((a) => teamId(a.code)).sort());
    for (const a of wanted) {
      const e = confirmed.find((x) => x.id === teamId(a.code))!;
      expect(e.summary).toBe(`${a.person.name} — away`);
      if (a.whole) expect(e.start).toMatchObject({ date: a.start.slice(0, 10) });
      else expect(Date.parse((e.start as { dateTime: string }).dateTime)).toBe(toInstant(a.start, 'Asia/Shanghai').getTime());
    }
    const all = w.google.events(TEAM);
    expect(new Set(all.map((x) => x.id)).size).toBe(all.length);
    expect(w.committedInserts(TEAM)).toBe(all.length);
    expect(w.google.violations).toEqual([]);
  });
});
