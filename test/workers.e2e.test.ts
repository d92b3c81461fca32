/**
 * leave-bridge as a Cloudflare Worker, run by `wrangler dev` in workerd on this machine (no account,
 * no network): Postgres through the Hyperdrive binding's local connection string, Feishu and Google
 * as the fake servers on loopback, driven by the Worker's own SDK clients.
 *
 *   1. an encrypted, signed approval → an out-of-office block, written by ctx.waitUntil;
 *   2. an approval whose sync fails (Google answers 503) is left in backoff by waitUntil and
 *      completed by the scheduled handler (`--test-scheduled`, GET /__scheduled);
 *   3. a revert removes the block;
 *   4. the payroll export (JSON, CSV) and the reconciliation report answer exactly as the Node app
 *      does for the same events (run in-process on a second database, against a second fake Google);
 *   5. a person signs in with Feishu (the fake's authorize page), the session opens the API and the
 *      dashboard, sign-out ends it; failed authentication is throttled through the database;
 *   6. the hourly cron purges payloads and export emails past their retention;
 *   7. the team absence calendar gets its event through waitUntil, and an ICS feed is created and fetched
 *      from the Worker (read back with ical.js), with 304 for an unchanged feed.
 *   8. the minute cron queues and runs the CoreHR sync (COREHR_SYNC_INTERVAL).
 *
 * wrangler dev runs on a snapshot of the sources in a temp dir: it rebuilds when files change, and
 * edits made in the tree while this runs must not swap the Worker under the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wranglerCommand } from '../scripts/tools-node.js';
import { queryRows } from '../src/db/client.js';
import { createFeishuClient } from '../src/feishu/client.js';
import { blockEventIdFor, eventIdFor } from '../src/google/ids.js';
import { createGoogleCalendar } from '../src/google/calendar.js';
import { silentLogger } from '../src/logger.js';
import { createDrainer, drainerOptions } from '../src/outbox/drain.js';
import { leaveGroupV2Form, startFakeFeishu, type FakeFeishu } from './fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from './fakes/google.js';
import { ADMIN, testApp } from './support/app.js';
import { createPostgresDatabase, type TestDatabase } from './support/db.js';
import { approvalInstance, DOC_TOKEN, encryptedRequest, leaveApprovalV1, leaveApprovalV2, leaveRevert, TEST_ENCRYPT_KEY, tripApproval, workApproval, type FeishuRequest } from './support/feishu.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const PEOPLE = {
  alice: { user_id: 'u_alice', open_id: 'ou_alice', email: 'alice@example.com' },
  bob: { user_id: 'u_bob', open_id: 'ou_bob', email: 'bob@example.com' },
  dave: { user_id: 'u_dave', open_id: 'ou_dave', enterprise_email: 'dave@corp.example.com' },
};
const A = 'E2E-WORKER-A-0001';
const B = 'E2E-WORKER-B-0002';
const C = 'E2E-WORKER-C-0003';
const TRIP = 'E2E-WORKER-TRIP-0005';
const WORK = 'E2E-WORKER-WORK-0006';
const PENDING = 'E2E-WORKER-PENDING-0007';
const POLICY = 'E2E-WORKER-POLICY-0008';
const TEAM_CALENDAR = 'team-absences@group.calendar.google.com';
const TEAM_OWNER = 'calendar-admin@example.com';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** dotenv, single-quoted: taken literally, so the key JSON keeps its "\n" escapes. */
function envFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => {
      if (v.includes("'") || v.includes('\n')) throw new Error(`${k}: value cannot go into a single-quoted .env line`);
      return `${k}='${v}'`;
    })
    .join('\n');
}

interface WranglerDev {
  url: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * `hyperdrive`: the database the binding's local connection string points at; without it the
 * binding is taken out of the config and the Worker connects by a DATABASE_URL var (for a database
 * that is down: wrangler's local Hyperdrive proxy has no error handler on its database socket and
 * takes the whole of wrangler down with it — miniflare hyperdrive-proxy.ts #handleConnection).
 */
async function startWranglerDev(opts: { hyperdrive?: string; vars: Record<string, string>; port?: number }): Promise<WranglerDev> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-workerd-'));
  const app = path.join(dir, 'app');
  for (const part of ['src', 'drizzle', 'wrangler.toml', 'package.json', 'tsconfig.json']) {
    cpSync(path.join(ROOT, part), path.join(app, part), { recursive: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'), 'dir');
  if (!opts.hyperdrive) {
    const toml = readFileSync(path.join(app, 'wrangler.toml'), 'utf8');
    const without = toml.replace(/^\[\[hyperdrive\]\]\n(?:[^\n[]+\n)*/m, '');
    if (without === toml) throw new Error('no [[hyperdrive]] table found in wrangler.toml');
    writeFileSync(path.join(app, 'wrangler.toml'), without);
  }
  const envPath = path.join(dir, 'worker.env');
  writeFileSync(envPath, envFile(opts.vars), { mode: 0o600 });
  const [port, inspectorPort] = [opts.port ?? (await freePort()), await freePort()];

  const hyperdriveEnv: Record<string, string> = {};
  if (opts.hyperdrive) {
    // Hyperdrive's local emulation insists on a password in the URL; trust auth ignores it.
    const url = new URL(opts.hyperdrive);
    if (!url.password) url.password = 'unused';
    hyperdriveEnv.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE = url.toString();
  }
  // wrangler may need a newer Node than the one running the suite: then it runs under another
  // (scripts/tools-node.ts), and this test runs on every Node line the suite does.
  const wrangler = wranglerCommand(
    [
      'dev',
      '--local',
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--inspector-port', String(inspectorPort),
      '--test-scheduled',
      '--env-file', envPath,
      '--persist-to', path.join(dir, 'state'),
      '--show-interactive-dev-session=false',
      '--log-level', 'info',
    ],
    {
      ...process.env,
      ...hyperdriveEnv,
      // Nothing may leave the machine: no telemetry, no request.cf download, no update check.
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_HIDE_BANNER: 'true',
      CI: 'true',
      NO_COLOR: '1',
      FORCE_COLOR: '0',
    },
  );
  const child: ChildProcess = spawn(wrangler.command, wrangler.args, {
    cwd: app,
    detached: true, // its own process group: workerd is wrangler's child and must stop with it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: wrangler.env,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );

  const stop = async () => {
    if (exited === undefined) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5_000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`wrangler dev (on Node ${wrangler.node.version}) exited (${exited}) before it was ready:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev (on Node ${wrangler.node.version}) was not ready after 90 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, log: () => output, stop };
}

/** Wait for a condition (the Worker works in the background); the limit is a safety net only. */
async function until<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, log: () => string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}\n--- wrangler dev output ---\n${log().slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface OutboxRow {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  due: boolean;
}

const outboxOf = (db: TestDatabase, key: string) =>
  queryRows<OutboxRow>(db.db, sql`select id::text, kind, status, attempts, last_error, run_after <= now() as due from outbox where key = ${key} order by id`);

const instantOf = (t: unknown) => Date.parse((t as { dateTime: string }).dateTime);

/** Leave the volatile parts out: when a report was made, not what it says. */
function stable(body: unknown): unknown {
  const { generated_at: _g, exported_at: _e, ...rest } = body as Record<string, unknown>;
  return rest;
}

describe('leave-bridge in workerd (wrangler dev --local)', { timeout: 60_000 }, () => {
  let workerDb: TestDatabase;
  let nodeDb: TestDatabase;
  let feishu: FakeFeishu;
  let google: FakeGoogle;
  let nodeGoogle: FakeGoogle;
  let worker: WranglerDev;
  let workerWithoutDb: WranglerDev;
  let node: ReturnType<typeof testApp>;
  let drainNode: () => Promise<unknown>;
  /** every request posted to the Worker, replayed to the Node app in the same order */
  const delivered: FeishuRequest[] = [];

  const log = () => worker?.log() ?? '';
  /**
   * A request to the Worker that names itself and shows wrangler's output if it hangs (one
   * full-suite run saw this test time out at 60 s with no step named).
   */
  const call = async (path: string, init: RequestInit = {}) => {
    try {
      return await fetch(`${worker.url}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
    } catch (err) {
      throw new Error(`${init.method ?? 'GET'} ${path} to the Worker: ${(err as Error).message}\n--- wrangler dev output ---\n${log().slice(-6000)}`);
    }
  };
  const post = async (req: FeishuRequest) => {
    delivered.push(req);
    const res = await call('/webhook/feishu', { method: 'POST', body: req.body, headers: req.headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const admin = (p: string) => call(p, { headers: { authorization: `Bearer ${ADMIN}` } });

  beforeAll(async () => {
    [workerDb, nodeDb, feishu, google, nodeGoogle] = await Promise.all([
      createPostgresDatabase('lb_workerd'),
      createPostgresDatabase('lb_workerd_node'),
      startFakeFeishu(),
      startFakeGoogle(),
      startFakeGoogle(),
    ]);
    for (const p of Object.values(PEOPLE)) feishu.addUser(p);
    google.share(TEAM_CALENDAR, TEAM_OWNER);

    const common = {
      FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
      FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY,
      FEISHU_APP_ID: feishu.appId,
      FEISHU_APP_SECRET: feishu.appSecret,
      FEISHU_BASE_URL: feishu.url,
      DEFAULT_TIMEZONE: 'Asia/Shanghai',
      ADMIN_TOKEN: ADMIN,
    };
    const closedPort = await freePort();
    const workerPort = await freePort();
    feishu.addUser({ user_id: 'u_op', open_id: 'ou_op', name: 'Operator' });
    [worker, workerWithoutDb] = await Promise.all([
      startWranglerDev({
        hyperdrive: workerDb.url!,
        port: workerPort,
        vars: {
          ...common,
          GOOGLE_CALENDAR_BASE_URL: google.url,
          GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(JSON.parse(google.serviceAccountJson)),
          // only requests sent straight to the Worker carry approval_instance events
          CALENDAR_TENTATIVE_HOLDS: 'true',
          LOG_LEVEL: 'info',
          // Feishu sign-in for the dashboard, against the fake's authorize page and token endpoint
          PUBLIC_URL: `http://127.0.0.1:${workerPort}`,
          ADMIN_FEISHU_USERS: 'u_op',
          AUTH_FAILURE_LIMIT: '3',
          GOOGLE_TEAM_CALENDAR_ID: TEAM_CALENDAR,
          GOOGLE_TEAM_CALENDAR_OWNER: TEAM_OWNER,
          // the minute cron queues a CoreHR sync at most once a minute
          COREHR_ENABLED: 'true',
          COREHR_SYNC_INTERVAL: '1m',
        },
      }),
      startWranglerDev({ vars: { ...common, DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nothing_listens_here`, LOG_LEVEL: 'silent' } }),
    ]);

    node = testApp(nodeDb, {
      env: { ...common, LOG_LEVEL: 'silent' },
      calendar: createGoogleCalendar({ key: nodeGoogle.serviceAccountKey, baseUrl: nodeGoogle.url }),
      feishu: createFeishuClient({ appId: feishu.appId, appSecret: feishu.appSecret, baseUrl: feishu.url, logger: silentLogger }),
    });
    const drainer = createDrainer(node.deps, drainerOptions(node.deps.config));
    drainNode = () => drainer.drainOnce();
  }, 150_000);

  afterAll(async () => {
    await Promise.all([worker?.stop(), workerWithoutDb?.stop()]);
    await Promise.all([workerDb?.close(), nodeDb?.close(), feishu?.close(), google?.close(), nodeGoogle?.close()]);
  });

  it('serves the app from workerd against the migrated database behind the Hyperdrive binding', async () => {
    const ready = await fetch(`${worker.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: true, migrations: true } });
    // the admin surface is there, behind the token
    expect((await fetch(`${worker.url}/api/leaves`)).status).toBe(401);
    expect((await admin('/api/leaves')).status).toBe(200);
  });

  it('turns an encrypted, signed approval into an out-of-office block through ctx.waitUntil', async () => {
    const spec = { instanceCode: A, employeeId: PEOPLE.alice.user_id, openId: PEOPLE.alice.open_id, start: '2024-09-05 00:00:00', end: '2024-09-07 00:00:00', interval: 2 * 86400 };
    const v2 = await post(await encryptedRequest(leaveApprovalV2(spec)));
    expect(v2).toEqual({ status: 200, body: { code: 0, status: 'applied' } });
    const v1 = await post(await encryptedRequest(leaveApprovalV1(spec)));
    expect(v1.status).toBe(200);

    // Nothing else drains this database: the block can only come from the request's waitUntil.
    const event = await until('the block of A in the fake Google', () => google.event(PEOPLE.alice.email, eventIdFor(A)), log);
    expect(event).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
    // full days: local midnight to midnight in the employee's (here the default) zone
    expect(instantOf(event.start)).toBe(Date.parse('2024-09-05T00:00:00+08:00'));
    expect(instantOf(event.end)).toBe(Date.parse('2024-09-07T00:00:00+08:00'));
    expect(event.start).toMatchObject({ timeZone: 'Asia/Shanghai' });
    await until('the outbox of A to settle', async () => (await outboxOf(workerDb, A)).every((r) => r.status === 'done'), log);
    // V1 and V2 are one leave: one event on the calendar
    expect(google.events(PEOPLE.alice.email).filter((e) => e.status !== 'cancelled')).toHaveLength(1);
    // the call took its tokens from the quota buckets every invocation shares
    const buckets = await queryRows<{ name: string }>(workerDb.db, sql`select name from google_quota order by name`);
    expect(buckets.map((b) => b.name)).toEqual(expect.arrayContaining(['project', `user:${PEOPLE.alice.email.toLowerCase()}`]));
  });

  it('leaves a failing sync to backoff and completes it in the scheduled handler (/__scheduled)', async () => {
    google.faults.add({ op: 'insert', calendarId: PEOPLE.bob.email, fault: 'http503', times: Infinity });
    const res = await post(
      await encryptedRequest(
        leaveApprovalV2({ instanceCode: B, employeeId: PEOPLE.bob.user_id, openId: PEOPLE.bob.open_id, unit: 'HOUR', start: '2024-09-10 09:00:00', end: '2024-09-10 13:00:00', interval: 4 * 3600 }),
      ),
    );
    expect(res.body).toEqual({ code: 0, status: 'applied' });

    // waitUntil tried (with its quick retries), failed, and put the row back with a backoff
    const [failed] = await until('waitUntil to give the row of B back', async () => {
      const rows = await outboxOf(workerDb, B);
      return rows.length === 1 && rows[0]!.status === 'pending' && rows[0]!.attempts === 1 ? rows : undefined;
    }, log);
    expect(failed!.last_error).toMatch(/503/);
    expect(google.event(PEOPLE.bob.email, eventIdFor(B))).toBeUndefined();

    google.faults.clear();
    await until('the backoff of B to pass', async () => (await outboxOf(workerDb, B))[0]!.due, log);
    const cron = await call(`/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    expect(cron.status).toBe(200);
    await cron.text();

    const event = await until('the block of B in the fake Google', () => google.event(PEOPLE.bob.email, eventIdFor(B)), log);
    expect(event).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
    expect(instantOf(event.start)).toBe(Date.parse('2024-09-10T09:00:00+08:00'));
    expect(instantOf(event.end)).toBe(Date.parse('2024-09-10T13:00:00+08:00'));
    const [row] = await until('the row of B to be done', async () => {
      const rows = await outboxOf(workerDb, B);
      return rows[0]?.status === 'done' ? rows : undefined;
    }, log);
    expect(row!.attempts).toBe(1);
    expect(google.calls.filter((c) => c.op === 'insert' && c.calendarId === PEOPLE.bob.email && c.status === 503).length).toBeGreaterThanOrEqual(1);
  });

  it('writes the team calendar event and serves an ICS feed with its own token, 304 when unchanged', async () => {
    // A (whole days, approved above) is on the team calendar, written as its owner by waitUntil
    const team = await until('the team event of A', () => google.event(TEAM_CALENDAR, blockEventIdFor(A, 'team')), log);
    expect(team).toMatchObject({ status: 'confirmed', start: { date: '2024-09-05' }, end: { date: '2024-09-07' }, transparency: 'transparent' });
    expect(google.calls.filter((c) => c.calendarId === TEAM_CALENDAR).every((c) => c.subject === TEAM_OWNER)).toBe(true);

    const created = await call('/api/feeds', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'employee', id: PEOPLE.alice.user_id }),
    });
    expect(created.status).toBe(201);
    const { url } = (await created.json()) as { url: string };
    expect(url.startsWith(`${worker.url}/feeds/employees/u_alice.ics?token=`)).toBe(true);
    // the feed's window is around today: a whole-day leave of Alice's tomorrow
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const soon = 'E2E-WORKER-FEED-0008';
    const approved = await post(
      await encryptedRequest(leaveApprovalV1({ instanceCode: soon, employeeId: PEOPLE.alice.user_id, openId: PEOPLE.alice.open_id, start: `${day(1)} 00:00:00`, end: `${day(2)} 00:00:00` })),
    );
    expect(approved.status).toBe(200);
    const feed = await call(new URL(url).pathname + new URL(url).search);
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    const cal = new ICAL.Component(ICAL.parse(await feed.text()));
    expect(cal.getFirstPropertyValue('x-wr-calname')).toBe('Absences of u_alice');
    const events = cal.getAllSubcomponents('vevent').map((v) => new ICAL.Event(v));
    expect(events.map((e) => [e.uid, e.summary, e.startDate.isDate, e.startDate.toString()])).toEqual([
      [`${blockEventIdFor(soon, 'team')}@leave-bridge`, 'u_alice — away', true, day(1)],
    ]);
    const again = await call(new URL(url).pathname + new URL(url).search, { headers: { 'if-none-match': feed.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await call('/feeds/employees/u_alice.ics?token=not-the-token')).status).toBe(404);
    expect((await call('/feeds/team.ics?token=%3Cscript%3E')).status).toBe(400);
  });

  it('removes the block when the leave is reverted', async () => {
    const res = await post(await encryptedRequest(leaveRevert({ instanceCode: A })));
    expect(res.body).toEqual({ code: 0, status: 'applied' });
    const event = await until('the block of A to be cancelled', () => {
      const e = google.event(PEOPLE.alice.email, eventIdFor(A));
      return e?.status === 'cancelled' ? e : undefined;
    }, log);
    expect(event.id).toBe(eventIdFor(A));

    const leave = (await (await admin(`/api/leaves/${A}`)).json()) as { status: string };
    expect(leave.status).toBe('reverted');
  });

  it('answers the payroll export and the reconciliation exactly as the Node app does for the same events', async () => {
    const res = await post(
      await encryptedRequest(
        leaveApprovalV2({ instanceCode: C, employeeId: PEOPLE.dave.user_id, openId: PEOPLE.dave.open_id, unit: 'HALF_DAY', start: '2024-09-12 09:00:00', end: '2024-09-12 13:00:00', interval: 43200 }),
      ),
    );
    expect(res.body).toEqual({ code: 0, status: 'applied' });
    await until('the block of C', () => google.event(PEOPLE.dave.enterprise_email, eventIdFor(C)), log);
    await until('the Worker outbox to be idle', async () => {
      const rows = await queryRows<{ n: number }>(workerDb.db, sql`select count(*)::int as n from outbox where status not in ('done')`);
      return rows[0]!.n === 0;
    }, log);

    // The same deliveries, byte for byte, to the Node app; its drainer runs in-process.
    for (const req of delivered) {
      const r = await node.post(req);
      expect(r.status).toBe(200);
      await drainNode();
    }
    expect(nodeGoogle.event(PEOPLE.dave.enterprise_email, eventIdFor(C))).toBeDefined();

    // Drift both sides must report: C's block moved behind the connector's back in each Google,
    // and Feishu says B was reverted while both have it approved.
    for (const g of [google, nodeGoogle]) {
      g.alterEvent(PEOPLE.dave.enterprise_email, eventIdFor(C), { start: { dateTime: '2024-09-12T10:00:00+08:00', timeZone: 'Asia/Shanghai' } });
    }
    const created = Date.parse('2024-09-01T00:00:00Z');
    feishu.addInstance({ instance_code: A, approval_code: 'APPROVAL-LEAVE', status: 'APPROVED', reverted: true, user_id: PEOPLE.alice.user_id, createdMs: created, form: [] });
    feishu.addInstance({ instance_code: B, approval_code: 'APPROVAL-LEAVE', status: 'APPROVED', reverted: true, user_id: PEOPLE.bob.user_id, createdMs: created, form: [] });
    feishu.addInstance({ instance_code: C, approval_code: 'APPROVAL-LEAVE', status: 'APPROVED', user_id: PEOPLE.dave.user_id, createdMs: created, form: [] });

    const period = 'from=2024-09-01&to=2024-09-30';
    const paths = [
      `/api/payroll/export?${period}&format=json`,
      `/api/payroll/export?${period}&format=csv`,
      `/api/reconciliation?${period}&verify=google,feishu`,
    ];
    for (const p of paths) {
      const [w, n] = [await admin(p), await node.admin(p)];
      expect([p, w.status], log()).toEqual([p, 200]);
      expect(n.status).toBe(200);
      expect(w.headers.get('content-type')).toBe(n.headers.get('content-type'));
      if (p.includes('format=csv')) {
        const [wt, nt] = [await w.text(), await n.text()];
        expect(wt).toBe(nt);
        expect(wt.trim().split("\n")).toHaveLength(3); // header, B (4 hours on one date), C (half a day)
      } else {
        const [wj, nj] = [await w.json(), await n.json()];
        expect(stable(wj)).toEqual(stable(nj));
      }
    }

    const report = (await (await admin(`/api/reconciliation?${period}&verify=google,feishu`)).json()) as { items: Array<{ category: string; instance_code: string }> };
    expect(report.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ category: 'google_mismatch', instance_code: C }),
        expect.objectContaining({ category: 'feishu_status_mismatch', instance_code: B }),
      ]),
    );

    // a page at a time in the Worker: every item once, the summary whole on every page
    const whole = (await (await admin(`/api/reconciliation?${period}&verify=google,feishu`)).json()) as { items: unknown[]; summary: unknown };
    const paged: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await admin(`/api/reconciliation?${period}&verify=google,feishu&limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { items: unknown[]; summary: unknown; next_cursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(1);
      expect(page.summary).toEqual(whole.summary);
      paged.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(stable(paged)).toEqual(stable(whole.items));
    expect(paged.length).toBeGreaterThan(1);
  });

  it('a trip with a peer (2.0 schema): a block on each calendar and days for both; overtime in the export of kinds', async () => {
    // sent straight to the Worker, not through post(): the Node comparison above is done
    const send = async (body: string) => {
      const req = await encryptedRequest(body);
      const res = await call('/webhook/feishu', { method: 'POST', body: req.body, headers: req.headers });
      expect(await res.json()).toEqual({ code: 0, status: 'applied' });
    };
    await send(tripApproval({ instanceCode: TRIP, employeeId: PEOPLE.bob.user_id, peers: [PEOPLE.dave.user_id], schedules: [{ start: '2024-10-14 00:00:00', end: '2024-10-16 00:00:00', interval: '172800' }] }));
    await send(workApproval({ instanceCode: WORK, employeeId: PEOPLE.alice.user_id, start: '2024-10-15 19:00:00', end: '2024-10-15 21:30:00', interval: 9000 }));
    for (const [who, email] of [[PEOPLE.bob.user_id, PEOPLE.bob.email], [PEOPLE.dave.user_id, PEOPLE.dave.enterprise_email]] as const) {
      const event = await until(`the trip block of ${who}`, () => google.event(email, blockEventIdFor(TRIP, `0@${who}`)), log);
      expect(event).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
      expect(instantOf(event.start)).toBe(Date.parse('2024-10-14T00:00:00+08:00'));
    }
    const trip = (await (await admin(`/api/approvals/${TRIP}`)).json()) as { kind: string; days: Array<{ employee_id: string; quantity: string }> };
    expect(trip.kind).toBe('trip');
    expect(trip.days.map((d) => [d.employee_id, d.quantity])).toEqual([
      [PEOPLE.bob.user_id, '1'],
      [PEOPLE.bob.user_id, '1'],
      [PEOPLE.dave.user_id, '1'],
      [PEOPLE.dave.user_id, '1'],
    ]);
    const csv = await (await admin('/api/payroll/export?from=2024-10-01&to=2024-10-31&kinds=overtime,trip&adjustments=false')).text();
    const rows = csv.trimEnd().split('\r\n').map((r) => r.split(','));
    expect(rows[0]!.at(-1)).toBe('kind');
    expect(rows.filter((r) => r.at(-1) === 'overtime').map((r) => [r[0], r[4], r[5], r[6]])).toEqual([[PEOPLE.alice.user_id, '2024-10-15', '2.5', 'hour']]);
    expect(rows.filter((r) => r.at(-1) === 'trip')).toHaveLength(4);
  });

  it('a pending leave gets a tentative hold, which its approval turns into the out-of-office block', async () => {
    feishu.addInstance({
      instance_code: PENDING,
      approval_code: 'APPROVAL-LEAVE',
      status: 'PENDING',
      user_id: PEOPLE.alice.user_id,
      createdMs: Date.UTC(2024, 10, 1),
      form: leaveGroupV2Form({ start: '2024-11-18T09:00:00+08:00', end: '2024-11-18T18:00:00+08:00', interval: 1 }),
    });
    const send = async (body: string) => {
      const req = await encryptedRequest(body);
      const res = await call('/webhook/feishu', { method: 'POST', body: req.body, headers: req.headers });
      expect(await res.json()).toEqual({ code: 0, status: 'applied' });
    };
    await send(approvalInstance(PENDING, 'PENDING'));
    const hold = await until('the hold', () => google.event(PEOPLE.alice.email, blockEventIdFor(PENDING, 'hold')), log);
    expect(hold).toMatchObject({ status: 'confirmed', eventType: 'default', transparency: 'transparent', summary: 'Leave requested' });
    await send(leaveApprovalV2({ instanceCode: PENDING, employeeId: PEOPLE.alice.user_id, start: '2024-11-18 09:00:00', end: '2024-11-18 18:00:00', interval: 86400 }));
    const block = await until('the block that replaces the hold', () => google.event(PEOPLE.alice.email, eventIdFor(PENDING)), log);
    expect(block).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
    expect(google.event(PEOPLE.alice.email, blockEventIdFor(PENDING, 'hold'))).toMatchObject({ status: 'cancelled' });
    expect(google.violations).toEqual([]);
  });

  it('the minute cron runs the CoreHR sync (COREHR_SYNC_INTERVAL): a Feishu People request becomes a leave with its block', async () => {
    feishu.corehr.mapUser('c_bob', PEOPLE.bob.user_id);
    feishu.corehr.put({
      leave_request_id: '7400000000000000001',
      employment_id: 'c_bob',
      leave_type_id: '1',
      leave_type_name: [{ lang: 'zh-CN', value: '年假' }],
      start_time: '2024-12-02 afternoon',
      end_time: '2024-12-03',
      leave_duration: '1.5',
      leave_duration_unit: 1,
      leave_request_status: 1,
      details: [
        { leave_date: '2024-12-02', leave_duration: '0.5', leave_duration_unit: 1, paid_type: 3 },
        { leave_date: '2024-12-03', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
      ],
      time_zone: 'Asia/Shanghai',
      leave_process_id: ['7400000000000000101'],
    });
    // as if the last periodic sync had been queued long ago
    await workerDb.db.execute(sql`update corehr_sync set last_queued_at = null`);
    const code = 'corehr-7400000000000000001';
    const cron = async () => (await call(`/__scheduled?cron=${encodeURIComponent('* * * * *')}`)).text();
    await cron();
    const leave = await until('the CoreHR leave in the Worker\'s database', async () =>
      (await queryRows<{ source: string; status: string; start_local: string }>(workerDb.db, sql`select source, status, start_local from leaves where instance_code = ${code}`))[0], log);
    expect(leave).toEqual({ source: 'corehr', status: 'approved', start_local: '2024-12-02 12:00:00' });
    const days = await queryRows<{ date: string; quantity: string; paid_type: number }>(workerDb.db, sql`select date::text, quantity::text, paid_type from attendance_days where instance_code = ${code} order by date`);
    expect(days).toEqual([
      { date: '2024-12-02', quantity: '0.500000', paid_type: 3 },
      { date: '2024-12-03', quantity: '1.000000', paid_type: 2 },
    ]);
    const block = await until('its block, drained by the cron', async () => google.event(PEOPLE.bob.email, eventIdFor(code)) ?? (await cron(), undefined), log);
    expect(block).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
    expect(instantOf(block.start)).toBe(Date.parse('2024-12-02T12:00:00+08:00'));
    const syncs = await queryRows<{ status: string; n: number }>(workerDb.db, sql`select status, count(*)::int as n from outbox where kind = 'corehr.sync' group by status`);
    expect(syncs.every((r) => r.status === 'done')).toBe(true);
    expect(feishu.corehr.queries.some((q) => q.user_id_type === 'user_id' && q.leave_update_time_max !== undefined)).toBe(true);
  });

  it('answers 503 when the database cannot be reached, so Feishu delivers the event again', async () => {
    const req = await encryptedRequest(leaveApprovalV2({ instanceCode: 'E2E-WORKER-DOWN-0004' }));
    const res = await fetch(`${workerWithoutDb.url}/webhook/feishu`, { method: 'POST', body: req.body, headers: req.headers });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'database_unavailable', message: 'database unavailable, retry later' } });
    const ready = await fetch(`${workerWithoutDb.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { database: false } });
  });

  it('exposes the outbox gauges on /metrics', async () => {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    expect(text).toMatch(/^leave_bridge_outbox_messages\{status="done"\} [1-9]/m);
    expect(text).toMatch(/^leave_bridge_outbox_messages\{status="pending"\} 0$/m);
    expect(text).toMatch(/^leave_bridge_google_quota_tokens\{bucket="project"\} [\d.]+$/m);
  });

  it('signs a person in with Feishu: the session opens the API and the dashboard, sign-out ends it', async () => {
    feishu.signInAs('u_op');
    const start = await call('/dashboard/oauth/start', { redirect: 'manual' });
    expect(start.status).toBe(302);
    const pending = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(authorize.headers.get('location')!);
    expect(callback.origin).toBe(worker.url);
    const signedIn = await call(`${callback.pathname}${callback.search}`, { headers: { cookie: pending }, redirect: 'manual' });
    expect([signedIn.status, await signedIn.text()], log()).toEqual([303, '']);
    const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => /^lb_session=./.test(c))!;
    expect(cookie).toBeDefined();
    expect((await call('/api/leaves', { headers: { cookie } })).status).toBe(200);
    const page = await call('/dashboard', { headers: { cookie } });
    const html = await page.text();
    expect(html).toContain('Operator (u_op)');
    const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(html)![1]!;
    // another origin cannot use it
    expect((await call('/api/outbox/1/retry', { method: 'POST', headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' } })).status).toBe(403);
    const out = await call('/dashboard/logout', { method: 'POST', body: new URLSearchParams({ csrf }), headers: { cookie, origin: worker.url }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect((await call('/api/leaves', { headers: { cookie } })).status).toBe(401);
    const audit = (await (await admin('/api/audit?limit=5')).json()) as { items: Array<{ action: string; actor: { id: string | null } }> };
    expect(audit.items.map((i) => i.action)).toEqual(expect.arrayContaining(['sign_in', 'sign_out']));
  });

  it('purges payloads and export emails past their retention on the hourly cron', async () => {
    const late = leaveApprovalV2({ instanceCode: 'E2E-WORKER-PURGE-0005', employeeId: PEOPLE.alice.user_id, openId: PEOPLE.alice.open_id, start: '2024-09-20 00:00:00', end: '2024-09-21 00:00:00', interval: 86400 });
    expect((await post(await encryptedRequest(late))).body).toEqual({ code: 0, status: 'applied' });
    // age what the tests stored, as if the retention had passed
    await workerDb.db.execute(sql`update inbox_events set received_at = received_at - interval '31 days'`);
    await workerDb.db.execute(sql`update payroll_exports set created_at = created_at - interval '91 days'`);
    const before = await queryRows<{ n: number }>(workerDb.db, sql`select count(*)::int as n from inbox_events where payload is not null`);
    expect(before[0]!.n).toBeGreaterThan(0);
    expect((await queryRows<{ n: number }>(workerDb.db, sql`select count(*)::int as n from payroll_export_lines where email like '%@%'`))[0]!.n).toBeGreaterThan(0);
    // the every-minute cron drains only
    await (await call(`/__scheduled?cron=${encodeURIComponent('* * * * *')}`)).text();
    expect((await queryRows<{ n: number }>(workerDb.db, sql`select count(*)::int as n from inbox_events where payload is not null`))[0]!.n).toBe(before[0]!.n);
    const cron = await call(`/__scheduled?cron=${encodeURIComponent('17 * * * *')}`);
    expect(cron.status).toBe(200);
    await cron.text();
    const after = await queryRows<{ payloads: number; purged: number; emails: number }>(
      workerDb.db,
      sql`select (select count(*)::int from inbox_events where payload is not null) as payloads,
                 (select count(*)::int from inbox_events where payload_purged_at is not null) as purged,
                 (select count(*)::int from payroll_export_lines where email like '%@%') as emails`,
    );
    expect(after[0]).toEqual({ payloads: 0, purged: before[0]!.n, emails: 0 });
    // Feishu pushing a purged delivery again (encrypted and signed afresh) is still a duplicate
    expect((await post(await encryptedRequest(late))).body).toEqual({ code: 0, status: 'duplicate' });
  });

  it('a policy stored through the Worker turns a future out-of-office block into a busy one', async () => {
    const spec = { instanceCode: POLICY, employeeId: PEOPLE.bob.user_id, openId: PEOPLE.bob.open_id, leaveName: 'Training', start: '2099-05-04 00:00:00', end: '2099-05-05 00:00:00', interval: 86400 };
    expect((await post(await encryptedRequest(leaveApprovalV2(spec)))).body).toEqual({ code: 0, status: 'applied' });
    await until('the out-of-office block of the training', () => google.event(PEOPLE.bob.email, eventIdFor(POLICY)), log);
    const put = await call('/api/policies/Training?kind=leave', {
      method: 'PUT',
      body: JSON.stringify({ calendar: 'busy', title: 'Training', visibility: 'name_and_type' }),
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ policy: { kind: 'leave', leave_type: 'Training', calendar: 'busy' }, resynced: 1 });
    // drained by the PUT's own waitUntil
    const busy = await until('the busy block', () => google.event(PEOPLE.bob.email, blockEventIdFor(POLICY, 'plain')), log);
    expect(busy).toMatchObject({ status: 'confirmed', eventType: 'default', summary: 'Training' });
    expect(busy.transparency ?? 'opaque').toBe('opaque');
    expect(google.event(PEOPLE.bob.email, eventIdFor(POLICY))).toMatchObject({ status: 'cancelled' });
  });

  it('throttles failed authentication through the database: 429 after AUTH_FAILURE_LIMIT failures', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('/api/leaves', { headers: { authorization: `Bearer wrong-${i}` } })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const blocked = await admin('/api/leaves');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const rows = await queryRows<{ failures: number }>(workerDb.db, sql`select failures from auth_failures`);
    expect(rows.map((r) => r.failures)).toEqual([3]);
  });
});
