import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/client.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { burstOf, SYNC_STATE, syncCorehr, takeRequest } from '../../src/feishu/corehr-sync.js';
import { silentLogger } from '../../src/logger.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { testApp } from '../support/app.js';
import { leaveRequest } from '../support/corehr.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';

describe('the CoreHR pacing bucket', () => {
  it('never lets a minute see more than Feishu\'s 100 calls at any configured rate', () => {
    for (let rate = 1; rate <= 100; rate++) {
      expect(burstOf(rate)).toBeGreaterThanOrEqual(1);
      expect(rate + burstOf(rate)).toBeLessThanOrEqual(Math.max(100, rate + 1));
    }
    expect(burstOf(90)).toBe(9);
  });
});

for (const backend of BACKENDS) {
  describe(`the CoreHR pacing bucket in the database (${backend.name})`, () => {
    let db: TestDatabase;
    let fake: FakeFeishu;
    beforeAll(async () => {
      [db, fake] = await Promise.all([backend.create(), startFakeFeishu()]);
      fake.corehr.mapUser('c_fay', 'u_fay');
    });
    afterAll(async () => {
      await Promise.all([db?.close(), fake?.close()]);
    });

    it('gives out its burst at once, then one call per 60/rate seconds, and says how long to wait', async () => {
      const rate = 60;
      const first = await takeRequest(db.db, rate);
      expect(first).toBe(0);
      // empty it, as if every caller had just taken what there was
      await queryRows(db.db, sql`update corehr_sync set tokens = 0, refilled_at = now() where name = ${SYNC_STATE}`);
      const wait = await takeRequest(db.db, rate);
      expect(wait).toBeGreaterThan(900);
      expect(wait).toBeLessThanOrEqual(1000);
      // a second later (the database's clock), one call is there again, and only one
      await queryRows(db.db, sql`update corehr_sync set refilled_at = now() - interval '1 second' where name = ${SYNC_STATE}`);
      expect(await takeRequest(db.db, rate)).toBe(0);
      expect(await takeRequest(db.db, rate)).toBeGreaterThan(0);
      // concurrent callers never take more than there is
      await queryRows(db.db, sql`update corehr_sync set tokens = ${burstOf(rate)}, refilled_at = now() where name = ${SYNC_STATE}`);
      const takes = await Promise.all(Array.from({ length: 3 * burstOf(rate) }, () => takeRequest(db.db, rate)));
      expect(takes.filter((t) => t === 0).length).toBeLessThanOrEqual(burstOf(rate) + 1);
      expect(takes.filter((t) => t === 0).length).toBeGreaterThanOrEqual(burstOf(rate));
    });

    it('two syncs at once share it: their calls together stay within the rate', async () => {
      for (let i = 0; i < 5; i++) fake.corehr.put(leaveRequest({ employment: 'c_fay', from: `2026-01-1${i}`, to: `2026-01-1${i}` }));
      fake.corehr.pageSize = 1;
      const env = { COREHR_ENABLED: 'true', COREHR_REQUESTS_PER_MINUTE: '60' };
      const client = () => createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger });
      const a = testApp(db, { env, feishu: client() });
      const b = testApp(db, { env, feishu: client() });
      await queryRows(db.db, sql`update corehr_sync set tokens = ${burstOf(60)}, refilled_at = now() where name = ${SYNC_STATE}`);
      const before = fake.calls('corehr.leave_request_history');
      const started = Date.now();
      const since = new Date(Date.now() - 60_000);
      const [ra, rb] = await Promise.all([syncCorehr(a.deps, { mode: 'since', since }), syncCorehr(b.deps, { mode: 'since', since })]);
      const elapsed = Date.now() - started;
      const calls = fake.calls('corehr.leave_request_history') - before;
      expect(ra.requests).toBe(5);
      expect(rb.requests).toBe(5);
      expect(calls).toBeGreaterThanOrEqual(10);
      // burst at once, the rest at one a second: never faster than the bucket allows
      expect(elapsed).toBeGreaterThanOrEqual((calls - burstOf(60) - 1) * 1000);
      const rendered = (await a.deps.metrics.render()) + (await b.deps.metrics.render());
      expect(rendered).toContain('leave_bridge_corehr_paced_total');
      fake.corehr.pageSize = 100;
    }, 60_000);
  });
}
