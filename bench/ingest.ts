/**
 * Ingest benchmark: the real Node service (`src/node.ts serve`, its own process, real Postgres)
 * under encrypted + signed leave_approval / leave_approvalV2 deliveries from autocannon, at each
 * concurrency next to its baselines, measured in the same run at the same concurrency:
 *   (a)  durable-commit limit, postgres.js: single-row INSERT transactions on a pool of the
 *        service's size (bench/children/commit-baseline.ts);
 *   (a′) durable-commit limit, pgbench: the same INSERT from one connection per concurrent client;
 *   (b)  the Feishu docs' way: SDK EventDispatcher + adaptDefault on node:http, one INSERT of the
 *        raw event per request (bench/children/sdk-webhook.ts), driven by the same load.
 * Every acked event is checked afterwards in the database.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { checkpoint, createDatabase, freeConnections, type BenchDatabase } from './lib/db.js';
import { encryptEvents, samplePlaintext, signEvents, type PreparedRequest } from './lib/feishu-events.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { freePort, MemorySampler, round, spawnCompiled, spawnProcess, spawnService, spawnTs, waitForHttp, waitForLine, type Child } from './lib/proc.js';
import { summarise, type LatencySummary } from './lib/stats.js';
import { cpuWindow, type CpuWindow } from './lib/sysstat.js';

export const ENCRYPT_KEY = 'bench-encrypt-key-0123456789abcdef';
export const VERIFICATION_TOKEN = 'bench-verification-token-41a9425e';
/** connectPostgres's default pool (src/db/node-client.ts); the baselines get the same. */
export const SERVICE_POOL_SIZE = 16;

/** The service under the ingest load: webhook with an encrypt key, ingest only. */
export function serviceEnv(port: number, databaseUrl: string): Record<string, string> {
  return {
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    FEISHU_VERIFICATION_TOKEN: VERIFICATION_TOKEN,
    FEISHU_ENCRYPT_KEY: ENCRYPT_KEY,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    // Ingest only, like baseline (b): the outbox rows are written in the ingest transaction and
    // drained by another process (bench/outbox measures that part).
    OUTBOX_CONCURRENCY: '0',
  };
}

export interface IngestOptions {
  concurrencies: number[];
  durationS: number;
  warmupS: number;
  /** bodies are prepared for this rate × time (the load stops early, flagged, if it runs out) */
  maxRate: number;
  /** distinct employees in the load */
  employees: number;
  pgbench: boolean;
  /** write V8 CPU profiles of the servers under test here (--cpu-prof), or null */
  cpuProfDir: string | null;
  log: (line: string) => void;
}

export interface HttpTargetResult {
  eventsPerS: number;
  acked: number;
  elapsedS: number;
  latencyMs: LatencySummary;
  peakRssMb: number;
  hwmMb: number | null;
  cpu: CpuWindow;
  /** server CPU ms per acked event */
  cpuMsPerEvent: number | null;
  errors: number;
  timeouts: number;
  rejected: Record<string, number>;
  exhausted: boolean;
  check: Check;
}

export interface CommitResult {
  commitsPerS: number;
  commits: number;
  elapsedS: number;
  latencyMs: LatencySummary | null;
  connections: number;
  check: Check;
  note?: string;
}

export interface Check {
  ok: boolean;
  detail: string;
}

export interface IngestRow {
  concurrency: number;
  leaveBridge: HttpTargetResult;
  commitPool: CommitResult;
  commitPgbench: CommitResult | null;
  /** (b) before leave-bridge's run and again after it: the ratio is to their mean */
  sdk: HttpTargetResult;
  sdkAfter: HttpTargetResult;
  ratio: { toCommitPool: number; toCommitPgbench: number | null; toSdk: number };
}

const ackLeaveBridge = (body: string) => body.includes('"code":0') && body.includes('"status":"applied"');
const ackSdk = (body: string) => body === '"ok"';

/** Prepared bodies: enough for `rate` over the time, so a run only stops early if it is faster. */
function capacity(rate: number, seconds: number, connections: number): number {
  return Math.max(connections * 4, Math.ceil(rate * seconds));
}

async function driveHttp(
  target: 'leave-bridge' | 'sdk',
  concurrency: number,
  opts: IngestOptions,
  /** a rate this target is unlikely to exceed (bodies are prepared for it); maxRate when unknown */
  rateHint = opts.maxRate,
): Promise<HttpTargetResult> {
  const events = { encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN, employees: opts.employees };
  const rate = Math.min(opts.maxRate, rateHint);
  const warmCount = opts.warmupS > 0 ? capacity(rate, opts.warmupS, concurrency) : 0;
  const runCount = capacity(rate, opts.durationS, concurrency);
  // Encrypt ahead (not clock-bound); sign just before the load (timestamps must be fresh).
  const encrypted = await encryptEvents(warmCount + runCount, events);

  const db = await createDatabase(`ingest_${target}_c${concurrency}`);
  let child: Child | null = null;
  const nodeArgs = opts.cpuProfDir
    ? // One directory per server (a loader thread, where there is one, writes a profile of its own).
      ['--cpu-prof', `--cpu-prof-dir=${path.join(opts.cpuProfDir, `ingest-${target}-c${concurrency}`)}`]
    : [];
  try {
    const port = await freePort();
    if (target === 'leave-bridge') {
      child = await spawnService('leave-bridge serve', ['serve'], serviceEnv(port, db.url), nodeArgs);
      await waitForHttp(child, `http://127.0.0.1:${port}/readyz`, 30_000);
    } else {
      child = await spawnCompiled('sdk webhook', 'bench/children/sdk-webhook.ts', [], {
        PORT: String(port),
        DATABASE_URL: db.url,
        FEISHU_VERIFICATION_TOKEN: VERIFICATION_TOKEN,
        FEISHU_ENCRYPT_KEY: ENCRYPT_KEY,
        POOL_SIZE: String(SERVICE_POOL_SIZE),
        NODE_ENV: 'production',
      }, nodeArgs);
      await waitForLine(child, /^READY /, 30_000);
    }
    const prepared = await signEvents(encrypted, ENCRYPT_KEY);
    const load = {
      url: `http://127.0.0.1:${port}`,
      path: target === 'leave-bridge' ? '/webhook/feishu' : '/webhook/event',
      idlePath: '/healthz',
      connections: concurrency,
      isAck: target === 'leave-bridge' ? ackLeaveBridge : ackSdk,
    };
    const ackedAll: PreparedRequest[] = [];
    if (warmCount > 0) {
      const warm = await runLoad({ ...load, requests: prepared.slice(0, warmCount), durationS: opts.warmupS });
      for (const i of warm.acked) ackedAll.push(prepared[i]!);
    }
    const main = prepared.slice(warmCount);
    const memory = new MemorySampler(child.pid).start();
    const endCpu = await cpuWindow(child.pid, db.name);
    const run: LoadResult = await runLoad({ ...load, requests: main, durationS: opts.durationS });
    const cpu = await endCpu();
    const mem = memory.stop();
    for (const i of run.acked) ackedAll.push(main[i]!);
    // Requests in flight when the load stopped may still commit: let them, then check.
    await new Promise((r) => setTimeout(r, 300));
    const check = target === 'leave-bridge' ? await checkLeaveBridge(db, ackedAll) : await checkSdk(db, ackedAll);
    if (child.proc.exitCode !== null) throw new Error(`${child.label} died during the run:\n${child.output()}`);
    return {
      eventsPerS: run.eventsPerS,
      acked: run.acked.length,
      elapsedS: run.elapsedS,
      latencyMs: run.latencyMs,
      peakRssMb: mem.peakRssMb,
      hwmMb: mem.hwmMb,
      cpu,
      cpuMsPerEvent: cpu.processMs !== null && run.acked.length > 0 ? round(cpu.processMs / run.acked.length, 3) : null,
      errors: run.errors,
      timeouts: run.timeouts,
      rejected: run.rejected,
      exhausted: run.exhausted,
      check,
    };
  } finally {
    // writing a CPU profile at exit takes a while for a long run
    await child?.stop(opts.cpuProfDir ? 60_000 : 5000);
    await db.drop();
  }
}

/**
 * Every acked event made its leave: inbox row applied, leave approved with both variants that
 * were acked, active attendance adding up to the leave_interval (1.5 days), a calendar.upsert
 * outbox row — and no leave without an event.
 */
async function checkLeaveBridge(db: BenchDatabase, acked: PreparedRequest[]): Promise<Check> {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const uuids = acked.map((a) => a.uuid);
    const codes = [...new Set(acked.map((a) => a.instanceCode))];
    const both = new Map<string, number>();
    for (const a of acked) both.set(a.instanceCode, (both.get(a.instanceCode) ?? 0) + 1);
    const withBoth = [...both.entries()].filter(([, n]) => n === 2).map(([c]) => c);
    const [inbox] = await sql<{ n: number }[]>`
      select count(*)::int as n from inbox_events where event_key = any(${uuids}) and status = 'applied'`;
    const [leaves] = await sql<{ n: number }[]>`
      select count(*)::int as n from leaves where instance_code = any(${codes}) and status = 'approved'`;
    const [merged] = await sql<{ n: number }[]>`
      select count(*)::int as n from leaves where instance_code = any(${withBoth}) and has_v1 and has_v2`;
    const [days] = await sql<{ n: number }[]>`
      select count(*)::int as n from (
        select instance_code from attendance_days
        where status = 'active' and instance_code = any(${codes})
        group by instance_code having sum(quantity) = 1.5) d`;
    const [outbox] = await sql<{ n: number }[]>`
      select count(distinct key)::int as n from outbox where kind = 'calendar.upsert' and key = any(${codes})`;
    const [totals] = await sql<{ inbox: number; leaves: number }[]>`
      select (select count(*)::int from inbox_events) as inbox, (select count(*)::int from leaves) as leaves`;
    const problems: string[] = [];
    if (inbox!.n !== uuids.length) problems.push(`${uuids.length - inbox!.n} acked events without an applied inbox row`);
    if (leaves!.n !== codes.length) problems.push(`${codes.length - leaves!.n} acked approvals without an approved leave`);
    if (merged!.n !== withBoth.length) problems.push(`${withBoth.length - merged!.n} leaves missing V1 or V2`);
    if (days!.n !== codes.length) problems.push(`${codes.length - days!.n} leaves whose attendance does not add up to 1.5 days`);
    if (outbox!.n !== codes.length) problems.push(`${codes.length - outbox!.n} leaves without a calendar.upsert outbox row`);
    // In-flight requests cut off by the end of the load may have committed without an ack.
    if (totals!.inbox < uuids.length || totals!.inbox > uuids.length + 256) problems.push(`inbox has ${totals!.inbox} rows for ${uuids.length} acks`);
    return {
      ok: problems.length === 0,
      detail: problems.length
        ? problems.join('; ')
        : `${uuids.length} acked events → ${codes.length} leaves (${withBoth.length} merged V1+V2), attendance and outbox rows all present`,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function checkSdk(db: BenchDatabase, acked: PreparedRequest[]): Promise<Check> {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const uuids = acked.map((a) => a.uuid);
    const [row] = await sql<{ n: number }[]>`select count(distinct uuid)::int as n from sdk_events where uuid = any(${uuids})`;
    const ok = row!.n === uuids.length;
    return { ok, detail: ok ? `${uuids.length} acked events → ${row!.n} rows` : `${uuids.length - row!.n} acked events without a row` };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function commitPool(concurrency: number, opts: IngestOptions, payload: string): Promise<CommitResult> {
  const db = await createDatabase(`ingest_commit_c${concurrency}`);
  try {
    const child = spawnTs('commit baseline', 'bench/children/commit-baseline.ts', [], {
      DATABASE_URL: db.url,
      CONCURRENCY: String(concurrency),
      POOL_SIZE: String(SERVICE_POOL_SIZE),
      DURATION_S: String(opts.durationS),
      WARMUP_S: String(opts.warmupS),
      PAYLOAD: payload,
    });
    const code = await child.exited;
    const line = child.lines().findLast((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`commit baseline failed (${code}):\n${child.output()}`);
    const r = JSON.parse(line) as { commits: number; rowsAdded: number; elapsedS: number; latencyMs: LatencySummary };
    const ok = r.rowsAdded === r.commits;
    return {
      commitsPerS: Math.round(r.commits / r.elapsedS),
      commits: r.commits,
      elapsedS: round(r.elapsedS, 3),
      latencyMs: r.latencyMs,
      connections: Math.min(concurrency, SERVICE_POOL_SIZE),
      check: { ok, detail: ok ? `${r.commits} commits → ${r.rowsAdded} rows` : `${r.commits} commits but ${r.rowsAdded} rows` },
    };
  } finally {
    await db.drop();
  }
}

export function pgbenchAvailable(): boolean {
  return spawnSync('pgbench', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** pgbench: one connection per client, per-transaction log for the percentiles. */
async function commitPgbench(concurrency: number, opts: IngestOptions, payload: string): Promise<CommitResult> {
  // Other people's tests share this server: leave them room.
  const free = (await freeConnections()) - 10;
  const clients = Math.max(1, Math.min(concurrency, free));
  const db = await createDatabase(`ingest_pgbench_c${concurrency}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-pgbench-'));
  try {
    const setup = postgres(db.url, { max: 1, onnotice: () => {} });
    await setup`create table commit_baseline (
      id bigserial primary key, event_key text not null unique, payload jsonb not null,
      received_at timestamptz not null default now())`;
    await setup.end({ timeout: 5 });
    const script = path.join(dir, 'insert.sql');
    // A literal payload: no ':' followed by a letter, or pgbench would read it as a variable.
    const literal = payload.replaceAll("'", "''");
    writeFileSync(
      script,
      `insert into commit_baseline (event_key, payload) values (pg_backend_pid()::text || '-' || clock_timestamp()::text, '${literal}');\n`,
    );
    const run = async (seconds: number, log: boolean) => {
      const args = ['-n', '-f', script, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(Math.max(1, Math.round(seconds)))];
      if (log) args.push('-l', `--log-prefix=${path.join(dir, 'tx')}`);
      const child = spawnProcess('pgbench', 'pgbench', [...args, db.url], {});
      const code = await child.exited;
      if (code !== 0) throw new Error(`pgbench failed (${code}):\n${child.output()}`);
      return child.output();
    };
    if (opts.warmupS > 0) await run(opts.warmupS, false);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const [before] = await sql<{ n: number }[]>`select count(*)::int as n from commit_baseline`;
    const out = await run(opts.durationS, true);
    const [after] = await sql<{ n: number }[]>`select count(*)::int as n from commit_baseline`;
    await sql.end({ timeout: 5 });
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
    const latencies: number[] = [];
    for (const f of readdirSync(dir).filter((n) => n.startsWith('tx'))) {
      for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
        const us = Number(line.split(' ')[2]);
        if (Number.isFinite(us) && line) latencies.push(us / 1000);
      }
    }
    const rows = after!.n - before!.n;
    const ok = rows === processed;
    return {
      commitsPerS: Math.round(tps),
      commits: processed,
      elapsedS: round(processed / tps, 3),
      latencyMs: latencies.length ? summarise(latencies) : null,
      connections: clients,
      check: { ok, detail: ok ? `${processed} commits → ${rows} rows` : `${processed} commits but ${rows} rows` },
      ...(clients < concurrency ? { note: `only ${clients} connections free on the server` } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

export async function runIngest(opts: IngestOptions): Promise<IngestRow[]> {
  const rows: IngestRow[] = [];
  const payload = samplePlaintext({ encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN });
  const withPgbench = opts.pgbench && pgbenchAvailable();
  if (opts.pgbench && !withPgbench) opts.log('pgbench not found: baseline (a′) skipped');
  for (const c of opts.concurrencies) {
    opts.log(`ingest c=${c}: (a) postgres.js commits…`);
    await checkpoint();
    const commit = await commitPool(c, opts, payload);
    let pgb: CommitResult | null = null;
    if (withPgbench) {
      opts.log(`ingest c=${c}: (a′) pgbench…`);
      await checkpoint();
      pgb = await commitPgbench(c, opts, payload);
    }
    opts.log(`ingest c=${c}: (b) Feishu SDK + node:http…`);
    await checkpoint();
    const sdk = await driveHttp('sdk', c, opts);
    opts.log(`ingest c=${c}: leave-bridge…`);
    await checkpoint();
    // Bodies for twice the SDK's rate (at least 1,000/s) rather than maxRate: encrypting what is
    // never sent costs this shared machine's CPU too. Outrunning them is flagged in the table.
    const lb = await driveHttp('leave-bridge', c, opts, 2 * Math.max(sdk.eventsPerS, 500));
    // (b) once more: this machine's speed drifts over tens of seconds, and the ratio to the mean
    // of a run before and a run after cancels a steady drift
    // (docs/decisions/0018-benchmark-baselines-and-comparisons.md).
    opts.log(`ingest c=${c}: (b) Feishu SDK again, after leave-bridge…`);
    await checkpoint();
    const sdkAfter = await driveHttp('sdk', c, opts);
    const sdkMean = (sdk.eventsPerS + sdkAfter.eventsPerS) / 2;
    const row: IngestRow = {
      concurrency: c,
      leaveBridge: lb,
      commitPool: commit,
      commitPgbench: pgb,
      sdk,
      sdkAfter,
      ratio: {
        toCommitPool: round(lb.eventsPerS / commit.commitsPerS, 3),
        toCommitPgbench: pgb ? round(lb.eventsPerS / pgb.commitsPerS, 3) : null,
        toSdk: round(lb.eventsPerS / sdkMean, 3),
      },
    };
    opts.log(
      `ingest c=${c}: leave-bridge ${lb.eventsPerS}/s (p99 ${lb.latencyMs.p99} ms, ${lb.hwmMb} MB), ` +
        `(a) ${commit.commitsPerS}/s${pgb ? `, (a′) ${pgb.commitsPerS}/s` : ''}, (b) ${sdk.eventsPerS}/s and ${sdkAfter.eventsPerS}/s`,
    );
    rows.push(row);
  }
  return rows;
}
