/**
 * Outbox benchmark: N due 'calendar.upsert' rows (approved leaves of employees with emails, written
 * straight into a freshly migrated database) drained by the real drainer into the fake Google
 * Calendar (test/fakes/google.ts) with 0 ms and 50 ms added per call, next to graphile-worker 0.16
 * running the same number of jobs that make the same Google call at the same concurrency. Each side
 * runs in its own process (its CPU time is that process's); the fake runs in this one, a fresh
 * instance per run.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { runMigrations } from 'graphile-worker';
import postgres from 'postgres';
import { startFakeGoogle, type FakeGoogle } from '../test/fakes/google.js';
import { checkpoint, createDatabase } from './lib/db.js';
import { round, spawnTs } from './lib/proc.js';

export interface OutboxOptions {
  rows: number;
  employees: number;
  latenciesMs: number[];
  /** the drainer's OUTBOX_CONCURRENCY, given to graphile-worker too */
  concurrency: number;
  batchSize: number;
  timeoutS: number;
  /** write V8 CPU profiles of both draining processes here (--cpu-prof), or null */
  cpuProfDir: string | null;
  log: (line: string) => void;
}

export interface DrainResult {
  opsPerS: number;
  ops: number;
  elapsedS: number;
  cpuMs: number;
  /** CPU ms per 1,000 calendar operations */
  cpuMsPer1k: number;
  peakRssMb: number;
  check: { ok: boolean; detail: string };
}

export interface OutboxRow {
  latencyMs: number;
  concurrency: number;
  leaveBridge: DrainResult;
  graphile: DrainResult;
  ratio: number;
}

export interface Leave {
  instanceCode: string;
  employeeId: string;
  email: string;
  startLocal: string;
  endLocal: string;
  timezone: string;
}

/** N approved leaves (a working day each, spread over a year) of `employees` people. */
function makeLeaves(n: number, employees: number): Leave[] {
  const base = Date.UTC(2025, 0, 6);
  return Array.from({ length: n }, (_, i) => {
    const e = i % employees;
    const day = new Date(base + (i % 365) * 86_400_000).toISOString().slice(0, 10);
    return {
      instanceCode: randomUUID().toUpperCase(),
      employeeId: `e${e}`,
      email: `employee${e}@bench.example.com`,
      startLocal: `${day} 09:00:00`,
      endLocal: `${day} 18:00:00`,
      timezone: 'Asia/Shanghai',
    };
  });
}

export async function seedOutbox(url: string, leaves: Leave[]): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const emp = new Map(leaves.map((l) => [l.employeeId, l.email]));
    await sql`
      insert into employees (employee_id, email, updated_at)
      select * , now() from unnest(${[...emp.keys()]}::text[], ${[...emp.values()]}::text[])`;
    await sql`
      insert into leaves (instance_code, approval_code, employee_id, leave_type, unit, interval_seconds,
                          start_local, end_local, segments_source, timezone, status, detail_source,
                          has_v1, has_v2, approved_at, revision)
      select code, 'APPROVAL-LEAVE', emp, 'Annual leave', 'DAY', 86400, s, e, 'start_end', tz, 'approved', 'v2',
             true, true, now(), 1
      from unnest(${leaves.map((l) => l.instanceCode)}::text[], ${leaves.map((l) => l.employeeId)}::text[],
                  ${leaves.map((l) => l.startLocal)}::text[], ${leaves.map((l) => l.endLocal)}::text[],
                  ${leaves.map((l) => l.timezone)}::text[]) as t(code, emp, s, e, tz)`;
    // Due a second ago, in instance order: what ingest leaves behind after a burst of approvals.
    await sql`
      insert into outbox (key, kind, payload, status, run_after)
      select code, 'calendar.upsert', '{}'::jsonb, 'pending', now() - interval '1 second'
      from unnest(${leaves.map((l) => l.instanceCode)}::text[]) with ordinality as t(code, n) order by n`;
    await sql`analyze`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function seedGraphile(url: string, leaves: Leave[]): Promise<void> {
  await runMigrations({ connectionString: url, logger: undefined });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`
      select graphile_worker.add_job('calendar_upsert',
               json_build_object('instanceCode', code, 'calendarId', email, 'startLocal', s, 'endLocal', e, 'timezone', tz))
      from unnest(${leaves.map((l) => l.instanceCode)}::text[], ${leaves.map((l) => l.email)}::text[],
                  ${leaves.map((l) => l.startLocal)}::text[], ${leaves.map((l) => l.endLocal)}::text[],
                  ${leaves.map((l) => l.timezone)}::text[]) as t(code, email, s, e, tz)`;
    await sql`analyze`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** What Google ended up with: exactly one out-of-office event per leave, made by one insert each. */
function checkGoogle(fake: FakeGoogle, leaves: Leave[]): { ok: boolean; detail: string } {
  const emails = new Set(leaves.map((l) => l.email));
  let events = 0;
  let ooo = 0;
  for (const email of emails) {
    for (const e of fake.events(email)) {
      events++;
      if (e.eventType === 'outOfOffice' && e.status === 'confirmed') ooo++;
    }
  }
  const inserts = fake.calls.filter((c) => c.op === 'insert').length;
  const failures = fake.calls.filter((c) => typeof c.status !== 'number' || c.status >= 400).length;
  const problems: string[] = [];
  if (ooo !== leaves.length || events !== leaves.length) problems.push(`${events} events (${ooo} out-of-office) for ${leaves.length} leaves`);
  if (inserts !== leaves.length) problems.push(`${inserts} inserts for ${leaves.length} leaves`);
  if (failures > 0) problems.push(`${failures} failed calls`);
  return { ok: problems.length === 0, detail: problems.join('; ') || `${leaves.length} out-of-office events, one insert each` };
}

export function profileArgs(opts: Pick<OutboxOptions, 'cpuProfDir'>, name: string): string[] {
  return opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(opts.cpuProfDir, name)}`] : [];
}

export function parseChild(output: string[], label: string, all: string): Record<string, unknown> {
  const line = output.findLast((l) => l.startsWith('{'));
  if (!line) throw new Error(`${label} printed no result:\n${all}`);
  return JSON.parse(line) as Record<string, unknown>;
}

async function drainLeaveBridge(leaves: Leave[], latencyMs: number, opts: OutboxOptions): Promise<DrainResult> {
  const db = await createDatabase(`outbox_lb_${latencyMs}ms`, { migrate: true });
  const fake = await startFakeGoogle();
  try {
    await seedOutbox(db.url, leaves);
    await checkpoint(); // the seed's writes are not the drain's to pay for (both sides)
    fake.faults.latencyMs = latencyMs;
    const child = spawnTs('outbox drainer', 'bench/children/outbox-drain.ts', [], {
      DATABASE_URL: db.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: fake.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: fake.url,
      OUTBOX_CONCURRENCY: String(opts.concurrency),
      OUTBOX_BATCH_SIZE: String(opts.batchSize),
      LOG_LEVEL: 'warn',
      EXPECTED: String(leaves.length),
      TIMEOUT_S: String(opts.timeoutS),
      NODE_ENV: 'production',
    }, profileArgs(opts, `outbox-leave-bridge-${latencyMs}ms`));
    const code = await child.exited;
    if (code !== 0) throw new Error(`outbox drainer failed (${code}):\n${child.output()}`);
    const r = parseChild(child.lines(), 'outbox drainer', child.output()) as {
      elapsedS: number;
      cpuMs: number;
      peakRssMb: number;
      upserts: number;
      statuses: Record<string, number>;
    };
    const google = checkGoogle(fake, leaves);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const [blocks] = await sql<{ n: number }[]>`select count(*)::int as n from calendar_blocks where state = 'present' and event_type = 'outOfOffice'`;
    await sql.end({ timeout: 5 });
    const done = r.statuses.done ?? 0;
    const problems: string[] = [];
    if (done !== leaves.length) problems.push(`outbox ${JSON.stringify(r.statuses)}`);
    if (blocks!.n !== leaves.length) problems.push(`${blocks!.n} calendar_blocks for ${leaves.length} leaves`);
    if (!google.ok) problems.push(google.detail);
    return {
      opsPerS: Math.round(leaves.length / r.elapsedS),
      ops: leaves.length,
      elapsedS: round(r.elapsedS, 3),
      cpuMs: r.cpuMs,
      cpuMsPer1k: round((r.cpuMs / leaves.length) * 1000),
      peakRssMb: r.peakRssMb,
      check: {
        ok: problems.length === 0,
        detail: problems.join('; ') || `${done} rows done, ${blocks!.n} calendar_blocks, ${google.detail}`,
      },
    };
  } finally {
    await fake.close();
    await db.drop();
  }
}

async function drainGraphile(leaves: Leave[], latencyMs: number, opts: OutboxOptions): Promise<DrainResult> {
  const db = await createDatabase(`outbox_gw_${latencyMs}ms`);
  const fake = await startFakeGoogle();
  try {
    await seedGraphile(db.url, leaves);
    await checkpoint(); // the seed's writes are not the drain's to pay for (both sides)
    fake.faults.latencyMs = latencyMs;
    const child = spawnTs('graphile-worker', 'bench/children/graphile-drain.ts', [], {
      DATABASE_URL: db.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: fake.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: fake.url,
      CONCURRENCY: String(opts.concurrency),
      EXPECTED: String(leaves.length),
      TIMEOUT_S: String(opts.timeoutS),
      NODE_ENV: 'production',
    }, profileArgs(opts, `outbox-graphile-${latencyMs}ms`));
    const code = await child.exited;
    if (code !== 0) throw new Error(`graphile-worker baseline failed (${code}):\n${child.output()}`);
    const r = parseChild(child.lines(), 'graphile-worker', child.output()) as {
      elapsedS: number;
      cpuMs: number;
      peakRssMb: number;
      completed: number;
      failed: number;
      jobsLeft: number;
    };
    const google = checkGoogle(fake, leaves);
    const problems: string[] = [];
    if (r.completed !== leaves.length || r.failed > 0 || r.jobsLeft > 0) {
      problems.push(`${r.completed} jobs complete, ${r.failed} failed, ${r.jobsLeft} left`);
    }
    if (!google.ok) problems.push(google.detail);
    return {
      opsPerS: Math.round(leaves.length / r.elapsedS),
      ops: leaves.length,
      elapsedS: round(r.elapsedS, 3),
      cpuMs: r.cpuMs,
      cpuMsPer1k: round((r.cpuMs / leaves.length) * 1000),
      peakRssMb: r.peakRssMb,
      check: { ok: problems.length === 0, detail: problems.join('; ') || `${r.completed} jobs complete, ${google.detail}` },
    };
  } finally {
    await fake.close();
    await db.drop();
  }
}

export async function runOutbox(opts: OutboxOptions): Promise<OutboxRow[]> {
  const rows: OutboxRow[] = [];
  for (const latencyMs of opts.latenciesMs) {
    const leaves = makeLeaves(opts.rows, opts.employees);
    opts.log(`outbox ${latencyMs} ms: graphile-worker, ${opts.rows} jobs…`);
    const graphile = await drainGraphile(leaves, latencyMs, opts);
    opts.log(`outbox ${latencyMs} ms: leave-bridge drainer, ${opts.rows} rows…`);
    const lb = await drainLeaveBridge(leaves, latencyMs, opts);
    rows.push({ latencyMs, concurrency: opts.concurrency, leaveBridge: lb, graphile, ratio: round(lb.opsPerS / graphile.opsPerS, 3) });
    opts.log(`outbox ${latencyMs} ms: leave-bridge ${lb.opsPerS} ops/s, graphile-worker ${graphile.opsPerS} ops/s`);
  }
  return rows;
}
