import { encryptedRequest } from '../support/feishu.js';
import { waitFor } from '../support/process.js';
import { FeishuSender, type Attempt, type DeliveryResult } from '../support/sender.js';
import { startFakes } from './fakes.js';
import { captureText, http, record, SECRETS, sleep, startService, type Figures } from './harness.js';
import { startPrivatePostgres } from './private-postgres.js';
import { connect, leaveWorkload, verify, waitForOutboxSettled, type Verdict } from './workload.js';

/*
 * Postgres goes away for a few seconds while events keep arriving. The service runs on a private
 * Postgres server (see private-postgres.ts: never the machine's shared one), which is stopped
 * with `pg_ctl stop -m fast` (connections cut, open transactions rolled back) mid-stream and
 * started again. What must hold: while it is down the webhook answers 503 (never a 200 for an
 * event it did not commit) and /readyz says not ready; the drainer pauses instead of burning
 * attempts; a sender that re-pushes non-200 answers ends with every event applied exactly once,
 * every calendar block placed once.
 */

export const OUTAGE_MS = 3000;

export interface OutageChecks {
  verdict: Verdict;
  /** statuses of every push the sender made */
  statuses: Record<string, number>;
  /** a fresh event pushed once while the database was down */
  probeDuringOutage: Attempt;
  readyDuring: { status: number; body: string };
  readyAfter: number;
  /** outbox attempts summed just before the outage and at the end (no Google faults here: both 0) */
  attemptsBefore: number;
  outboxRowsBefore: number;
  alive: boolean;
  drainerPauseLogged: boolean;
  errorLines: string[];
  serverLog: string;
}

export async function outageScenario(): Promise<{ figures: Figures; checks: OutageChecks }> {
  const started = Date.now();
  const pg = await startPrivatePostgres();
  const fakes = await startFakes('outage');
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  const url = await pg.createDatabase('lb_rel_outage');
  const sql = connect(url);
  try {
    service = await startService('outage', {
      DATABASE_URL: url,
      ...fakes.env,
      OUTBOX_POLL_MS: '200',
    });
    const svc = service;
    const work = leaveWorkload('outage', 24, { revertEvery: 4 });
    const sender = new FeishuSender({
      targets: [svc.webhook],
      encryptKey: SECRETS.encryptKey,
      deadlineMs: 45_000,
      onResponse: (t) => captureText('outage: sender', t),
    });
    // One event is held back: pushed once while the database is down (must be 503), then
    // delivered normally afterwards.
    const probe = work.deliveries.find((d) => d.id.endsWith('-v2'))!;
    const stream = work.deliveries.filter((d) => d !== probe);

    const deliveries: Array<Promise<DeliveryResult>> = [];
    const gapMs = 130;
    const outageAt = 2000;
    // filled in by the outage task (an object: TS does not track assignments made in closures)
    const seen = {
      attemptsBefore: -1,
      outboxRowsBefore: -1,
      probe: null as Attempt | null,
      ready: null as { status: number; body: string } | null,
      start: 0,
      end: 0,
    };

    const outage = (async () => {
      await sleep(outageAt);
      const [row] = await sql<Array<{ attempts: number; n: number }>>`select coalesce(sum(attempts), 0)::int as attempts, count(*)::int as n from outbox`;
      seen.attemptsBefore = row!.attempts;
      seen.outboxRowsBefore = row!.n;
      await sql.end();
      seen.start = Date.now();
      await pg.stop();
      // deterministic observations while it is down
      const ready = await http('outage: /readyz during', `${svc.url}/readyz`).catch((err: Error) => ({ status: 0, text: `no answer: ${err.message}` }));
      seen.ready = { status: ready.status, body: ready.text };
      seen.probe = await sender.push(svc.webhook, await encryptedRequest(probe.plaintext, { encryptKey: SECRETS.encryptKey }));
      const left = OUTAGE_MS - (Date.now() - seen.start);
      if (left > 0) await sleep(left);
      await pg.start();
      seen.end = Date.now();
    })();
    // observed when awaited below; until then a failure must not count as unhandled
    outage.catch(() => {});

    for (const d of stream) {
      deliveries.push(sender.deliver(d));
      await sleep(gapMs);
    }
    await outage;
    deliveries.push(sender.deliver(probe));
    const results = await Promise.all(deliveries);
    const settledAt = Date.now();

    const sql2 = connect(url);
    try {
      await waitFor(
        'outage: /readyz ready again',
        async () => {
          if (!svc.alive()) throw new Error(`the service died: ${JSON.stringify(svc.exitInfo())}\n${svc.child.output().slice(-4000)}`);
          return (await http('outage: /readyz after', `${svc.url}/readyz`).catch(() => null))?.status === 200;
        },
        30_000,
      );
      await waitForOutboxSettled(sql2, 'outage');
      const outboxAt = Date.now();
      const verdict = await verify(sql2, work.leaves, results, fakes.google);
      const stats = sender.stats();
      const n503 = stats.statuses['503'] ?? 0;
      const checks: OutageChecks = {
        verdict,
        statuses: stats.statuses,
        probeDuringOutage: seen.probe!,
        readyDuring: seen.ready!,
        readyAfter: 200,
        attemptsBefore: seen.attemptsBefore,
        outboxRowsBefore: seen.outboxRowsBefore,
        alive: svc.alive(),
        drainerPauseLogged: svc.child.output().includes('outbox: database unavailable'),
        errorLines: svc.errorLines(),
        serverLog: '',
      };
      const figures = record({
        scenario: 'postgres-outage',
        title: 'Postgres outage mid-stream',
        events_sent: work.deliveries.length,
        requests: stats.pushes,
        acked: stats.acked,
        applied: verdict.applied,
        duplicates: verdict.duplicates,
        lost: verdict.lost,
        faults_injected: 1,
        faults: `Postgres stopped ${((seen.end - seen.start) / 1000).toFixed(1)} s (pg_ctl stop -m fast) during a stream of ${work.deliveries.length} events; ${n503} pushes answered 503 and re-pushed`,
        wall_ms: Date.now() - started,
        details: {
          outage_ms: seen.end - seen.start,
          statuses: stats.statuses,
          leaves: work.leaves.length,
          reverted: work.leaves.filter((l) => l.status === 'reverted').length,
          outbox: verdict.outbox,
          google: verdict.google,
          readyz_during: seen.ready,
          probe_during: seen.probe ? { status: seen.probe.status, body: seen.probe.body } : null,
          drainer_pause_logged: checks.drainerPauseLogged,
          problems: verdict.problems.slice(0, 20),
          // pushes that took over a second, by start time relative to the outage's start
          slow_pushes: sender.pushes
            .filter((a) => a.status === 'timeout' || a.ms > 1000)
            .map((a) => `${a.status} after ${a.ms} ms, started at ${a.startedAt - seen.start} ms: ${a.body.slice(0, 100)}`),
          phases_ms: { outage_start: seen.start - started, outage_end: seen.end - started, events_settled: settledAt - started, outbox_settled: outboxAt - started },
        },
      });
      if (verdict.problems.length > 0 || checks.errorLines.length > 0) checks.serverLog = svc.child.output().slice(-6000);
      return { figures, checks };
    } finally {
      await sql2.end();
    }
  } finally {
    await service?.stop();
    await sql.end().catch(() => {});
    await fakes.close();
    await pg.close();
  }
}
