import net from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarBlocks, employees, outbox } from '../../src/db/schema.js';
import { connectPostgres } from '../../src/db/node-client.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { eventIdFor } from '../../src/google/ids.js';
import { createDrainer } from '../../src/outbox/drain.js';
import { handleMessage } from '../../src/outbox/handlers.js';
import { readSyncStates } from '../../src/outbox/sync-state.js';
import { ADMIN } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';
import { eventTimes, FAST_DRAINER, startWorld, type World } from '../support/outbox-world.js';
import { waitFor } from '../support/process.js';

let seq = 0;
const code = (tag: string) => `DRAIN-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

describe('outbox drainer mechanics (postgres)', () => {
  let db: TestDatabase;
  let w: World;
  beforeAll(async () => {
    db = await createPostgresDatabase();
    w = await startWorld(db, { calendarTimeoutMs: 400 });
    w.feishu.addUser({ user_id: 'u_m', email: 'm@example.com' });
  });
  afterAll(async () => {
    await w?.close();
    await db?.close();
  });

  const makeDue = (id: number) => db.db.update(outbox).set({ runAfter: sql`now()` }).where(eq(outbox.id, id));
  const counter = async (app: World['t']['app'], name: string) => {
    const text = await (await app.request('/metrics')).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  };

  it('per-key order: a revert waits for the upsert before it, even while that upsert is in backoff', async () => {
    const c = code('order');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    w.google.faults.add({ op: 'insert', calendarId: 'm@example.com', fault: 'http503', times: 2 }); // the run and its quick retry
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, backoff: { baseMs: 3_600_000, maxMs: 3_600_000 } });
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ retried: 1 });
    const [upsert] = await w.outboxRows(c);
    expect(upsert).toMatchObject({ status: 'pending', attempts: 1 });
    expect(upsert!.lastError).toMatch(/transient 503/);
    expect(upsert!.runAfter.getTime()).toBeGreaterThan(Date.now() + 25 * 60_000); // equal jitter: ≥ half the step

    await w.send(leaveRevert({ instanceCode: c }));
    // the delete is due but must not overtake the upsert
    expect((await d.drainOnce({ keys: [c] })).claimed).toBe(0);
    expect((await w.outboxRows(c)).map((r) => [r.kind, r.status])).toEqual([
      ['calendar.upsert', 'pending'],
      ['calendar.delete', 'pending'],
    ]);

    await makeDue(upsert!.id);
    const s = await d.drainOnce({ keys: [c] });
    expect(s).toMatchObject({ claimed: 2, done: 2 });
    const rows = await w.outboxRows(c);
    // the upsert read the CURRENT state (reverted) and created nothing; as the address was already
    // resolved (its first run may have reached Google), it made sure no block exists
    expect(rows[0]!.result).toMatchObject({ action: 'already_gone', calendar_id: 'm@example.com' });
    expect(rows[0]!.doneAt!.getTime()).toBeLessThanOrEqual(rows[1]!.doneAt!.getTime());
    expect(w.google.events('m@example.com').filter((e) => e.id === eventIdFor(c))).toHaveLength(0);
  });

  it('a row that fails while a newer one of the same key+kind is pending: the older stays, the newer is superseded', async () => {
    const c = code('collide');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m', start: '2025-04-01 09:00:00', end: '2025-04-01 12:00:00', unit: 'HOUR', interval: 3 * 3600 }));
    // the first run hangs past the client timeout (400 ms) on both tries, so it is running for a while
    w.google.faults.add({ op: 'insert', calendarId: 'm@example.com', fault: 'hang', times: 2 });
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, backoff: { baseMs: 3_600_000, maxMs: 3_600_000 } });
    const run = d.drainOnce({ keys: [c] });
    await waitFor('the upsert to be running', async () => (await w.outboxRows(c))[0]?.status === 'running');
    // V2 changes the times while the upsert runs: a fresh pending upsert (running rows are not coalesced into)
    await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_m', range: [['2025-04-01 13:00:00', '2025-04-01 18:00:00']], start: '2025-04-01 13:00:00', end: '2025-04-01 18:00:00', unit: 'HOUR', interval: 5 * 3600 }));
    expect((await w.outboxRows(c)).map((r) => r.status)).toEqual(['running', 'pending']);
    expect(await run).toMatchObject({ retried: 1 });
    const [older, newer] = await w.outboxRows(c);
    expect(older).toMatchObject({ status: 'pending', attempts: 1 });
    expect(newer).toMatchObject({ status: 'superseded', result: { superseded_by: older!.id } });

    await makeDue(older!.id);
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ done: 1 });
    // one run, with the newest times
    const e = w.confirmed('m@example.com').find((x) => x.id === eventIdFor(c))!;
    expect(new Date(eventTimes(e).start).toISOString()).toBe('2025-04-01T05:00:00.000Z');
  });

  it('an operator retry of a dead row folds a pending duplicate into it', async () => {
    const c = code('retry-fold');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    const [first] = await w.outboxRows(c);
    await db.db.update(outbox).set({ status: 'dead', lastError: 'x' }).where(eq(outbox.id, first!.id));
    await w.send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_m', start: '2024-09-05 00:00:00', end: '2024-09-07 00:00:00', interval: 2 * 86400 }));
    const [, second] = await w.outboxRows(c);
    expect(second).toMatchObject({ status: 'pending', kind: 'calendar.upsert' });
    const res = await w.t.admin(`/api/outbox/${first!.id}/retry`, { method: 'POST' });
    expect(await res.json()).toMatchObject({ status: 'pending', pending_id: first!.id, superseded_id: second!.id });
    expect((await w.outboxRows(c)).map((r) => r.status)).toEqual(['pending', 'superseded']);
    // retrying the superseded one is refused; retrying a done one too
    expect((await w.t.admin(`/api/outbox/${second!.id}/retry`, { method: 'POST' })).status).toBe(409);
    await w.drainer.drainOnce({ keys: [c] });
    expect((await w.t.admin(`/api/outbox/${first!.id}/retry`, { method: 'POST' })).status).toBe(409);
  });

  it('transient failures end dead after OUTBOX_MAX_ATTEMPTS, with the last reason', async () => {
    w.feishu.addUser({ user_id: 'u_down', email: 'down@example.com' });
    const c = code('maxatt');
    w.google.faults.add({ op: 'insert', calendarId: 'down@example.com', fault: 'http503', times: Infinity });
    try {
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_down' }));
      const d = createDrainer(w.t.deps, { ...FAST_DRAINER, maxAttempts: 3 });
      d.start();
      try {
        await waitFor('the row to go dead', async () => (await w.outboxRows(c))[0]?.status === 'dead');
      } finally {
        await d.stop();
      }
    } finally {
      w.google.faults.clear();
    }
    const [row] = await w.outboxRows(c);
    expect(row).toMatchObject({ status: 'dead', attempts: 3 });
    expect(row!.lastError).toMatch(/\[transient 503 backendError\].*\(after 3 attempts\)/);
    // each run = the call + one quick retry
    expect(w.google.calls.filter((x) => x.op === 'insert' && x.calendarId === 'down@example.com')).toHaveLength(6);
  });

  it('wake(keys): a fresh leave\'s row runs ahead of a backlog claimed before it', async () => {
    const backlog = Array.from({ length: 12 }, (_, i) => code(`backlog${i}`));
    for (const c of backlog) await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, concurrency: 1, pollMs: 60_000 });
    const wakeBefore = w.t.deps.onOutboxWritten;
    w.t.deps.onOutboxWritten = (keys) => d.wake(keys);
    w.google.faults.latencyMs = 60;
    try {
      d.start();
      await waitFor('the backlog to start', async () => (await w.outboxRows(backlog[0]!))[0]?.status !== 'pending');
      const fresh = code('fresh');
      await w.send(leaveApprovalV1({ instanceCode: fresh, employeeId: 'u_m' }));
      await waitFor('the fresh leave\'s block', async () => (await w.outboxRows(fresh))[0]?.status === 'done');
      const doneBacklog = (await Promise.all(backlog.map(async (c) => (await w.outboxRows(c))[0]!.status))).filter((s) => s === 'done');
      // without the keys, the fresh row would be claimed after every older due row
      expect(doneBacklog.length).toBeLessThanOrEqual(4);
      await waitFor('the backlog to finish', async () =>
        (await Promise.all(backlog.map(async (c) => (await w.outboxRows(c))[0]!.status))).every((s) => s === 'done'),
      );
    } finally {
      w.google.faults.latencyMs = 0;
      w.t.deps.onOutboxWritten = wakeBefore;
      await d.stop();
    }
  });

  it('fencing: a run whose lease was taken over cannot complete, and queues a repair sync', async () => {
    const c = code('fence');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    w.google.faults.latencyMs = 300;
    try {
      const d = createDrainer(w.t.deps, FAST_DRAINER);
      const run = d.drainOnce({ keys: [c] });
      await waitFor('running', async () => (await w.outboxRows(c))[0]?.status === 'running');
      const [row] = await w.outboxRows(c);
      // another drainer took the row over (as after an expired lease)
      await db.db.update(outbox).set({ leasedBy: 'intruder#1' }).where(eq(outbox.id, row!.id));
      expect(await run).toMatchObject({ lost: 1, done: 0 });
    } finally {
      w.google.faults.latencyMs = 0;
    }
    const rows = await w.outboxRows(c);
    expect(rows[0]).toMatchObject({ status: 'running', leasedBy: 'intruder#1' });
    expect(rows[1]).toMatchObject({ kind: 'calendar.upsert', status: 'pending', payload: { repair: expect.stringMatching(/lease of message/) } });
    // Google did change: the block is recorded even though the completion was fenced out
    const [block] = await db.db.select().from(calendarBlocks).where(eq(calendarBlocks.instanceCode, c));
    expect(block).toMatchObject({ state: 'present', calendarId: 'm@example.com', eventId: eventIdFor(c) });
  });

  it('runs that finish together complete in one statement; a fenced-out one among them is lost alone', async () => {
    const codes = Array.from({ length: 8 }, (_, i) => code(`together${i}`));
    for (const c of codes) await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    const d = createDrainer(w.t.deps, FAST_DRAINER);
    const before = await counter(w.t.app, 'leave_bridge_outbox_completions_batched_total');
    const callsBefore = w.google.calls.length;
    // Completions write calendar_blocks: while another transaction locks it, the first two
    // completion statements wait and the rest queue, so they must go together once it is released
    // (without it, whether runs overlap depends on the machine's speed).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.db.transaction(async (tx) => {
      await tx.execute(sql`lock table calendar_blocks in share row exclusive mode`);
      locked();
      await gate;
    });
    await isLocked;
    w.google.faults.latencyMs = 200; // time to take one row over while the runs are at Google
    let run;
    try {
      run = d.drainOnce({ keys: codes });
      await waitFor('all eight running', async () => (await Promise.all(codes.map((c) => w.outboxRows(c)))).every((r) => r[0]?.status === 'running'));
      // another drainer takes one of them over
      const [taken] = await w.outboxRows(codes[3]!);
      await db.db.update(outbox).set({ leasedBy: 'intruder#1' }).where(eq(outbox.id, taken!.id));
      await waitFor('Google to answer all eight', () => w.google.calls.slice(callsBefore).filter((x) => x.op === 'insert').length === 8);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      release();
      await holder;
      w.google.faults.latencyMs = 0;
    }
    const summary = await run;
    expect(summary).toMatchObject({ claimed: 8, done: 7, lost: 1 });
    expect(await counter(w.t.app, 'leave_bridge_outbox_completions_batched_total')).toBeGreaterThan(before);
    for (const [i, c] of codes.entries()) {
      const [row] = await w.outboxRows(c);
      expect(row!.status).toBe(i === 3 ? 'running' : 'done');
      // the block is recorded for every run, the fenced-out one included (it describes Google)
      const [block] = await db.db.select().from(calendarBlocks).where(eq(calendarBlocks.instanceCode, c));
      expect(block).toMatchObject({ state: 'present', calendarId: 'm@example.com', eventId: eventIdFor(c) });
    }
  });

  it('a slow run keeps its lease (heartbeat): a second drainer does not take it over', async () => {
    const c = code('slow');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    const patient = createGoogleCalendar({ key: w.google.serviceAccountKey, baseUrl: w.google.url, timeoutMs: 10_000 });
    const a = createDrainer({ ...w.t.deps, calendar: patient }, { ...FAST_DRAINER, leaseSeconds: 2, workerId: 'slow-a' });
    const b = createDrainer(w.t.deps, { ...FAST_DRAINER, leaseSeconds: 2, workerId: 'eager-b' });
    w.google.faults.latencyMs = 3_000; // each call (token, insert) outlasts the 2 s lease
    let bClaimed = 0;
    try {
      const run = a.drainOnce({ keys: [c] });
      await waitFor('a to run it', async () => (await w.outboxRows(c))[0]?.status === 'running');
      let finished = false;
      void run.finally(() => (finished = true));
      while (!finished) {
        bClaimed += (await b.drainOnce({ keys: [c] })).claimed;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await run).toMatchObject({ done: 1 });
    } finally {
      w.google.faults.latencyMs = 0;
    }
    expect(bClaimed).toBe(0);
    expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'done', attempts: 0, leasedBy: expect.stringMatching(/^slow-a#/) });
  });

  it('loop mode claims ahead: a waiting row keeps its lease and goes back untouched at stop', async () => {
    // its own database: a drainer in loop mode claims every due row, not only this test's
    const own = await createPostgresDatabase();
    const ow = await startWorld(own, { calendarTimeoutMs: 10_000 });
    try {
      ow.feishu.addUser({ user_id: 'u_m', email: 'm@example.com' });
      const codes = [code('ahead1'), code('ahead2'), code('ahead3')];
      for (const c of codes) await ow.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
      const rows = () => own.db.select().from(outbox).orderBy(outbox.id);
      ow.google.faults.latencyMs = 1_500; // every call outlasts the 1 s lease
      // one slot, one row claimed ahead of it
      const a = createDrainer(ow.t.deps, { ...FAST_DRAINER, concurrency: 1, leaseSeconds: 1, stopTimeoutMs: 100, workerId: 'ahead-a' });
      const b = createDrainer(ow.t.deps, { ...FAST_DRAINER, leaseSeconds: 1, workerId: 'other-b' });
      a.start();
      try {
        // two rows leased, one of them running (the claim reads the leaves before it starts any)
        await waitFor('a to hold two rows', async () => a.inFlight() === 1 && (await rows()).filter((r) => r.status === 'running').length === 2);
        const held = (await rows()).filter((r) => r.status === 'running');
        expect(held.every((r) => r.leasedBy?.startsWith('ahead-a#'))).toBe(true);
        // past the lease, the heartbeat still keeps both: another drainer finds only the third row
        await new Promise((r) => setTimeout(r, 1_300));
        expect((await b.drainOnce({ keys: held.map((r) => r.key) })).claimed).toBe(0);
      } finally {
        await a.stop();
        ow.google.faults.latencyMs = 0;
      }
      // both went back at once (the run's call still hangs), attempts untouched
      const after = await rows();
      expect(after.map((r) => [r.status, r.attempts, r.leasedBy])).toEqual(codes.map(() => ['pending', 0, null]));
      expect(await b.drainOnce()).toMatchObject({ done: 3 });
      expect(ow.confirmed('m@example.com').map((e) => e.id).sort()).toEqual(codes.map(eventIdFor).sort());
    } finally {
      await ow.close();
      await own.close();
    }
  });

  it('a message whose drainers keep dying on it ends dead instead of looping', async () => {
    const key = code('poison');
    await db.db.insert(outbox).values({ key, kind: 'calendar.upsert', status: 'running', leasedBy: 'gone#1', leaseUntil: sql`now() - interval '1 second'`, attempts: FAST_DRAINER.maxAttempts - 1 });
    expect(await w.drainer.drainOnce({ keys: [key] })).toMatchObject({ dead: 1 });
    const [row] = await w.outboxRows(key);
    expect(row).toMatchObject({ status: 'dead', attempts: FAST_DRAINER.maxAttempts });
    expect(row!.lastError).toMatch(/abandoned 12 times/);
  });

  it('an earlier row put back by an operator does not run beside a later row of the same leave', async () => {
    const key = code('beside');
    const [early] = await db.db.insert(outbox).values({ key, kind: 'calendar.upsert', status: 'pending' }).returning();
    await db.db.insert(outbox).values({ key, kind: 'calendar.delete', status: 'running', leasedBy: 'other#1', leaseUntil: sql`now() + interval '1 minute'` });
    expect((await w.drainer.drainOnce({ keys: [key] })).claimed).toBe(0);
    expect((await w.outboxRows(key))[0]).toMatchObject({ id: early!.id, status: 'pending' });
    await db.db.update(outbox).set({ status: 'done', leaseUntil: null }).where(eq(outbox.key, key));
  });

  it('a run starts from the state read for its whole claim; a quick retry reads it again', async () => {
    const [c1, c2] = [code('state1'), code('state2')];
    for (const c of [c1, c2]) await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_m' }));
    // the address as a first run would have cached it from Feishu
    await db.db.update(employees).set({ email: 'm@example.com' }).where(eq(employees.employeeId, 'u_m'));
    const states = await readSyncStates(w.t.deps.db, [c1, c2, code('absent')]);
    expect([...states.keys()].sort()).toEqual([c1, c2].sort());
    expect(states.get(c1)).toMatchObject({ leave: { instanceCode: c1, status: 'approved' }, block: null, stored: { email: 'm@example.com' } });

    // with a state given, the handler does not read the database at all
    const noDb = new Proxy(w.t.deps.db, {
      get: () => {
        throw new Error('the database was read');
      },
    });
    const msg = { id: 0, key: c1, kind: 'calendar.upsert', payload: {}, attempts: 0 };
    const outcome = await handleMessage({ ...w.t.deps, db: noDb }, msg, states.get(c1));
    expect(outcome.result).toMatchObject({ action: 'created', calendar_id: 'm@example.com' });

    // The claim's state goes stale when the leave is reverted during the first attempt; that
    // attempt fails (503), and the quick retry reads the leave again: it removes, not places.
    const patient = createGoogleCalendar({ key: w.google.serviceAccountKey, baseUrl: w.google.url, timeoutMs: 10_000 });
    const d = createDrainer({ ...w.t.deps, calendar: patient }, FAST_DRAINER);
    w.google.faults.add({ op: 'insert', calendarId: 'm@example.com', fault: 'http503', times: 1 });
    w.google.faults.latencyMs = 1_000;
    let summary;
    try {
      const run = d.drainOnce({ keys: [c2] });
      await waitFor('the upsert to run', async () => (await w.outboxRows(c2))[0]?.status === 'running');
      await w.send(leaveRevert({ instanceCode: c2 }));
      summary = await run;
    } finally {
      w.google.faults.latencyMs = 0;
    }
    // the upsert, then the revert's delete
    expect(summary).toMatchObject({ claimed: 2, done: 2 });
    const [upsert] = await w.outboxRows(c2);
    expect(upsert!.result).toMatchObject({ action: 'already_gone', calendar_id: 'm@example.com' });
    expect(w.google.events('m@example.com').filter((e) => e.id === eventIdFor(c2))).toHaveLength(0);
  });

  it('an unknown kind is dead at once', async () => {
    const [row] = await db.db.insert(outbox).values({ key: code('kind'), kind: 'calendar.teleport' }).returning();
    await w.drainer.drainOnce({ keys: [row!.key] });
    const [after] = await w.outboxRows(row!.key);
    expect(after).toMatchObject({ status: 'dead' });
    expect(after!.lastError).toMatch(/unknown outbox kind/);
  });

  it('gauges: rows per status and the lag of the oldest due pending row', async () => {
    const key = code('lag');
    await db.db.insert(outbox).values({ key, kind: 'calendar.upsert', runAfter: sql`now() - interval '90 seconds'` });
    const text = await (await w.t.app.request('/metrics')).text();
    const lag = Number(/^leave_bridge_outbox_lag_seconds (\S+)$/m.exec(text)?.[1]);
    expect(lag).toBeGreaterThanOrEqual(90);
    expect(text).toMatch(/leave_bridge_outbox_messages\{status="pending"\} [1-9]/);
    expect(text).toMatch(/leave_bridge_outbox_messages\{status="dead"\} [1-9]/);
    await w.drainer.drainOnce({ keys: [key] });
  });

  it('admin API: validation, auth', async () => {
    expect((await w.t.app.request('/api/outbox')).status).toBe(401);
    expect((await w.t.app.request('/api/outbox', { headers: { authorization: `Bearer ${ADMIN}x` } })).status).toBe(401);
    const bad = await w.t.admin('/api/outbox?status=bogus');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'invalid_query', message: expect.stringMatching(/^status:/) } });
    expect((await w.t.admin('/api/outbox/abc/retry', { method: 'POST' })).status).toBe(400);
    const put = (body: string) => w.t.admin('/api/employees/u_x', { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    expect((await put('{"email":"not-an-email"}')).status).toBe(400);
    expect(await (await put('{"timezone":"Asia/Shangai"}')).json()).toEqual({ error: { code: 'invalid_body', message: expect.stringMatching(/timezone/) } });
    expect((await put('{}')).status).toBe(400);
    expect((await put('{"emial":"a@b.co"}')).status).toBe(400);
    expect((await put('nope')).status).toBe(400);
  });
});

/**
 * A TCP hop to Postgres that the test can cut (listener closed: connections refused, open ones
 * dropped) and restore on the same port: "the database is down".
 */
async function startCuttableProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    restore: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

describe('outbox drainer while the database is down (postgres)', () => {
  it('pauses without burning attempts and resumes when the database is back', async () => {
    const db = await createPostgresDatabase();
    const target = new URL(db.url!);
    const proxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(db.url!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const flaky = connectPostgres(viaProxy.toString(), { max: 4, connectTimeout: 1 });
    const w = await startWorld(db);
    try {
      w.feishu.addUser({ user_id: 'u_db', email: 'db@example.com' });
      const c = code('dbdown');
      await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_db' }));
      const deps = { ...w.t.deps, db: flaky.db };
      const d = createDrainer(deps, { ...FAST_DRAINER, maxDatabasePauseMs: 200 });
      await proxy.cut();
      d.start();
      await waitFor('the drainer to notice', () => deps.metrics.value('leave_bridge_outbox_database_unavailable_total') >= 2);
      expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'pending', attempts: 0 });
      await proxy.restore();
      await waitFor('the row to be done once the database is back', async () => (await w.outboxRows(c))[0]?.status === 'done');
      await d.stop();
      expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'done', attempts: 0 });
      expect(w.confirmed('db@example.com').map((e) => e.id)).toEqual([eventIdFor(c)]);
    } finally {
      await flaky.close().catch(() => {});
      await proxy.close();
      await w.close();
      await db.close();
    }
  });
});
