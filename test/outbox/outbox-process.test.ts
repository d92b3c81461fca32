import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../src/db/schema.js';
import { eventIdFor } from '../../src/google/ids.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { testApp } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { serveEnv, startServe, stopServe, type ServeProcess } from '../support/drainer-process.js';
import { encryptedRequest, leaveApprovalV1, leaveRevert } from '../support/feishu.js';
import { waitFor } from '../support/process.js';

/*
 * Real `leave-bridge serve` processes (HTTP + drainer) against one Postgres and the fakes:
 * crash (SIGKILL) mid-call, graceful stop (SIGTERM), and two drainers side by side.
 */

let seq = 0;
const code = (tag: string) => `PROC-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

// Child processes start slowly on a busy 2-core machine: generous bounds (never asserted on).
describe('outbox drainers as real processes (postgres)', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let google: FakeGoogle;
  let feishu: FakeFeishu;
  const procs: ServeProcess[] = [];
  const people = [
    { id: 'u_p1', email: 'p1@example.com' },
    { id: 'u_p2', email: 'p2@example.com' },
  ];

  beforeAll(async () => {
    db = await createPostgresDatabase();
    google = await startFakeGoogle();
    feishu = await startFakeFeishu();
    for (const p of people) feishu.addUser({ user_id: p.id, email: p.email });
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await stopServe(p);
    google.faults.clear();
  });
  afterAll(async () => {
    await google?.close();
    await feishu?.close();
    await db?.close();
  });

  const env = (extra: Record<string, string> = {}) =>
    serveEnv({ databaseUrl: db.url!, google, feishu, extra: { OUTBOX_LEASE_SECONDS: '5', OUTBOX_POLL_MS: '100', OUTBOX_BATCH_SIZE: '8', OUTBOX_CONCURRENCY: '8', ...extra } });
  const serve = async (extra?: Record<string, string>) => {
    const p = await startServe(env(extra));
    procs.push(p);
    return p;
  };
  const rowsOf = async (keys: string[]) => (await db.db.select().from(outbox).orderBy(outbox.id)).filter((r) => keys.includes(r.key));
  /** ingest without a drainer in this process: only the children drain */
  const ingestHere = async (bodies: string[]) => {
    const t = testApp(db);
    for (const b of bodies) expect((await t.post(await encryptedRequest(b))).status).toBe(200);
  };

  it('a drainer killed mid-call loses its rows to another after the lease; no duplicate event', async () => {
    const leaves = Array.from({ length: 8 }, (_, i) => ({ code: code(`kill${i}`), who: people[i % 2]! }));
    await ingestHere(leaves.map((l) => leaveApprovalV1({ instanceCode: l.code, employeeId: l.who.id })));
    // A's inserts never get an answer: half of them were applied by Google first ("after"), half not.
    google.faults.add({ op: 'insert', fault: 'hang', when: 'after', times: 4 });
    google.faults.add({ op: 'insert', fault: 'hang', when: 'before', times: 4 });

    const a = await serve();
    await waitFor('A to be stuck in 8 inserts', () => google.calls.filter((c) => c.op === 'insert' && c.status === 'hang').length === 8, 60_000);
    const keys = leaves.map((l) => l.code);
    const held = await rowsOf(keys);
    expect(held.every((r) => r.status === 'running' && r.leasedBy?.startsWith(a.workerPrefix))).toBe(true);
    a.proc.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');

    const b = await serve();
    await waitFor('B to finish the rows', async () => (await rowsOf(keys)).every((r) => r.status === 'done'), 60_000);

    for (const r of await rowsOf(keys)) {
      expect(r.leasedBy?.startsWith(b.workerPrefix)).toBe(true);
      // the run A never finished counts as an attempt
      expect(r.attempts).toBe(1);
      expect(r.lastError).toMatch(/expired; taken over/);
    }
    for (const p of people) {
      const mine = leaves.filter((l) => l.who === p).map((l) => eventIdFor(l.code)).sort();
      const events = google.events(p.email).filter((e) => mine.includes(e.id));
      expect(events.map((e) => e.id).sort()).toEqual(mine);
      expect(events.every((e) => e.status === 'confirmed' && e.eventType === 'outOfOffice')).toBe(true);
      // each event was created by exactly one insert: B's repeats of A's applied inserts got 409
      const inserts = google.calls.filter((c) => c.op === 'insert' && c.calendarId === p.email);
      expect(inserts.filter((c) => c.committed)).toHaveLength(mine.length);
      expect(inserts.filter((c) => c.status === 409)).toHaveLength(inserts.filter((c) => c.status === 'hang' && c.committed).length);
    }
  });

  it('SIGTERM gives unfinished rows back at once (attempts untouched) and exits 0', async () => {
    const c = code('term');
    await ingestHere([leaveApprovalV1({ instanceCode: c, employeeId: 'u_p1' })]);
    google.faults.add({ op: 'insert', calendarId: 'p1@example.com', fault: 'hang', when: 'before', times: 1 });
    const hangsBefore = google.calls.length;
    const a = await serve();
    // this row's insert (the kill test above left hangs on p1 in the log too)
    await waitFor('A to be stuck in the insert', () => google.calls.slice(hangsBefore).some((x) => x.op === 'insert' && x.status === 'hang' && x.calendarId === 'p1@example.com'), 60_000);
    a.proc.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    const [row] = await rowsOf([c]);
    expect(row).toMatchObject({ status: 'pending', attempts: 0, leasedBy: null, leaseUntil: null });
    expect(a.output()).toMatch(/their rows were released/);

    await serve();
    await waitFor('the next process to finish it', async () => (await rowsOf([c]))[0]!.status === 'done', 60_000);
    expect(google.events('p1@example.com').filter((e) => e.id === eventIdFor(c) && e.status === 'confirmed')).toHaveLength(1);
  });

  it('two drainer processes on one database handle every message exactly once', async () => {
    google.faults.latencyMs = 10; // keep both busy at the same time
    // a long lease: no takeover is wanted here, even if a busy machine stalls a process for seconds
    const [a, b] = await Promise.all([serve({ OUTBOX_LEASE_SECONDS: '60' }), serve({ OUTBOX_LEASE_SECONDS: '60' })]);
    const leaves = Array.from({ length: 40 }, (_, i) => ({ code: code(`two${i}`), who: people[i % 2]!, reverted: i % 4 === 0 }));
    const keys = leaves.map((l) => l.code);
    const insertsBefore = google.calls.filter((c) => c.op === 'insert').length;
    // deliveries go to both processes' webhooks, so both are woken by their own ingests
    const post = async (target: ServeProcess, body: string) => {
      const req = await encryptedRequest(body);
      const res = await fetch(`${target.url}/webhook/feishu`, { method: 'POST', body: req.body, headers: req.headers });
      expect(res.status).toBe(200);
    };
    await Promise.all(leaves.map((l, i) => post(i % 2 ? a : b, leaveApprovalV1({ instanceCode: l.code, employeeId: l.who.id }))));
    await waitFor('all upserts done', async () => {
      const rows = await rowsOf(keys);
      return rows.length === 40 && rows.every((r) => r.status === 'done');
    }, 60_000);
    await Promise.all(leaves.filter((l) => l.reverted).map((l, i) => post(i % 2 ? b : a, leaveRevert({ instanceCode: l.code }))));
    await waitFor('all deletes done', async () => {
      const rows = await rowsOf(keys);
      return rows.length === 50 && rows.every((r) => r.status === 'done');
    }, 60_000);

    const rows = await rowsOf(keys);
    expect(rows.every((r) => r.attempts === 0)).toBe(true);
    const byA = rows.filter((r) => r.leasedBy?.startsWith(a.workerPrefix)).length;
    const byB = rows.filter((r) => r.leasedBy?.startsWith(b.workerPrefix)).length;
    expect(byA + byB).toBe(50);

    // Google saw one insert per leave and one delete per revert: nothing was handled twice
    const calls = google.calls.slice(0).filter((c) => c.op !== 'token');
    const inserts = calls.filter((c) => c.op === 'insert').length - insertsBefore;
    expect(inserts).toBe(40);
    const deletes = calls.filter((c) => c.op === 'delete' && keys.some((k) => eventIdFor(k) === c.eventId));
    expect(deletes).toHaveLength(10);
    expect(new Set(deletes.map((d) => d.eventId)).size).toBe(10);
    expect(calls.filter((c) => (c.op === 'get' || c.op === 'patch') && keys.some((k) => eventIdFor(k) === c.eventId))).toHaveLength(0);

    // and each drainer counted what it did: the two counts add up to the rows, once each
    const done = async (p: ServeProcess) => {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      return [...text.matchAll(/leave_bridge_outbox_handled_total\{kind="[^"]+",outcome="done"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    expect((await done(a)) + (await done(b))).toBe(50);
    for (const p of people) {
      const wanted = leaves.filter((l) => l.who === p && !l.reverted).map((l) => eventIdFor(l.code)).sort();
      const confirmed = google.events(p.email).filter((e) => e.status === 'confirmed' && keys.some((k) => eventIdFor(k) === e.id));
      expect(confirmed.map((e) => e.id).sort()).toEqual(wanted);
    }
  });
});
