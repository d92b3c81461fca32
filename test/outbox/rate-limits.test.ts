import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { silentLogger } from '../../src/logger.js';
import { createDrainer } from '../../src/outbox/drain.js';
import { createPacer } from '../../src/outbox/pacing.js';
import { googleError } from '../fakes/google.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1 } from '../support/feishu.js';
import { FAST_DRAINER, startWorld, type World } from '../support/outbox-world.js';
import { waitFor } from '../support/process.js';

/*
 * Google's rate-limit answers in the drainer: a delay, never a failed attempt.
 * https://developers.google.com/workspace/calendar/api/guides/errors
 */

let seq = 0;
const code = (tag: string) => `RATE-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

describe('rate limits in the drainer (postgres)', { timeout: 60_000 }, () => {
  let db: TestDatabase;
  let w: World;
  beforeAll(async () => {
    db = await createPostgresDatabase();
    w = await startWorld(db);
    w.feishu.addUser({ user_id: 'u_r', email: 'r@example.com' });
  });
  afterEach(() => w.google.faults.clear());
  afterAll(async () => {
    await w?.close();
    await db?.close();
  });

  const metric = async (name: string) => {
    const text = await (await w.t.app.request('/metrics')).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  };

  it('a 429 with Retry-After is waited out: the row runs again no sooner, its attempts untouched', async () => {
    const c = code('retryafter');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_r' }));
    w.google.faults.add({
      op: 'insert',
      calendarId: 'r@example.com',
      fault: { ...googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'), headers: { 'retry-after': '2' } },
    });
    const throttledBefore = await metric('leave_bridge_google_throttled_total');
    const d = createDrainer(w.t.deps, FAST_DRAINER);
    const before = Date.now();
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ throttled: 1, retried: 0, done: 0 });
    const [row] = await w.outboxRows(c);
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row!.lastError).toMatch(/\[rate_limited 429 rateLimitExceeded\]/);
    // Retry-After: 2 → due two seconds on (the database's clock; allow for the round trip)
    expect(row!.runAfter.getTime()).toBeGreaterThanOrEqual(before + 1_500);
    expect(row!.runAfter.getTime()).toBeLessThanOrEqual(Date.now() + 2_500);
    // not quick-retried in the process: one call
    expect(w.google.calls.filter((x) => x.op === 'insert' && x.calendarId === 'r@example.com')).toHaveLength(1);
    expect(await metric('leave_bridge_google_throttled_total')).toBe(throttledBefore + 1);

    // before Retry-After has passed, nothing is due
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ claimed: 0 });
    await waitFor('Retry-After to pass', () => Date.now() >= row!.runAfter.getTime() + 50, 5_000);
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ done: 1 });
    expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'done', attempts: 0 });
  });

  it('rate limits never move a row towards dead, however many there are', async () => {
    const c = code('never-dead');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_r' }));
    // more refusals in a row than OUTBOX_MAX_ATTEMPTS, both kinds, no Retry-After (a backoff step then)
    const mark = w.google.calls.length;
    w.google.faults.add({ op: 'insert', calendarId: 'r@example.com', fault: 'rateLimitExceeded', times: 3 });
    w.google.faults.add({ op: 'insert', calendarId: 'r@example.com', fault: 'userRateLimitExceeded', times: 3 });
    w.google.faults.add({ op: 'insert', calendarId: 'r@example.com', fault: 'http429', times: 3 });
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, maxAttempts: 2 });
    d.start();
    try {
      await waitFor('the row to be done', async () => (await w.outboxRows(c))[0]?.status === 'done', 20_000);
    } finally {
      await d.stop();
    }
    expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'done', attempts: 0 });
    const inserts = w.google.calls.slice(mark).filter((x) => x.op === 'insert' && x.calendarId === 'r@example.com' && x.fault !== undefined);
    expect(inserts.map((x) => x.status)).toEqual([403, 403, 403, 403, 403, 403, 429, 429, 429]);
  });

  it('a transient failure still counts and still ends dead (rate limits are the only free ones)', async () => {
    const c = code('still-dead');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_r' }));
    w.google.faults.add({ op: 'insert', calendarId: 'r@example.com', fault: 'http503', times: Infinity });
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, maxAttempts: 2 });
    d.start();
    try {
      await waitFor('the row to go dead', async () => (await w.outboxRows(c))[0]?.status === 'dead', 20_000);
    } finally {
      await d.stop();
    }
    expect((await w.outboxRows(c))[0]).toMatchObject({ status: 'dead', attempts: 2 });
  });

  it('rate limits halve the concurrency the drainer allows; successes grow it back, never past OUTBOX_CONCURRENCY', async () => {
    const codes = Array.from({ length: 24 }, (_, i) => code(`aimd${i}`));
    for (const c of codes) await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_r' }));
    // the refused rows come back after Retry-After: not within the first drain
    w.google.faults.add({ op: 'insert', fault: { ...googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'), headers: { 'retry-after': '3' } }, times: 8 });
    const d = createDrainer(w.t.deps, { ...FAST_DRAINER, workerId: 'aimd-test', concurrency: 16, batchSize: 16 });
    const gauge = async () => {
      const text = await (await w.t.app.request('/metrics')).text();
      return Number(/^leave_bridge_outbox_concurrency\{worker="aimd-test"\} (\d+)$/m.exec(text)?.[1]);
    };
    expect(await gauge()).toBe(8);
    const first = await d.drainOnce({ keys: codes.slice(0, 8) });
    expect(first.throttled).toBe(8);
    expect(await gauge()).toBe(4); // eight refusals of one window: one halving
    await waitFor('the refused rows to be due', async () => (await w.outboxRows()).every((r) => r.status !== 'pending' || r.runAfter.getTime() <= Date.now()), 10_000);
    const rest = await d.drainOnce({ keys: codes });
    expect(first.done + rest.done).toBe(24);
    const after = await gauge();
    expect(after).toBeGreaterThan(4);
    expect(after).toBeLessThanOrEqual(16);
    for (const r of (await w.outboxRows()).filter((x) => codes.includes(x.key))) expect(r).toMatchObject({ status: 'done', attempts: 0 });
  });

  it('with a pacer, a refusal Google sends anyway empties the shared bucket for its Retry-After', async () => {
    const pacer = createPacer({ db: db.db, logger: silentLogger }, { projectPerMinute: 60_000, userPerMinute: 60_000, share: 1 });
    const paced = createGoogleCalendar({ key: w.google.serviceAccountKey, baseUrl: w.google.url, pacer });
    const c = code('paced');
    await w.send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_r' }));
    w.google.faults.add({ op: 'insert', fault: { ...googleError(403, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'), headers: { 'retry-after': '1' } } });
    const d = createDrainer({ ...w.t.deps, calendar: paced, pacer }, FAST_DRAINER);
    expect(await d.drainOnce({ keys: [c] })).toMatchObject({ throttled: 1 });
    const [bucket] = (await db.db.execute(sql`select tokens from google_quota where name = 'project'`)) as unknown as Array<{ tokens: number }>;
    // a second's worth of tokens owed (1,000 a second here)
    expect(Number(bucket!.tokens)).toBeLessThanOrEqual(-900);
  });
});
