/**
 * Baseline (a) of the ingest benchmark: the durable-commit limit as a Node service sees it.
 * `CONCURRENCY` loops each run single-row INSERT transactions (autocommit, synchronous_commit as
 * the server has it) on one postgres.js pool of `POOL_SIZE` connections — the service's pool size —
 * for DURATION_S seconds after WARMUP_S. The row is what an ack must make durable at the least: a
 * unique event key and the decrypted event as jsonb (`PAYLOAD`).
 *
 * Prints one JSON line: { commits, elapsedS, latencies: number[] (ms) }.
 * env: DATABASE_URL, CONCURRENCY, POOL_SIZE, DURATION_S, WARMUP_S, PAYLOAD
 */
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { Samples, summarise } from '../lib/stats.js';

const url = process.env.DATABASE_URL!;
const concurrency = Number(process.env.CONCURRENCY ?? 1);
const poolSize = Number(process.env.POOL_SIZE ?? 16);
const durationS = Number(process.env.DURATION_S ?? 10);
const warmupS = Number(process.env.WARMUP_S ?? 1);
const payload = JSON.parse(process.env.PAYLOAD ?? '{}') as postgres.JSONValue;

const sql = postgres(url, { max: poolSize, onnotice: () => {} });
await sql`create table if not exists commit_baseline (
  id bigserial primary key,
  event_key text not null unique,
  payload jsonb not null,
  received_at timestamptz not null default now()
)`;

async function phase(seconds: number, record: boolean) {
  const latencies = new Samples();
  let commits = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  const prefix = randomUUID();
  let seq = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await sql`insert into commit_baseline (event_key, payload) values (${`${prefix}-${seq++}`}, ${sql.json(payload)})`;
        commits++;
        if (record) latencies.push(performance.now() - t);
      }
    }),
  );
  return { commits, elapsedS: (performance.now() - start) / 1000, latencies };
}

if (warmupS > 0) await phase(warmupS, false);
const before = await sql<{ n: number }[]>`select count(*)::int as n from commit_baseline`;
const run = await phase(durationS, true);
const after = await sql<{ n: number }[]>`select count(*)::int as n from commit_baseline`;
await sql.end({ timeout: 5 });
process.stdout.write(
  `${JSON.stringify({
    commits: run.commits,
    rowsAdded: after[0]!.n - before[0]!.n,
    elapsedS: run.elapsedS,
    latencyMs: summarise(run.latencies.values()),
  })}\n`,
);
