/**
 * Backlog benchmark: N leaves due at once (a backfill, a policy change, the re-pushes after an
 * outage) drained into the fake Google Calendar (test/fakes/google.ts) enforcing a project quota
 * and a per-user quota over a sliding 60 s window, at each added latency. leave-bridge's drainer
 * paces itself (src/outbox/pacing.ts, adaptive concurrency); the baseline, graphile-worker 0.16 at
 * the same concurrency, makes the same Google call per job with no pacing, retrying refused jobs on
 * its own schedule. Each side runs in its own process, a fresh fake per run.
 *
 * The quotas are scaled down from Google's (10,000 a minute per project, 600 per user) so a run
 * takes a minute or two; the user quota keeps Google's ratio to the project's. A third of the
 * calls belong to a few heavy users, so the per-user quota is exercised too.
 */
import { randomUUID } from 'node:crypto';
import { startFakeGoogle, type FakeGoogle } from '../test/fakes/google.js';
import { checkpoint, createDatabase } from './lib/db.js';
import { round, spawnTs } from './lib/proc.js';
import { parseChild, profileArgs, seedGraphile, seedOutbox, type Leave } from './outbox.js';

export interface BacklogOptions {
  rows: number;
  latenciesMs: number[];
  /** OUTBOX_CONCURRENCY of the drainer (its maximum), graphile-worker's concurrency */
  concurrency: number;
  batchSize: number;
  /** the fake's project quota per minute; the user quota is 6% of it (Google's 600 of 10,000) */
  quotaPerMinute: number;
  /** GOOGLE_QUOTA_SHARE given to the drainer */
  share: number;
  cpuProfDir: string | null;
  log: (line: string) => void;
}

export interface BacklogSide {
  /** false: graphile-worker had not finished when given up on */
  finished: boolean;
  completed: number;
  elapsedS: number;
  /** ideal ÷ elapsed: 1 = drained at exactly the quota */
  ofIdeal: number;
  calls: number;
  refused: number;
  refusedShare: number;
  /** failed runs counted towards the dead letter (graphile-worker: failed job runs) */
  attemptsBurnt: number;
  cpuMs: number;
  peakRssMb: number;
  /** leave-bridge: statements that took quota tokens, per Google call */
  statementsPerCall?: number;
  check: { ok: boolean; detail: string };
}

export interface BacklogRow {
  latencyMs: number;
  concurrency: number;
  quotaPerMinute: number;
  userQuotaPerMinute: number;
  share: number;
  /** calls ÷ quota, or the busiest user's calls ÷ the user quota if longer */
  idealS: number;
  leaveBridge: BacklogSide;
  graphile: BacklogSide;
}

const HEAVY_USERS = 10;
const LIGHT_USERS = 1000;

/** A third of the leaves belong to ten people, the rest spread over a thousand, interleaved. */
function makeBacklog(n: number): Leave[] {
  const base = Date.UTC(2025, 0, 6);
  return Array.from({ length: n }, (_, i) => {
    const heavy = i % 3 === 0;
    const who = heavy ? `h${(i / 3) % HEAVY_USERS}` : `l${i % LIGHT_USERS}`;
    const day = new Date(base + (i % 365) * 86_400_000).toISOString().slice(0, 10);
    return {
      instanceCode: randomUUID().toUpperCase(),
      employeeId: who,
      email: `${who}@bench.example.com`,
      startLocal: `${day} 09:00:00`,
      endLocal: `${day} 18:00:00`,
      timezone: 'Asia/Shanghai',
    };
  });
}

function idealSeconds(leaves: Leave[], perMinute: number, userPerMinute: number): number {
  const perUser = new Map<string, number>();
  for (const l of leaves) perUser.set(l.email, (perUser.get(l.email) ?? 0) + 1);
  const busiest = Math.max(...perUser.values());
  return Math.max((leaves.length / perMinute) * 60, (busiest / userPerMinute) * 60);
}

function googleCounts(fake: FakeGoogle): { calls: number; refused: number; events: number } {
  const calendarCalls = fake.calls.filter((c) => c.op !== 'token');
  return {
    calls: calendarCalls.length,
    refused: calendarCalls.filter((c) => c.fault?.startsWith('quota:')).length,
    events: calendarCalls.filter((c) => c.op === 'insert' && c.status === 200).length,
  };
}

async function drainLeaveBridge(leaves: Leave[], latencyMs: number, idealS: number, o: BacklogOptions): Promise<BacklogSide> {
  const userQuota = Math.round(o.quotaPerMinute * 0.06);
  const db = await createDatabase(`backlog_lb_${latencyMs}ms`, { migrate: true });
  const fake = await startFakeGoogle({ quota: { perMinute: o.quotaPerMinute, userPerMinute: userQuota } });
  try {
    await seedOutbox(db.url, leaves);
    await checkpoint();
    fake.faults.latencyMs = latencyMs;
    const child = spawnTs('backlog drainer', 'bench/children/outbox-drain.ts', [], {
      DATABASE_URL: db.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: fake.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: fake.url,
      GOOGLE_QUOTA_PER_MINUTE: String(o.quotaPerMinute),
      GOOGLE_USER_QUOTA_PER_MINUTE: String(userQuota),
      GOOGLE_QUOTA_SHARE: String(o.share),
      OUTBOX_CONCURRENCY: String(o.concurrency),
      OUTBOX_BATCH_SIZE: String(o.batchSize),
      LOG_LEVEL: 'warn',
      EXPECTED: String(leaves.length),
      TIMEOUT_S: String(Math.ceil(idealS * 3 + 120)),
      NODE_ENV: 'production',
      ...(process.env.BACKLOG_PROGRESS_DIR ? { PROGRESS_FILE: `${process.env.BACKLOG_PROGRESS_DIR}/backlog-lb-${latencyMs}ms.log` } : {}),
    }, profileArgs(o, `backlog-leave-bridge-${latencyMs}ms`));
    const code = await child.exited;
    if (code !== 0) throw new Error(`backlog drainer failed (${code}):\n${child.output()}`);
    const r = parseChild(child.lines(), 'backlog drainer', child.output()) as {
      elapsedS: number;
      cpuMs: number;
      peakRssMb: number;
      upserts: number;
      attemptsBurnt: number;
      throttled: number;
      pacerStatements: number;
      statuses: Record<string, number>;
    };
    const g = googleCounts(fake);
    const done = r.statuses.done ?? 0;
    const problems: string[] = [];
    if (done !== leaves.length) problems.push(`outbox ${JSON.stringify(r.statuses)}`);
    if (g.events !== leaves.length) problems.push(`${g.events} inserts succeeded for ${leaves.length} leaves`);
    if (fake.violations.length > 0) problems.push(fake.violations.join('; '));
    return {
      finished: done === leaves.length,
      completed: done,
      elapsedS: round(r.elapsedS, 1),
      ofIdeal: round(idealS / r.elapsedS, 3),
      calls: g.calls,
      refused: g.refused,
      refusedShare: round(g.refused / g.calls, 4),
      attemptsBurnt: r.attemptsBurnt,
      cpuMs: r.cpuMs,
      peakRssMb: r.peakRssMb,
      statementsPerCall: round(r.pacerStatements / g.calls, 3),
      check: { ok: problems.length === 0, detail: problems.join('; ') || `${done} rows done, one insert each, ${r.throttled} throttled` },
    };
  } finally {
    await fake.close();
    await db.drop();
  }
}

async function drainGraphile(leaves: Leave[], latencyMs: number, idealS: number, o: BacklogOptions): Promise<BacklogSide> {
  const userQuota = Math.round(o.quotaPerMinute * 0.06);
  const db = await createDatabase(`backlog_gw_${latencyMs}ms`);
  const fake = await startFakeGoogle({ quota: { perMinute: o.quotaPerMinute, userPerMinute: userQuota } });
  try {
    await seedGraphile(db.url, leaves);
    await checkpoint();
    fake.faults.latencyMs = latencyMs;
    const giveUpS = Math.ceil(idealS * 2 + 60);
    const child = spawnTs('graphile-worker', 'bench/children/graphile-drain.ts', [], {
      DATABASE_URL: db.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: fake.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: fake.url,
      CONCURRENCY: String(o.concurrency),
      EXPECTED: String(leaves.length),
      TIMEOUT_S: String(giveUpS),
      GIVE_UP: '1',
      NODE_ENV: 'production',
    }, profileArgs(o, `backlog-graphile-${latencyMs}ms`));
    const code = await child.exited;
    if (code !== 0) throw new Error(`graphile-worker baseline failed (${code}):\n${child.output()}`);
    const r = parseChild(child.lines(), 'graphile-worker', child.output()) as {
      elapsedS: number;
      cpuMs: number;
      peakRssMb: number;
      completed: number;
      failed: number;
    };
    const g = googleCounts(fake);
    const finished = r.completed >= leaves.length;
    const problems: string[] = [];
    if (g.events !== r.completed) problems.push(`${g.events} inserts succeeded for ${r.completed} jobs complete`);
    return {
      finished,
      completed: r.completed,
      elapsedS: round(r.elapsedS, 1),
      ofIdeal: finished ? round(idealS / r.elapsedS, 3) : 0,
      calls: g.calls,
      refused: g.refused,
      refusedShare: round(g.refused / Math.max(1, g.calls), 4),
      attemptsBurnt: r.failed,
      cpuMs: r.cpuMs,
      peakRssMb: r.peakRssMb,
      check: {
        ok: problems.length === 0,
        detail: problems.join('; ') || (finished ? `${r.completed} jobs complete` : `given up after ${giveUpS} s: ${r.completed} of ${leaves.length} complete`),
      },
    };
  } finally {
    await fake.close();
    await db.drop();
  }
}

export async function runBacklog(o: BacklogOptions): Promise<BacklogRow[]> {
  const rows: BacklogRow[] = [];
  const userQuota = Math.round(o.quotaPerMinute * 0.06);
  for (const latencyMs of o.latenciesMs) {
    const leaves = makeBacklog(o.rows);
    const idealS = idealSeconds(leaves, o.quotaPerMinute, userQuota);
    o.log(`backlog ${latencyMs} ms: leave-bridge drainer, ${o.rows} rows, ideal ${round(idealS, 1)} s…`);
    const lb = await drainLeaveBridge(leaves, latencyMs, idealS, o);
    o.log(`backlog ${latencyMs} ms: leave-bridge ${lb.elapsedS} s (${Math.round(lb.ofIdeal * 100)}% of ideal), ${lb.refused} refused`);
    o.log(`backlog ${latencyMs} ms: graphile-worker, ${o.rows} jobs…`);
    const gw = await drainGraphile(leaves, latencyMs, idealS, o);
    o.log(`backlog ${latencyMs} ms: graphile-worker ${gw.finished ? `${gw.elapsedS} s` : `unfinished (${gw.completed})`}, ${gw.refused} refused`);
    rows.push({
      latencyMs,
      concurrency: o.concurrency,
      quotaPerMinute: o.quotaPerMinute,
      userQuotaPerMinute: userQuota,
      share: o.share,
      idealS: round(idealS, 1),
      leaveBridge: lb,
      graphile: gw,
    });
  }
  return rows;
}
