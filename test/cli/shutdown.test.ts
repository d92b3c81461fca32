import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { employees, inboxEvents, outbox } from '../../src/db/schema.js';
import { eventIdFor } from '../../src/google/ids.js';
import { FakeFeishuWs } from '../fakes/feishu-ws.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { testApp } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { startServe, stopServe, type ServeProcess } from '../support/drainer-process.js';
import { leaveApprovalV1 } from '../support/feishu.js';
import { waitFor } from '../support/process.js';

/*
 * SIGTERM to a real `leave-bridge serve` (FEISHU_EVENT_MODE=ws) in the middle of draining a long
 * outbox against a slow Google, with long-connection events still arriving. Contract (docs/contract.md,
 * Command line: serve): stop accepting → stop the drainer (finish or release leases) → close the long
 * connection → close the database → exit 0 within the bound (serve's hard stop exits 1). Then a
 * second process finishes the work, and every message has been handled exactly once.
 */

const APP_ID = 'cli_5e7d0a1b2c3d4e5f';
const APP_SECRET = 'shutdown-test-secret';
const PEOPLE = ['u_sd1', 'u_sd2', 'u_sd3', 'u_sd4'].map((id) => ({ id, email: `${id.slice(2)}@example.com` }));

describe('graceful shutdown of serve (postgres, ws mode)', () => {
  let db: TestDatabase;
  let google: FakeGoogle;
  let gateway: FakeFeishuWs;
  const procs: ServeProcess[] = [];

  beforeAll(async () => {
    db = await createPostgresDatabase();
    google = await startFakeGoogle();
    gateway = await FakeFeishuWs.start({ appId: APP_ID, appSecret: APP_SECRET });
    // addresses come from the operator's override, so the drain needs no Feishu contact lookups
    await db.db.insert(employees).values(PEOPLE.map((p) => ({ employeeId: p.id, emailOverride: p.email })));
  });
  afterAll(async () => {
    for (const p of procs) await stopServe(p);
    await gateway?.close();
    await google?.close();
    await db?.close();
  });

  const serve = async () => {
    const p = await startServe({
      DATABASE_URL: db.url!,
      PORT: '0',
      FEISHU_EVENT_MODE: 'ws',
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      FEISHU_BASE_URL: gateway.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: google.url,
      OUTBOX_CONCURRENCY: '4',
      OUTBOX_BATCH_SIZE: '8',
      OUTBOX_POLL_MS: '100',
      OUTBOX_LEASE_SECONDS: '30',
      LOG_LEVEL: 'info',
    });
    procs.push(p);
    return p;
  };
  const rows = () => db.db.select().from(outbox).orderBy(outbox.id);

  it('SIGTERM mid-drain exits 0; after a second process drains the rest, every message was handled once', async () => {
    const queued = Array.from({ length: 48 }, (_, i) => ({ code: `SD-Q-${i}`, who: PEOPLE[i % PEOPLE.length]! }));
    const live = Array.from({ length: 12 }, (_, i) => ({ code: `SD-WS-${i}`, who: PEOPLE[i % PEOPLE.length]! }));
    const everyLeave = [...queued, ...live];

    // a backlog written before any drainer runs
    const web = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
    for (const l of queued) {
      const res = await web.post({ body: leaveApprovalV1({ instanceCode: l.code, employeeId: l.who.id }), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
    }
    google.faults.latencyMs = 60;

    const a = await serve();
    await gateway.waitForConnections(1);
    const liveBodies = live.map((l) => leaveApprovalV1({ instanceCode: l.code, employeeId: l.who.id }));
    // a 500 (not committed within the ack deadline on a loaded machine) is re-pushed, as Feishu does
    for (const b of liveBodies.slice(0, 6)) expect((await gateway.deliver(b)).code).toBe(200);
    await waitFor('A to be mid-drain', async () => {
      const r = await rows();
      return r.filter((x) => x.status === 'done').length >= 8 && r.some((x) => x.status === 'running');
    });

    a.proc.kill('SIGTERM');
    // events keep coming while A stops: each is either taken (acked 200), refused (500) or lost
    // with the socket (the gateway re-pushes those on the next connection)
    const secondHalf = liveBodies.slice(6).map((b) => ({ body: b, id: gateway.push(b) }));
    const exit = await a.exited;
    expect(exit, a.output()).toEqual({ code: 0, signal: null });
    const log = a.output();
    const at = (msg: string) => log.indexOf(`"msg":"${msg}"`);
    expect(at('shutting down')).toBeGreaterThan(-1);
    expect(at('long connection closed')).toBeGreaterThan(at('shutting down'));
    expect(at('stopped')).toBeGreaterThan(at('long connection closed'));

    // A left nothing leased behind, and it really stopped in the middle
    const afterA = await rows();
    expect(afterA.filter((r) => r.status === 'running')).toEqual([]);
    expect(afterA.filter((r) => r.status === 'pending').length).toBeGreaterThan(0);
    expect(afterA.filter((r) => r.status === 'dead')).toEqual([]);

    await serve();
    // Feishu re-pushes what was answered 500 (the gateway itself re-pushes unanswered ones)
    for (const m of secondHalf) {
      for (let seen = 0; ; seen++) {
        const ack = await gateway.waitForAck(m.id, seen);
        if (ack.code === 200) break;
        expect(seen, `message ${m.id} refused too often`).toBeLessThan(5);
        gateway.push(m.body, { messageId: m.id });
      }
    }
    await waitFor(
      'B to drain everything',
      async () => {
        const r = await rows();
        return r.length === everyLeave.length && r.every((x) => x.status === 'done');
      },
      60_000,
    );

    // exactly once: one outbox message per leave, one inbox row per delivery, one event per leave
    const final = await rows();
    expect(final.map((r) => r.key).sort()).toEqual(everyLeave.map((l) => l.code).sort());
    for (const b of liveBodies) {
      const uuid = (JSON.parse(b) as { uuid: string }).uuid;
      expect(await db.db.select({ id: inboxEvents.id }).from(inboxEvents).where(eq(inboxEvents.eventKey, uuid))).toHaveLength(1);
    }
    for (const p of PEOPLE) {
      const mine = everyLeave.filter((l) => l.who === p).map((l) => eventIdFor(l.code)).sort();
      const events = google.events(p.email);
      expect(events.map((e) => e.id).sort()).toEqual(mine);
      expect(events.every((e) => e.status === 'confirmed' && e.eventType === 'outOfOffice')).toBe(true);
      // created once each: a run A gave back and B redid may meet 409, never a second event
      const inserts = google.calls.filter((c) => c.op === 'insert' && c.calendarId === p.email && c.committed);
      expect(inserts).toHaveLength(mine.length);
    }
  });
});
