import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toInstant } from '../../src/shared/local-time.js';
import { createDrainer } from '../../src/outbox/drain.js';
import { BACKENDS, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';
import { eventIdFor, eventTimes, FAST_DRAINER, startWorld, type World } from '../support/outbox-world.js';
import { waitFor } from '../support/process.js';
import { googleError } from '../fakes/google.js';

let seq = 0;
const code = (tag: string) => `E2E-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

/** Until no row of these keys (or of the whole outbox) is pending or running. */
async function settled(w: World, keys?: string[]) {
  await waitFor(
    'outbox to settle',
    async () => {
      const rows = (await w.outboxRows()).filter((r) => !keys || keys.includes(r.key));
      return rows.length > 0 && rows.every((r) => r.status !== 'pending' && r.status !== 'running');
    },
    90_000,
  );
}

for (const backend of BACKENDS) {
  describe(`calendar blocks end to end through the webhook (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db);
      w.feishu.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice', email: 'alice@example.com' });
      w.feishu.addUser({ user_id: 'u_bob', open_id: 'ou_bob', name: 'Bob', enterprise_email: 'bob@corp.example.com' });
      w.feishu.addUser({ user_id: 'u_nomail', open_id: 'ou_nomail', name: 'No Mail' });
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });

    it('approve → one out-of-office block with the right start/end/zone on the right calendar; revert → gone', async () => {
      const c = code('approve');
      const r = await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice', start: '2024-09-05 09:00:00', end: '2024-09-06 18:00:00', unit: 'HOUR', interval: 18 * 3600 }));
      expect(r.json.status).toBe('applied');
      const s = await w.drainer.drainOnce({ keys: [c] });
      expect(s).toMatchObject({ done: 1, dead: 0, held: 0 });

      const id = eventIdFor(c);
      const onAlice = w.confirmed('alice@example.com').filter((e) => e.id === id);
      expect(onAlice).toHaveLength(1);
      const e = onAlice[0]!;
      expect(e.eventType).toBe('outOfOffice');
      expect(e.summary).toBe('Out of office');
      expect(e.outOfOfficeProperties).toMatchObject({ autoDeclineMode: 'declineOnlyNewConflictingInvitations' });
      const times = eventTimes(e);
      // Asia/Shanghai (the default zone) is UTC+8: 09:00 local is 01:00Z
      expect(new Date(times.start).toISOString()).toBe('2024-09-05T01:00:00.000Z');
      expect(new Date(times.end).toISOString()).toBe('2024-09-06T10:00:00.000Z');
      expect(times.startZone).toBe('Asia/Shanghai');
      expect(times.endZone).toBe('Asia/Shanghai');
      // the Feishu address was looked up once and cached
      expect(w.feishu.calls('user.get')).toBeGreaterThanOrEqual(1);

      const leave = (await (await w.t.admin(`/api/leaves/${c}`)).json()) as { calendar: Record<string, unknown>; email: string };
      expect(leave.email).toBe('alice@example.com');
      expect(leave.calendar).toMatchObject({ state: 'present', event_id: id, calendar_id: 'alice@example.com', event_type: 'outOfOffice', pending: false });

      const rv = await w.send(leaveRevert({ instanceCode: c }));
      expect(rv.json.status).toBe('applied');
      expect((await w.drainer.drainOnce({ keys: [c] })).done).toBe(1);
      expect(w.confirmed('alice@example.com').filter((x) => x.id === id)).toHaveLength(0);
      const after = (await (await w.t.admin(`/api/leaves/${c}`)).json()) as { calendar: Record<string, unknown> };
      expect(after.calendar).toMatchObject({ state: 'deleted', pending: false });
    });

    it('a block deleted by hand in Google: the reconciliation says so, and an operator sync puts it back', async () => {
      const c = code('handdeleted');
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice', start: '2024-10-08 09:00:00', end: '2024-10-08 18:00:00', unit: 'HOUR', interval: 9 * 3600 }));
      await w.drainer.drainOnce({ keys: [c] });
      await w.t.deps.calendar!.deleteBlock('alice@example.com', c);
      const report = async () =>
        ((await (await w.t.admin('/api/reconciliation?from=2024-10-08&to=2024-10-08&verify=google')).json()) as { items: Array<{ category: string; instance_code: string; action: string }> }).items.filter(
          (i) => i.instance_code === c,
        );
      const [mismatch] = await report();
      expect(mismatch).toMatchObject({ category: 'google_mismatch' });
      expect(mismatch!.action).toContain(`/api/approvals/${c}/sync`);
      const sync = await w.t.admin(`/api/leaves/${c}/sync`, { method: 'POST' });
      expect(await sync.json()).toEqual({ instance_code: c, queued: true });
      expect(await (await w.t.admin(`/api/leaves/${c}/sync`, { method: 'POST' })).json()).toEqual({ instance_code: c, queued: false });
      expect((await w.drainer.drainOnce({ keys: [c] })).done).toBe(1);
      expect(w.confirmed('alice@example.com').filter((e) => e.id === eventIdFor(c))).toHaveLength(1);
      expect(await report()).toEqual([]);
      expect((await w.t.admin('/api/leaves/NO-SUCH-LEAVE/sync', { method: 'POST' })).status).toBe(404);
    });

    it('enterprise_email is used when email is empty; a full day is local midnight to midnight', async () => {
      const c = code('bob');
      await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_bob', start: '2024-10-01 00:00:00', end: '2024-10-03 00:00:00', interval: 2 * 86400 }));
      await w.drainer.drainOnce({ keys: [c] });
      const e = w.confirmed('bob@corp.example.com').find((x) => x.id === eventIdFor(c))!;
      expect(new Date(eventTimes(e).start).toISOString()).toBe(toInstant('2024-10-01 00:00:00', 'Asia/Shanghai').toISOString());
      expect(new Date(eventTimes(e).end).toISOString()).toBe('2024-10-02T16:00:00.000Z');
    });

    it('V1 + V2, each delivered 5 times, with the drainer woken by ingest → still one block', async () => {
      const c = code('dup');
      w.drainer.start();
      try {
        const v1 = leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice', start: '2024-11-04 00:00:00', end: '2024-11-05 00:00:00' });
        const v2 = leaveApprovalV2({ instanceCode: c, employeeId: 'u_alice', start: '2024-11-04 00:00:00', end: '2024-11-05 00:00:00' });
        const statuses = await Promise.all([...Array.from({ length: 5 }, () => w.send(v1)), ...Array.from({ length: 5 }, () => w.send(v2))]);
        expect(statuses.filter((s) => s.json.status === 'applied')).toHaveLength(2);
        expect(statuses.filter((s) => s.json.status === 'duplicate')).toHaveLength(8);
        await settled(w, [c]);
      } finally {
        await w.drainer.stop();
      }
      expect(w.confirmed('alice@example.com').filter((e) => e.id === eventIdFor(c))).toHaveLength(1);
      expect(w.google.events('alice@example.com').filter((e) => e.id === eventIdFor(c))).toHaveLength(1);
      const rows = await w.outboxRows(c);
      expect(rows.every((r) => r.status === 'done')).toBe(true);
    });

    it('revert before approve → never a block, no Google call for it', async () => {
      const c = code('early-revert');
      const callsBefore = w.google.calls.length;
      await w.send(leaveRevert({ instanceCode: c }));
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice' }));
      await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_alice' }));
      await w.drainer.drainOnce();
      expect(w.google.events('alice@example.com').filter((e) => e.id === eventIdFor(c))).toHaveLength(0);
      expect(w.google.calls.slice(callsBefore).filter((x) => x.eventId === eventIdFor(c))).toHaveLength(0);
      expect(await w.outboxRows(c)).toHaveLength(0);
    });

    it('an employee with no email is held (attempts untouched) until an override releases it → block created', async () => {
      const c = code('nomail');
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_nomail', start: '2024-12-02 09:00:00', end: '2024-12-02 18:00:00', unit: 'HOUR', interval: 9 * 3600 }));
      const s = await w.drainer.drainOnce({ keys: [c] });
      expect(s.held).toBe(1);
      const [held] = await w.outboxRows(c);
      expect(held).toMatchObject({ status: 'held', attempts: 0 });
      expect(held!.lastError).toMatch(/neither email nor enterprise_email/);
      expect(held!.lastError).toMatch(/employee set u_nomail --email/);

      const listed = (await (await w.t.admin('/api/outbox?status=held')).json()) as { items: Array<{ id: number; last_error: string }> };
      expect(listed.items.map((i) => i.id)).toContain(held!.id);

      const put = await w.t.admin('/api/employees/u_nomail', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nomail@google.example.com', timezone: 'Europe/Berlin' }),
      });
      expect(put.status).toBe(200);
      expect(await put.json()).toMatchObject({ released: 1, employee: { employee_id: 'u_nomail', email: 'nomail@google.example.com', timezone: 'Europe/Berlin' } });

      expect((await w.drainer.drainOnce({ keys: [c] })).done).toBe(1);
      const e = w.confirmed('nomail@google.example.com').find((x) => x.id === eventIdFor(c))!;
      expect(e).toBeDefined();
      // the override's zone applies: 09:00 in Berlin (CET, UTC+1 in December)
      expect(new Date(eventTimes(e).start).toISOString()).toBe('2024-12-02T08:00:00.000Z');
      expect(eventTimes(e).startZone).toBe('Europe/Berlin');

      const employees = (await (await w.t.admin('/api/employees')).json()) as { items: Array<Record<string, unknown>> };
      expect(employees.items.find((x) => x.employee_id === 'u_nomail')).toMatchObject({ email_override: 'nomail@google.example.com', email: 'nomail@google.example.com' });
    });

    it('an override to another address moves an existing block to that calendar', async () => {
      const c = code('move');
      w.feishu.addUser({ user_id: 'u_carol', email: 'carol@feishu.example.com' });
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_carol' }));
      await w.drainer.drainOnce({ keys: [c] });
      expect(w.confirmed('carol@feishu.example.com').map((e) => e.id)).toContain(eventIdFor(c));
      const put = await w.t.admin('/api/employees/u_carol', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'carol@google.example.com' }) });
      expect(await put.json()).toMatchObject({ resynced: 1 });
      await w.drainer.drainOnce({ keys: [c] });
      expect(w.confirmed('carol@feishu.example.com').map((e) => e.id)).not.toContain(eventIdFor(c));
      expect(w.confirmed('carol@google.example.com').map((e) => e.id)).toEqual([eventIdFor(c)]);
    });

    it('without a service account rows are held; a restarted drainer with one releases them', async () => {
      const c = code('nocal');
      const calendar = w.t.deps.calendar;
      w.t.deps.calendar = undefined;
      try {
        await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_alice', start: '2025-01-06 00:00:00', end: '2025-01-07 00:00:00' }));
        expect((await w.drainer.drainOnce({ keys: [c] })).held).toBe(1);
        const [row] = await w.outboxRows(c);
        expect(row).toMatchObject({ status: 'held', attempts: 0 });
        expect(row!.lastError).toMatch(/GOOGLE_SERVICE_ACCOUNT/);
      } finally {
        w.t.deps.calendar = calendar;
      }
      const restarted = createDrainer(w.t.deps, FAST_DRAINER);
      restarted.start();
      try {
        // not settled(): the row is still 'held' until the restarted drainer has released it
        await waitFor('the released row to be done', async () => (await w.outboxRows(c))[0]?.status === 'done', 90_000);
      } finally {
        await restarted.stop();
      }
      expect(w.confirmed('alice@example.com').map((e) => e.id)).toContain(eventIdFor(c));
    });
  });
}

describe('calendar convergence under Google faults (postgres)', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let w: World;
  const employees = Array.from({ length: 10 }, (_, i) => ({ id: `u_f${i}`, email: `f${i}@example.com` }));
  beforeAll(async () => {
    db = await createPostgresDatabase();
    w = await startWorld(db, { calendarTimeoutMs: 300, drainer: { maxAttempts: 30 }, google: { seed: 7 } });
    for (const e of employees) w.feishu.addUser({ user_id: e.id, email: e.email });
  });
  afterAll(async () => {
    await w?.close();
    await db?.close();
  });

  it('100 leaves (30 reverted) converge to exactly the right calendar state with 30% of calls failing', async () => {
    w.google.faults.random({ rate: 0.3, kinds: ['http500', 'http503', 'http429', 'rateLimitExceeded', 'userRateLimitExceeded', 'hang', 'reset'] });
    const leaves = Array.from({ length: 100 }, (_, i) => {
      const day = String(1 + (i % 28)).padStart(2, '0');
      return {
        code: code(`fault${i}`),
        employee: employees[i % employees.length]!,
        start: `2025-03-${day} 09:00:00`,
        end: `2025-03-${day} 18:00:00`,
        reverted: i % 10 < 3,
      };
    });
    w.drainer.start();
    try {
      // deliveries interleave with draining: some reverts land before their upsert ran, some after
      const early = leaves.filter((l, i) => l.reverted && i % 2 === 0);
      const late = leaves.filter((l, i) => l.reverted && i % 2 === 1);
      for (let i = 0; i < leaves.length; i += 10) {
        await Promise.all(
          leaves.slice(i, i + 10).map((l) =>
            w.send(leaveApprovalV1({ instanceCode: l.code, employeeId: l.employee.id, start: l.start, end: l.end, unit: 'HOUR', interval: 9 * 3600 })),
          ),
        );
        await Promise.all(early.filter((l) => leaves.indexOf(l) < i + 10 && leaves.indexOf(l) >= i).map((l) => w.send(leaveRevert({ instanceCode: l.code }))));
      }
      await settled(w);
      await Promise.all(late.map((l) => w.send(leaveRevert({ instanceCode: l.code }))));
      await settled(w);
    } finally {
      await w.drainer.stop();
      w.google.faults.clear();
    }
    const failed = w.google.calls.filter((c) => c.fault !== undefined);
    expect(failed.length).toBeGreaterThan(30); // the faults really happened

    const rows = await w.outboxRows();
    expect(rows.filter((r) => r.status === 'dead' || r.status === 'held')).toEqual([]);
    expect(rows.some((r) => r.attempts > 0)).toBe(true);

    for (const e of employees) {
      const mine = leaves.filter((l) => l.employee === e);
      const wanted = mine.filter((l) => !l.reverted);
      const confirmed = w.confirmed(e.email);
      // exactly the approved leaves, one event each, nothing else
      expect(confirmed.map((x) => x.id).sort()).toEqual(wanted.map((l) => eventIdFor(l.code)).sort());
      for (const l of wanted) {
        const ev = confirmed.find((x) => x.id === eventIdFor(l.code))!;
        expect(ev.eventType).toBe('outOfOffice');
        expect(eventTimes(ev).start).toBe(toInstant(l.start, 'Asia/Shanghai').getTime());
        expect(eventTimes(ev).end).toBe(toInstant(l.end, 'Asia/Shanghai').getTime());
      }
      // zero duplicates: every event Google holds belongs to one of this employee's leaves, once
      const all = w.google.events(e.email);
      expect(new Set(all.map((x) => x.id)).size).toBe(all.length);
      expect(all.every((x) => mine.some((l) => eventIdFor(l.code) === x.id))).toBe(true);
      expect(w.committedInserts(e.email)).toBe(all.length);
    }

    const metrics = await (await w.t.app.request('/metrics')).text();
    expect(metrics).toMatch(/leave_bridge_outbox_handled_total\{kind="calendar.upsert",outcome="done"\} \d+/);
    expect(metrics).toMatch(/leave_bridge_outbox_handled_total\{kind="calendar.upsert",outcome="retry"\} \d+/);
    expect(metrics).toMatch(/^leave_bridge_outbox_messages\{status="pending"\} 0$/m);
    expect(metrics).toMatch(/^leave_bridge_outbox_lag_seconds 0$/m);
  });

  it('bad credentials for one user (token refused) hold the row without burning attempts; a fixed address releases it', async () => {
    w.feishu.addUser({ user_id: 'u_dan', email: 'dan@feishu-only.example.com' });
    w.google.denySubject('dan@feishu-only.example.com');
    const c = code('denied');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_dan' }));
    expect(await w.drainer.drainOnce({ keys: [c] })).toMatchObject({ held: 1 });
    const [row] = await w.outboxRows(c);
    expect(row).toMatchObject({ status: 'held', attempts: 0 });
    expect(row!.lastError).toMatch(/^\[configuration 400 invalid_grant\] Google refused a token for dan@feishu-only.example.com/);
    const put = await w.t.admin('/api/employees/u_dan', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'dan@example.com' }) });
    expect(await put.json()).toMatchObject({ released: 1 });
    expect(await w.drainer.drainOnce({ keys: [c] })).toMatchObject({ done: 1 });
    expect(w.confirmed('dan@example.com').map((e) => e.id)).toEqual([eventIdFor(c)]);
  });

  it('a permanent 400 ends dead with its reason at once, and comes back with a retry through the API', async () => {
    w.feishu.addUser({ user_id: 'u_perm', email: 'perm@example.com' });
    const c = code('perm');
    w.google.faults.add({ op: 'insert', calendarId: 'perm@example.com', fault: googleError(400, 'invalid', 'Invalid start time.'), times: 1 });
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_perm' }));
    const s = await w.drainer.drainOnce({ keys: [c] });
    expect(s.dead).toBe(1);
    const [row] = await w.outboxRows(c);
    expect(row).toMatchObject({ status: 'dead', attempts: 1 });
    expect(row!.lastError).toMatch(/permanent 400 invalid/);
    expect(row!.lastError).toMatch(/Invalid start time/);
    // no quick retries for a permanent failure: one insert was tried
    expect(w.google.calls.filter((x) => x.op === 'insert' && x.calendarId === 'perm@example.com')).toHaveLength(1);

    const dead = (await (await w.t.admin('/api/outbox?status=dead')).json()) as { items: Array<{ id: number; key: string; kind: string; status: string; attempts: number; run_after: string; last_error: string }> };
    expect(dead.items).toEqual([expect.objectContaining({ id: row!.id, key: c, kind: 'calendar.upsert', status: 'dead', attempts: 1, last_error: row!.lastError })]);
    expect(typeof dead.items[0]!.run_after).toBe('string');

    const retry = await w.t.admin(`/api/outbox/${row!.id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ id: row!.id, status: 'pending', pending_id: row!.id });
    expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    // retrying it again: it is not dead or held any more
    const again = await w.t.admin(`/api/outbox/${row!.id}/retry`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: { code: 'not_retryable', message: expect.stringMatching(/is pending/) } });

    expect((await w.drainer.drainOnce({ keys: [c] })).done).toBe(1);
    expect(w.confirmed('perm@example.com').map((e) => e.id)).toEqual([eventIdFor(c)]);
    expect((await w.t.admin('/api/outbox/99999999/retry', { method: 'POST' })).status).toBe(404);
  });
});
