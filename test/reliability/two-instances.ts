import type { FaultKind } from '../fakes/google.js';
import { createPostgresDatabase } from '../support/db.js';
import { FeishuSender, type DeliveryResult } from '../support/sender.js';
import { startFakes } from './fakes.js';
import { captureText, record, SECRETS, startService, type Figures, type Service } from './harness.js';
import { connect, leaveWorkload, verify, waitForOutboxSettled, type Verdict } from './workload.js';

/*
 * Two `serve` processes on one database, as behind a load balancer: every delivery (V1, V2 and
 * some reverts) is sent 5 times, each copy to one of the two at random, all concurrently; and
 * Google fails a share of calls, some of them after committing the write (the response is lost,
 * the event exists). Both drainers race for the same outbox. What must hold: one leave per
 * instance, exact attendance, one calendar block per approved leave (counted in the fake Google),
 * none for a reverted one, and exactly one copy of each delivery applied (the others answered as
 * duplicates).
 */

export const COPIES = 5;
const GOOGLE_FAULT_RATE = 0.3;
const GOOGLE_FAULTS: FaultKind[] = ['http500', 'http503', 'http429', 'rateLimitExceeded', 'reset'];

export interface TwoInstancesChecks {
  verdict: Verdict;
  /** per delivery id: how many copies were answered with something other than "duplicate" */
  nonDuplicateAcks: Record<string, number>;
  unacked: number;
  statuses: Record<string, number>;
  perInstance: Record<string, number>;
  googleFaults: number;
  alive: boolean[];
  errorLines: string[];
  serverLog: string;
}

export async function twoInstancesScenario(): Promise<{ figures: Figures; checks: TwoInstancesChecks }> {
  const started = Date.now();
  const database = await createPostgresDatabase('lb_rel_two');
  const fakes = await startFakes('two');
  const services: Service[] = [];
  const sql = connect(database.url!);
  try {
    const env = { DATABASE_URL: database.url!, ...fakes.env, OUTBOX_POLL_MS: '200' };
    services.push(...(await Promise.all([startService('two#1', env), startService('two#2', env)])));
    fakes.google.faults.random({ rate: GOOGLE_FAULT_RATE, kinds: GOOGLE_FAULTS, afterCommitShare: 0.5 });

    const work = leaveWorkload('two', 16, { revertEvery: 4 });
    const sender = new FeishuSender({
      targets: services.map((s) => s.webhook),
      encryptKey: SECRETS.encryptKey,
      deadlineMs: 30_000,
      onResponse: (t) => captureText('two: sender', t),
    });
    // every copy of every delivery, shuffled, sent with bounded concurrency so copies overlap
    const copies = work.deliveries.flatMap((d) => Array.from({ length: COPIES }, () => d));
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copies[i], copies[j]] = [copies[j]!, copies[i]!];
    }
    const results: DeliveryResult[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        while (next < copies.length) {
          const d = copies[next++]!;
          results.push(await sender.deliver(d));
        }
      }),
    );

    await waitForOutboxSettled(sql, 'two instances', 90_000);
    fakes.google.faults.clear();

    const nonDuplicateAcks: Record<string, number> = Object.fromEntries(work.deliveries.map((d) => [d.id, 0]));
    for (const r of results) {
      if (r.acked && (r.ack as { status?: string } | null)?.status !== 'duplicate') nonDuplicateAcks[r.id] = (nonDuplicateAcks[r.id] ?? 0) + 1;
    }
    // one result per delivery for verify(): acked only if every copy was
    const merged = work.deliveries.map((d): DeliveryResult => {
      const mine = results.filter((r) => r.id === d.id);
      return { id: d.id, acked: mine.length === COPIES && mine.every((r) => r.acked), attempts: mine.flatMap((r) => r.attempts), ack: null };
    });
    const verdict = await verify(sql, work.leaves, merged, fakes.google);
    const stats = sender.stats();
    const perInstance: Record<string, number> = {};
    for (const a of sender.pushes) {
      const label = services.find((s) => s.webhook === a.target)?.label ?? a.target;
      perInstance[label] = (perInstance[label] ?? 0) + 1;
    }
    const googleFaults = fakes.google.calls.filter((c) => c.fault !== undefined).length;
    const extraApplied = Object.values(nonDuplicateAcks).reduce((s, n) => s + Math.max(0, n - 1), 0);
    const checks: TwoInstancesChecks = {
      verdict,
      nonDuplicateAcks,
      unacked: results.filter((r) => !r.acked).length,
      statuses: stats.statuses,
      perInstance,
      googleFaults,
      alive: services.map((s) => s.alive()),
      errorLines: services.flatMap((s) => s.errorLines()),
      serverLog: '',
    };
    if (verdict.problems.length > 0) checks.serverLog = services.map((s) => `--- ${s.label}\n${s.child.output().slice(-4000)}`).join('\n');
    const figures = record({
      scenario: 'two-instances',
      title: `Two instances, every delivery ×${COPIES}`,
      events_sent: work.deliveries.length,
      requests: stats.pushes,
      acked: merged.filter((m) => m.acked).length,
      applied: verdict.applied,
      duplicates: verdict.duplicates + extraApplied,
      lost: verdict.lost,
      faults_injected: work.deliveries.length * (COPIES - 1) + googleFaults,
      faults: `${work.deliveries.length * (COPIES - 1)} duplicate deliveries across 2 instances; ${googleFaults} Google faults (${GOOGLE_FAULT_RATE * 100}% of calls: 5xx, 429, 403 rate limit, reset; half after the write committed)`,
      wall_ms: Date.now() - started,
      details: {
        leaves: work.leaves.length,
        reverted: work.leaves.filter((l) => l.status === 'reverted').length,
        copies_per_delivery: COPIES,
        pushes_per_instance: perInstance,
        statuses: stats.statuses,
        outbox: verdict.outbox,
        google: verdict.google,
        google_calls: fakes.google.calls.length,
        problems: verdict.problems.slice(0, 20),
      },
    });
    return { figures, checks };
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await sql.end();
    await fakes.close();
    await database.close();
  }
}
