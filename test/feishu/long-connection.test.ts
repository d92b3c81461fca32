import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as lark from '@larksuiteoapi/node-sdk';
import { asc, eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays, inboxEvents, leaves, outbox } from '../../src/db/schema.js';
import { connectPostgres } from '../../src/db/node-client.js';
import { COMMIT_DEADLINE_MS } from '../../src/db/deadline.js';
import { LONG_CONNECTION_DEFAULTS, startLongConnection, type LongConnectionOptions } from '../../src/feishu/long-connection.js';
import { parseJsonLenient } from '../../src/feishu/json.js';
import { decodeFrame, encodeFrame, FakeFeishuWs, type Frame } from '../fakes/feishu-ws.js';
import { testApp } from '../support/app.js';
import { BACKENDS, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { DOC_TOKEN, FIXTURES, leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';

const APP_ID = 'cli_0123456789abcdef';
const APP_SECRET = 'long-connection-secret';

const wsEnv = (fake: FakeFeishuWs) => ({
  FEISHU_EVENT_MODE: 'ws',
  FEISHU_APP_ID: APP_ID,
  FEISHU_APP_SECRET: APP_SECRET,
  FEISHU_BASE_URL: fake.url,
  // CoreHR process events ring for a sync (an outbox row) on both sides
  COREHR_ENABLED: 'true',
  // plain events on the webhook side of the comparison; the long connection never uses it
  FEISHU_ENCRYPT_KEY: undefined,
});

type Db = Pick<TestDatabase, 'db' | 'kind'>;

function connect(db: Db, fake: FakeFeishuWs, opts: Partial<LongConnectionOptions> = {}) {
  const t = testApp(db, { env: wsEnv(fake) });
  const lc = startLongConnection(t.deps, {
    appId: APP_ID,
    appSecret: APP_SECRET,
    baseUrl: fake.url,
    // Above the fake's 0.5 s ping interval, i.e. no watchdog: on a loaded machine a pong can be
    // late, and a spurious reconnect would make reconnect counts wrong. The silence test sets one.
    pingTimeoutSeconds: 30,
    // generous: only the deadline test is about the deadline; elsewhere a loaded machine must not
    // turn a slow commit into a 500
    ackDeadlineMs: 20_000,
    ...opts,
  });
  return { ...t, lc };
}

/** The rows a delivery leaves behind, minus ids, clocks and the source column. */
async function snapshot(db: Db) {
  const inbox = await db.db
    .select({
      eventKey: inboxEvents.eventKey,
      eventType: inboxEvents.eventType,
      instanceCode: inboxEvents.instanceCode,
      status: inboxEvents.status,
      effect: inboxEvents.effect,
      reason: inboxEvents.reason,
      payload: inboxEvents.payload,
    })
    .from(inboxEvents)
    .orderBy(asc(inboxEvents.id));
  const leaveRows = (await db.db.select().from(leaves).orderBy(asc(leaves.instanceCode))).map(
    ({ createdAt, updatedAt, approvedAt, ...rest }) => rest,
  );
  const days = (await db.db.select().from(attendanceDays).orderBy(asc(attendanceDays.instanceCode), asc(attendanceDays.revision), asc(attendanceDays.date))).map(
    ({ id, createdAt, updatedAt, ...rest }) => rest,
  );
  const messages = await db.db
    .select({ key: outbox.key, kind: outbox.kind, payload: outbox.payload, status: outbox.status })
    .from(outbox)
    .orderBy(asc(outbox.id));
  return { inbox, leaves: leaveRows, days, outbox: messages };
}

const inboxRows = (db: Db, eventKey: string) => db.db.select().from(inboxEvents).where(eq(inboxEvents.eventKey, eventKey));
const uuidOf = (body: string) => (JSON.parse(body) as { uuid: string }).uuid;
const instanceOf = (body: string) => (JSON.parse(body) as { event: { instance_code: string } }).event.instance_code;

/** Hold the per-instance advisory lock ingest takes, so its transaction cannot commit until release(). */
async function holdInstanceLock(url: string, instanceCode: string) {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const done = sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${instanceCode}, 0))`;
    locked();
    await released;
  });
  await isLocked;
  const waiterSeen = async () => {
    // ingest is inside its transaction, blocked on our lock: a fact, not a guess about timing
    for (;;) {
      const rows = await sql`
        select 1 from pg_locks
        where locktype = 'advisory' and not granted
          and database = (select oid from pg_database where datname = current_database())`;
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    waiterSeen,
    release: async () => {
      release();
      await done;
      await sql.end();
    },
  };
}

describe('frame format', () => {
  it('the fake encodes and decodes exactly what the SDK does', () => {
    // The SDK registers its generated pbbp2 codec in protobufjs' default root when it loads.
    expect(lark.WSClient).toBeTypeOf('function');
    const minimal = createRequire(createRequire(import.meta.url).resolve('@larksuiteoapi/node-sdk'))('protobufjs/minimal') as {
      roots: { default: { pbbp2: { Frame: { encode(f: unknown): { finish(): Uint8Array }; decode(b: Uint8Array): Record<string, unknown> } } } };
    };
    const sdk = minimal.roots.default.pbbp2.Frame;
    const frame: Frame = {
      SeqID: 12345678901,
      LogID: 42,
      service: 7001,
      method: 1,
      headers: [
        { key: 'type', value: 'event' },
        { key: 'message_id', value: 'm-1' },
        { key: 'sum', value: '1' },
        { key: 'seq', value: '0' },
      ],
      payloadEncoding: 'json',
      payloadType: 'event',
      payload: new TextEncoder().encode('{"a":1}'),
      LogIDNew: 'x',
    };
    const ours = encodeFrame(frame);
    expect(Buffer.from(sdk.encode(frame).finish())).toEqual(Buffer.from(ours));
    const back = sdk.decode(ours);
    expect(Number(back.SeqID)).toBe(frame.SeqID);
    expect(back.headers).toEqual(frame.headers.map((h) => expect.objectContaining(h)));
    const { payload, ...rest } = decodeFrame(sdk.encode({ ...frame, payload: new Uint8Array([1, 2]) }).finish());
    expect(rest).toEqual({ ...frame, payload: undefined });
    expect([...payload!]).toEqual([1, 2]);
  });
});

for (const backend of BACKENDS) {
  describe(`long connection lands events as the webhook does (${backend.name})`, () => {
    let fake: FakeFeishuWs;
    let viaWebhook: TestDatabase;
    let viaWs: TestDatabase;
    beforeAll(async () => {
      fake = await FakeFeishuWs.start({ appId: APP_ID, appSecret: APP_SECRET });
      viaWebhook = await backend.create();
      viaWs = await backend.create();
    });
    afterAll(async () => {
      await fake?.close();
      await viaWebhook?.close();
      await viaWs?.close();
    });

    it('same bodies → same inbox, leave, attendance and outbox rows', async () => {
      const inst = `INST-LC-${backend.name}`;
      const v1 = leaveApprovalV1({ instanceCode: inst, start: '2024-09-05 09:00:00', end: '2024-09-06 18:00:00', interval: 2 * 86400 });
      const v2 = leaveApprovalV2({ instanceCode: inst, start: '2024-09-05 09:00:00', end: '2024-09-06 18:00:00', interval: 2 * 86400, leaveName: '年假' });
      const hours = leaveApprovalV2({ instanceCode: `${inst}-H`, unit: 'HOUR', interval: 3 * 3600, start: '2024-09-09 14:00:00', end: '2024-09-09 17:00:00' });
      const v2Schema = JSON.stringify({
        schema: '2.0',
        header: { event_id: `evt-${backend.name}-1`, event_type: 'approval_instance', token: DOC_TOKEN, create_time: '1666079207003', app_id: APP_ID, tenant_key: 'tenant' },
        event: { approval_code: 'APPROVAL-LEAVE', instance_code: `${inst}-H`, status: 'REVERTED', operate_time: 1666079207003 },
      });
      const bodies = [
        // the docs' examples, re-serialised: the SDK JSON.parses frames, the revert's trailing
        // comma would never get past it
        ...[FIXTURES.leaveApproval, FIXTURES.leaveApprovalV2, FIXTURES.leaveApprovalRevert, FIXTURES.approvalInstance].map((f) =>
          JSON.stringify(parseJsonLenient(f)),
        ),
        v1,
        v2,
        v1, // a re-push
        hours,
        v2Schema,
        leaveRevert({ instanceCode: inst, operateTime: 1725600000 }),
        // CoreHR's documented process events, with the test's token: doorbells for one sync
        ...['corehr_process_status_update_v2.json', 'corehr_process_updated_v2.json'].map((f) => {
          const body = JSON.parse(readFileSync(new URL(`../fixtures/${f}`, import.meta.url), 'utf8')) as { header: Record<string, unknown> };
          return JSON.stringify({ ...body, header: { ...body.header, event_id: `${f}-${backend.name}`, token: DOC_TOKEN } });
        }),
        JSON.stringify({ uuid: 'no-event-object', token: DOC_TOKEN, type: 'event_callback' }), // quarantined
      ];

      const web = testApp(viaWebhook, { env: wsEnv(fake) });
      for (const body of bodies) {
        const res = await web.post({ body, headers: { 'content-type': 'application/json' } });
        expect(res.status).toBe(200);
      }
      const { lc } = connect(viaWs, fake);
      try {
        for (const body of bodies) {
          const ack = await fake.waitForAck(fake.push(body));
          expect(ack.code).toBe(200);
        }
      } finally {
        await lc.close();
      }
      const a = await snapshot(viaWebhook);
      const b = await snapshot(viaWs);
      expect(b).toEqual(a);
      // and they are what they should be, not merely equal
      expect(a.leaves.find((l) => l.instanceCode === inst)).toMatchObject({ status: 'reverted', hasV1: true, hasV2: true, leaveType: '年假' });
      expect(a.inbox.filter((r) => r.eventKey === uuidOf(v1))).toHaveLength(1);
      expect(a.inbox.at(-1)).toMatchObject({ status: 'quarantined', reason: 'missing event object' });
      expect(b.days.filter((d) => d.instanceCode === `${inst}-H`)).toEqual([
        expect.objectContaining({ date: '2024-09-09', status: 'reverted', unit: 'hour' }),
      ]);
      expect(b.outbox.filter((o) => o.kind === 'corehr.sync')).toEqual([
        { key: 'corehr', kind: 'corehr.sync', payload: { process_ids: ['7072306364927985196'] }, status: 'pending' },
      ]);
      expect(b.inbox.filter((r) => r.eventType.startsWith('corehr.process.')).map((r) => [r.status, r.effect])).toEqual([
        ['applied', 'sync_queued'],
        ['applied', 'sync_queued'],
      ]);
      const sources = await viaWs.db.selectDistinct({ source: inboxEvents.source }).from(inboxEvents);
      expect(sources).toEqual([{ source: 'ws' }]);
    });
  });
}

describe('long connection on Postgres', () => {
  let fake: FakeFeishuWs;
  let db: TestDatabase;
  beforeAll(async () => {
    fake = await FakeFeishuWs.start({ appId: APP_ID, appSecret: APP_SECRET });
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await fake?.close();
    await db?.close();
  });

  const withConnection = async (opts: Partial<LongConnectionOptions>, fn: (c: ReturnType<typeof connect>) => Promise<void>) => {
    const c = connect(db, fake, opts);
    try {
      await fn(c);
    } finally {
      await c.lc.close();
      // the next test's events must not go to this client's closing socket
      await fake.waitForNoConnections();
    }
  };

  it('acks only after the transaction committed', async () => {
    await withConnection({ ackDeadlineMs: 20_000 }, async () => {
      const body = leaveApprovalV1();
      const lock = await holdInstanceLock(db.url!, instanceOf(body));
      const id = fake.push(body);
      await lock.waiterSeen();
      // ingest is mid-transaction: nothing committed, nothing acked
      expect(fake.acks.filter((a) => a.messageId === id)).toEqual([]);
      expect(await inboxRows(db, uuidOf(body))).toEqual([]);
      await lock.release();
      const ack = await fake.waitForAck(id);
      expect(ack.code).toBe(200);
      expect(await db.db.select().from(leaves).where(eq(leaves.instanceCode, instanceOf(body)))).toHaveLength(1);
    });
  });

  it('an event not committed within the ack deadline is answered 500; its re-push is a duplicate', async () => {
    await withConnection({ ackDeadlineMs: 150 }, async ({ deps }) => {
      const body = leaveApprovalV1();
      const lock = await holdInstanceLock(db.url!, instanceOf(body));
      const first = fake.push(body);
      const ack = await fake.waitForAck(first);
      expect(ack.code).toBe(500);
      await lock.release();
      // the late commit still happens; Feishu's re-push must not make a second record
      for (;;) {
        if ((await inboxRows(db, uuidOf(body))).length > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const again = await fake.waitForAck(fake.push(body));
      expect(again.code).toBe(200);
      expect(await inboxRows(db, uuidOf(body))).toHaveLength(1);
      expect(deps.metrics.value('leave_bridge_events_total', { source: 'ws', status: 'duplicate' })).toBe(1);
      expect(deps.metrics.value('leave_bridge_long_connection_acks_total', { code: '500' })).toBe(1);
    });
  });

  it('an event the database cannot take is not acked with 200, and lands when re-pushed later', async () => {
    const down = connectPostgres('postgres://postgres@127.0.0.1:1/nowhere', { connectTimeout: 1 });
    const body = leaveApprovalV2();
    try {
      const broken = connect({ db: down.db, kind: 'postgres' }, fake);
      try {
        const ack = await fake.waitForAck(fake.push(body));
        expect(ack.code).toBe(500);
      } finally {
        await broken.lc.close();
        await fake.waitForNoConnections();
      }
    } finally {
      await down.close();
    }
    await withConnection({}, async () => {
      const ack = await fake.waitForAck(fake.push(body));
      expect(ack.code).toBe(200);
      expect(await inboxRows(db, uuidOf(body))).toMatchObject([{ source: 'ws', status: 'applied', effect: 'created' }]);
    });
  });

  it('dedupes re-pushes and merges V1 and V2 of one approval', async () => {
    await withConnection({}, async () => {
      const inst = 'INST-LC-DEDUPE';
      const v1 = leaveApprovalV1({ instanceCode: inst });
      const v2 = leaveApprovalV2({ instanceCode: inst });
      const acks = await Promise.all([v1, v2, v1, v2, v1].map((b) => fake.waitForAck(fake.push(b))));
      expect(acks.map((a) => a.code)).toEqual([200, 200, 200, 200, 200]);
      expect(await inboxRows(db, uuidOf(v1))).toHaveLength(1);
      expect(await inboxRows(db, uuidOf(v2))).toHaveLength(1);
      const rows = await db.db.select().from(leaves).where(eq(leaves.instanceCode, inst));
      expect(rows).toMatchObject([{ status: 'approved', hasV1: true, hasV2: true }]);
      expect(await db.db.select().from(outbox).where(eq(outbox.key, inst))).toHaveLength(1);
    });
  });

  it('joins an event the gateway sent in fragments', async () => {
    await withConnection({}, async () => {
      const body = leaveApprovalV2({ leaveName: '病假'.repeat(50) });
      const ack = await fake.waitForAck(fake.push(body, { fragments: 3 }));
      expect(ack.code).toBe(200);
      expect(await inboxRows(db, uuidOf(body))).toHaveLength(1);
    });
  });

  it('re-establishes a closed connection; later events land; /readyz and /metrics tell', async () => {
    await withConnection({}, async ({ lc, app }) => {
      await fake.waitForConnections(fake.connectionsOpened + 1);
      const before = fake.connectionsOpened;
      expect((await (await app.request('/readyz')).json()).checks.long_connection).toBe(true);
      fake.drop();
      await fake.waitForConnections(before + 1);
      const body = leaveApprovalV1();
      expect((await fake.waitForAck(fake.push(body))).code).toBe(200);
      expect(await inboxRows(db, uuidOf(body))).toHaveLength(1);
      expect(lc.status()).toMatchObject({ state: 'connected', reconnects: 1, lastError: null });
      expect(lc.status().lastEventAt).toBeInstanceOf(Date);
      const ready = await app.request('/readyz');
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { long_connection: true } });
      const metrics = await (await app.request('/metrics')).text();
      expect(metrics).toContain('leave_bridge_long_connection_state{state="connected"} 1');
      expect(metrics).toContain('leave_bridge_long_connection_state{state="reconnecting"} 0');
      expect(metrics).toContain('leave_bridge_long_connection_reconnects_total 1');
      expect(metrics).toMatch(/leave_bridge_long_connection_last_event_timestamp_seconds \d+/);
    });
  });

  it('drops a connection that went silent (ping timeout) and reconnects', async () => {
    fake.setPingInterval(1);
    await withConnection({ pingTimeoutSeconds: 0.4 }, async ({ lc }) => {
      await fake.waitForConnections(fake.connectionsOpened + 1);
      const before = fake.connectionsOpened;
      fake.silence();
      // an event pushed now waits for a live connection, like Feishu's re-push would
      const body = leaveApprovalV1();
      const id = fake.push(body);
      await fake.waitForConnections(before + 1);
      expect((await fake.waitForAck(id)).code).toBe(200);
      expect(await inboxRows(db, uuidOf(body))).toHaveLength(1);
      // ≥: a pong delayed past 0.4 s on a loaded machine is also (rightly) a reconnect
      expect(lc.status().reconnects).toBeGreaterThanOrEqual(1);
    });
    fake.setPingInterval(0.5);
  });

  it('restarts the client when the SDK gives up (rejected discovery), and is not ready meanwhile', async () => {
    // 514 (auth failed) is not retryable for the SDK: it calls onError and stops for good
    fake.endpointFailures.push(...Array<number>(1000).fill(514));
    const calls = fake.endpointCalls;
    await withConnection({ restartDelayMs: 20 }, async ({ lc, app }) => {
      await fake.waitForEndpointCalls(calls + 3);
      expect(lc.status()).toMatchObject({ state: 'connecting', lastError: expect.stringContaining('code=514') });
      const ready = await app.request('/readyz');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { database: true, long_connection: false } });
      const opened = fake.connectionsOpened;
      fake.endpointFailures.length = 0;
      await fake.waitForConnections(opened + 1);
      const body = leaveRevert({ instanceCode: 'INST-LC-RESTART' });
      expect((await fake.waitForAck(fake.push(body))).code).toBe(200);
      expect(lc.status()).toMatchObject({ state: 'connected', lastError: null });
    });
  });

  it('close(): an event in flight commits and is acked before the socket goes', async () => {
    const c = connect(db, fake, { ackDeadlineMs: 20_000 });
    await fake.waitForConnections(fake.connectionsOpened + 1);
    const body = leaveApprovalV1();
    const lock = await holdInstanceLock(db.url!, instanceOf(body));
    const id = fake.push(body);
    await lock.waiterSeen();
    const closing = c.lc.close();
    expect(c.lc.status().state).toBe('closed');
    expect((await c.app.request('/readyz')).status).toBe(503);
    await lock.release();
    await closing;
    expect((await fake.waitForAck(id)).code).toBe(200);
    expect(await inboxRows(db, uuidOf(body))).toHaveLength(1);
    await fake.waitForNoConnections();
  });

  it('acks within the same commit deadline as the webhook, not a copy of it', () => {
    expect(LONG_CONNECTION_DEFAULTS.ackDeadlineMs).toBe(COMMIT_DEADLINE_MS);
  });

  it('refuses an app id the SDK would silently ignore', () => {
    expect(() => startLongConnection(testApp(db).deps, { appId: 'cli_xxx', appSecret: 's', baseUrl: fake.url })).toThrow(/FEISHU_APP_ID/);
  });
});

describe('leave-bridge serve with FEISHU_EVENT_MODE=ws (child process)', () => {
  let fake: FakeFeishuWs;
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    fake = await FakeFeishuWs.start({ appId: APP_ID, appSecret: APP_SECRET });
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await fake?.close();
    await db?.close();
  });

  it('reports the connection on /readyz, lands events, survives a drop and stops on SIGTERM', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/node.ts', 'serve'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        DATABASE_URL: db.url!,
        FEISHU_EVENT_MODE: 'ws',
        FEISHU_APP_ID: APP_ID,
        FEISHU_APP_SECRET: APP_SECRET,
        FEISHU_BASE_URL: fake.url,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const port = await new Promise<number>((resolve, reject) => {
      child!.stderr!.setEncoding('utf8');
      child!.stderr!.on('data', (chunk: string) => {
        stderr += chunk;
        const m = /"msg":"leave-bridge listening".*?"port":(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const readyz = async () => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
    };
    const untilReady = async () => {
      for (;;) {
        const r = await readyz();
        if (r.status === 200) return r;
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    expect((await untilReady()).body.checks).toMatchObject({ database: true, long_connection: true });

    // serve runs with the production ack deadline (2.5 s): a loaded machine may answer 500 first,
    // which Feishu (and the fake's deliver) re-pushes
    const first = leaveApprovalV1();
    expect((await fake.deliver(first)).code).toBe(200);
    expect(await inboxRows(db, uuidOf(first))).toMatchObject([{ source: 'ws', status: 'applied' }]);

    const opened = fake.connectionsOpened;
    fake.drop();
    await fake.waitForConnections(opened + 1);
    const second = leaveApprovalV2();
    expect((await fake.deliver(second)).code).toBe(200);
    expect(await inboxRows(db, uuidOf(second))).toHaveLength(1);
    expect((await untilReady()).body.checks.long_connection).toBe(true);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('leave_bridge_long_connection_state{state="connected"} 1');
    expect(metrics).toContain('leave_bridge_long_connection_reconnects_total 1');

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('"msg":"long connection closed"');
    await fake.waitForNoConnections();
  });
});
