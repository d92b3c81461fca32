import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/client.js';
import { connectPostgres } from '../../src/db/node-client.js';
import { silentLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { createAimd } from '../../src/outbox/aimd.js';
import { createPacer, type QuotaSettings } from '../../src/outbox/pacing.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';

/*
 * The quota buckets (src/outbox/pacing.ts) on both backends, and the adaptive concurrency's bounds.
 * A bucket of rate r and burst b lets at most b + r·t calls through in any t seconds: the tests
 * check when each take was granted against that bound (a lower bound on time, so a slow machine
 * cannot make them fail).
 */

/** Every take's grant time (ms since start): no window may hold more than burst + rate·window (+1 for rounding). */
function withinBound(times: number[], perS: number, burst: number): boolean {
  const t = [...times].sort((a, b) => a - b);
  for (let i = 0; i < t.length; i++) {
    for (let j = i; j < t.length; j++) {
      const allowed = burst + (perS * (t[j]! - t[i]!)) / 1000 + 1;
      if (j - i + 1 > allowed) return false;
    }
  }
  return true;
}

async function timedTakes(pacer: ReturnType<typeof createPacer>, subjects: string[], t0: number): Promise<number[]> {
  return Promise.all(subjects.map((s) => pacer.take(s).then(() => performance.now() - t0)));
}

for (const backend of BACKENDS) {
  describe(`google quota buckets (${backend.name})`, { timeout: 60_000 }, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.create();
    });
    afterAll(async () => {
      await db?.close();
    });
    const reset = () => db.db.execute(sql`delete from google_quota`);

    // project: 20 a second (burst 20); users: not binding
    const project: QuotaSettings = { projectPerMinute: 1200, userPerMinute: 60_000, share: 1 };

    it('the project bucket lets no more than its burst plus its rate through', async () => {
      await reset();
      const pacer = createPacer({ db: db.db, logger: silentLogger }, project);
      const t0 = performance.now();
      const times = await timedTakes(pacer, Array.from({ length: 60 }, (_, i) => `p${i % 7}@example.com`), t0);
      expect(times).toHaveLength(60);
      expect(withinBound(times, 20, 20)).toBe(true);
      // 60 calls at 20 a second with 20 in the bucket: not before two seconds
      expect(Math.max(...times)).toBeGreaterThanOrEqual(1900);
      // calls waiting side by side share statements
      expect(pacer.statements()).toBeLessThan(60);
      await pacer.release();
    });

    it('two pacers on their own connections share the buckets (as two processes do)', async () => {
      await reset();
      const second = db.url ? connectPostgres(db.url, { max: 2 }) : null;
      try {
        const a = createPacer({ db: db.db, logger: silentLogger }, project);
        const b = createPacer({ db: second?.db ?? db.db, logger: silentLogger }, project);
        const t0 = performance.now();
        const subjects = Array.from({ length: 40 }, (_, i) => `s${i % 5}@example.com`);
        const [ta, tb] = await Promise.all([timedTakes(a, subjects, t0), timedTakes(b, subjects, t0)]);
        const all = [...ta, ...tb];
        expect(all).toHaveLength(80);
        expect(withinBound(all, 20, 20)).toBe(true);
        expect(Math.max(...all)).toBeGreaterThanOrEqual(2900);
        await Promise.all([a.release(), b.release()]);
      } finally {
        await second?.close();
      }
    });

    it("a user's bucket holds that user back and nobody else", async () => {
      await reset();
      // users: 2 a second (burst 2); the project: not binding
      const pacer = createPacer({ db: db.db, logger: silentLogger }, { projectPerMinute: 60_000, userPerMinute: 120, share: 1 });
      const t0 = performance.now();
      const [busy, others] = await Promise.all([
        timedTakes(pacer, Array.from({ length: 8 }, () => 'Busy@Example.com'), t0),
        timedTakes(pacer, Array.from({ length: 20 }, (_, i) => `other${i}@example.com`), t0),
      ]);
      expect(withinBound(busy, 2, 2)).toBe(true);
      expect(Math.max(...busy)).toBeGreaterThanOrEqual(2900);
      // the others each had a full bucket: they did not wait behind the busy user
      expect(Math.max(...others)).toBeLessThan(Math.max(...busy));
      const [row] = await queryRows<{ n: number }>(db.db, sql`select count(*)::int as n from google_quota where name like 'user:%'`);
      expect(Number(row!.n)).toBe(21);
      await pacer.release();
    });

    it("Google's refusal empties the bucket for every pacer, for as long as Retry-After said", async () => {
      await reset();
      const a = createPacer({ db: db.db, logger: silentLogger }, project);
      const b = createPacer({ db: db.db, logger: silentLogger }, project);
      await a.take('x@example.com');
      await a.refused('x@example.com', 'project', 1500);
      const t0 = performance.now();
      await b.take('y@example.com');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
    });

    it('a bucket deleted behind its back is made again', async () => {
      await reset();
      const pacer = createPacer({ db: db.db, logger: silentLogger }, project);
      await pacer.take('gone@example.com');
      await pacer.release();
      await reset();
      await pacer.take('gone@example.com');
      const rows = await queryRows<{ name: string }>(db.db, sql`select name from google_quota order by name`);
      expect(rows.map((r) => r.name)).toEqual(['project', 'user:gone@example.com']);
    });

    it('unused tokens go back at release, and /metrics shows what is left', async () => {
      await reset();
      const metrics = new Metrics();
      // users: one a second, burst 1; the project: 20 a second
      const pacer = createPacer({ db: db.db, logger: silentLogger, metrics }, { projectPerMinute: 1200, userPerMinute: 60, share: 1 });
      // the second take of one user waits for its bucket, holding a project token meanwhile
      await Promise.all([pacer.take('u@example.com'), pacer.take('u@example.com')]);
      await pacer.release();
      const text = await metrics.render();
      const project = Number(/leave_bridge_google_quota_tokens\{bucket="project"\} ([\d.]+)/.exec(text)?.[1]);
      // 20 at most; two were used, and nothing is left in this process's reserve
      expect(project).toBeGreaterThan(17);
      expect(project).toBeLessThanOrEqual(20);
      expect(text).toMatch(/leave_bridge_google_quota_tokens\{bucket="user_min"\} [\d.]+/);
    });
  });
}

describe('adaptive concurrency', () => {
  it('starts where told, doubles per window of full successes until the first rate limit, never above the maximum', () => {
    const a = createAimd(64, { start: 8 });
    expect(a.limit()).toBe(8);
    for (let i = 0; i < 8; i++) a.succeeded(true);
    expect(a.limit()).toBe(16);
    for (let i = 0; i < 1000; i++) a.succeeded(true);
    expect(a.limit()).toBe(64);
  });

  it('does not grow on runs that finished while the window was not full', () => {
    const a = createAimd(64, { start: 8 });
    for (let i = 0; i < 100; i++) a.succeeded(false);
    expect(a.limit()).toBe(8);
  });

  it('halves on a rate limit, once per window, never below one; then grows by one per window', () => {
    const changes: number[] = [];
    const a = createAimd(64, { start: 32, onChange: (n) => changes.push(n) });
    a.limited();
    a.limited(); // the rest of the same window answered the same: no second halving
    expect(a.limit()).toBe(16);
    for (let i = 0; i < 20; i++) a.succeeded(true);
    expect(a.limit()).toBe(17); // additive now: about +1 per window
    for (let k = 0; k < 20; k++) {
      for (let i = 0; i < a.limit(); i++) a.succeeded(false);
      a.limited();
    }
    expect(a.limit()).toBe(1);
    expect(changes.every((n) => n >= 1 && n <= 64)).toBe(true);
  });

  it('a maximum of 0 or 1 (the loop off, or one at a time) means one', () => {
    expect(createAimd(0, { start: 8 }).limit()).toBe(1);
    const one = createAimd(1, { start: 8 });
    for (let i = 0; i < 10; i++) one.succeeded(true);
    expect(one.limit()).toBe(1);
  });
});
