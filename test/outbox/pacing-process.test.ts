import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../../src/db/schema.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { testApp } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { serveEnv, startServe, stopServe, type ServeProcess } from '../support/drainer-process.js';
import { encryptedRequest, leaveApprovalV1 } from '../support/feishu.js';
import { waitFor } from '../support/process.js';

/*
 * Two real `leave-bridge serve` processes draining one backlog against a fake Google that enforces
 * the project's quota. Each process alone would call at the whole configured rate: only buckets
 * shared through the database keep the two of them together under it.
 */

let seq = 0;
const code = (tag: string) => `PACE-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

describe('quota buckets across two drainer processes (postgres)', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let google: FakeGoogle;
  let feishu: FakeFeishu;
  const procs: ServeProcess[] = [];
  const people = Array.from({ length: 6 }, (_, i) => ({ id: `u_q${i}`, email: `q${i}@example.com` }));

  // The fake allows 50 calls in any 5 s (600 a minute). The processes are told 600 a minute at a
  // share of 0.7: 7 a second, at most 7 + 5 × 7 = 42 in any 5 s together; 84 if each kept its own.
  const WINDOW_MS = 5_000;
  const PER_WINDOW = 50;

  beforeAll(async () => {
    db = await createPostgresDatabase();
    google = await startFakeGoogle({ quota: { perMinute: PER_WINDOW, windowMs: WINDOW_MS, answer: '429', retryAfterS: 1 } });
    feishu = await startFakeFeishu();
    for (const p of people) feishu.addUser({ user_id: p.id, email: p.email });
  });
  afterAll(async () => {
    for (const p of procs.splice(0)) await stopServe(p);
    await google?.close();
    await feishu?.close();
    await db?.close();
  });

  it('two drainers together stay under the project quota: no call refused, no attempt spent', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => code(`b${i}`));
    const t = testApp(db);
    for (const [i, k] of keys.entries()) {
      const who = people[i % people.length]!;
      expect((await t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: k, employeeId: who.id })))).status).toBe(200);
    }
    const env = serveEnv({
      databaseUrl: db.url!,
      google,
      feishu,
      extra: {
        OUTBOX_POLL_MS: '100',
        OUTBOX_CONCURRENCY: '16',
        GOOGLE_QUOTA_PER_MINUTE: '600',
        GOOGLE_USER_QUOTA_PER_MINUTE: '6000',
        GOOGLE_QUOTA_SHARE: '0.7',
      },
    });
    const [a, b] = await Promise.all([startServe(env), startServe(env)]);
    procs.push(a!, b!);
    const rows = async () => (await db.db.select().from(outbox)).filter((r) => keys.includes(r.key));
    await waitFor('both drainers to finish the backlog', async () => (await rows()).every((r) => r.status === 'done'), 120_000);

    const calls = google.calls.filter((c) => c.op === 'insert');
    expect(calls.filter((c) => c.fault?.startsWith('quota:'))).toEqual([]);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(keys.length);
    const done = await rows();
    expect(done.every((r) => r.attempts === 0)).toBe(true);
    // both took part
    expect(done.some((r) => r.leasedBy?.startsWith(a!.workerPrefix))).toBe(true);
    expect(done.some((r) => r.leasedBy?.startsWith(b!.workerPrefix))).toBe(true);
  });
});
