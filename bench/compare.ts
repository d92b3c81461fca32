/**
 * `npm run bench:compare -- <checkout> [<checkout> …] [options]`: two or more builds of
 * leave-bridge measured in alternating runs on this machine, so a change is judged against the
 * code before it under the same conditions (a shared machine's speed drifts
 * within minutes, more than a small change moves it: docs/decisions/0018-benchmark-baselines-and-comparisons.md). Each checkout is a
 * directory with the project and its dependencies (a `git worktree` with node_modules linked will
 * do); the default is this checkout alone. The order of the checkouts is reversed every other
 * round. Prints a markdown table: the mean of each figure per checkout, and each round.
 *
 *   --part=sql       Postgres alone: the checkout's migrations on a fresh database, then
 *                    this checkout's deliveries (V1/V2 pairs of the ingest benchmark, planned as the
 *                    service plans them) sent by leave_bridge_ingest_batch in batches of --batch
 *                    from one connection (--batch=1: leave_bridge_ingest, a lone delivery). CPU of
 *                    the backend per event: the steadiest figure there is, as no other process of
 *                    ours runs. The checkouts' SQL functions must take the same arguments.
 *   --part=service   The built service (`node dist/node.js serve`, ingest only) of each checkout
 *                    under the ingest benchmark's load (encrypted, signed, autocannon) at
 *                    --concurrency for --duration seconds: events/s, CPU per event of the service
 *                    and of Postgres, machine busy, p99, peak RSS.
 *
 *   --rounds=4  --events=20000 --batch=32 (sql)   --concurrency=64 --duration=10 (service)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { planDelivery } from '../src/feishu/inbound.js';
import { ingestCall } from '../src/leave/ingest-statement.js';
import { startNodeOptions } from '../scripts/start-command.js';
import { installSignalHandlers, runCleanups } from './lib/cleanup.js';
import { checkpoint, createDatabase } from './lib/db.js';
import { encryptEvents, plaintextEvents, signEvents } from './lib/feishu-events.js';
import { runLoad } from './lib/load.js';
import { cpuMsOf, freePort, REPO_ROOT, round, spawnProcess, waitForHttp } from './lib/proc.js';
import { cpuWindow } from './lib/sysstat.js';
import { ENCRYPT_KEY, serviceEnv, VERIFICATION_TOKEN } from './ingest.js';

const args = new Map<string, string>();
const checkouts: string[] = [];
for (const a of process.argv.slice(2)) {
  if (a === '--') continue;
  const m = /^--([a-z]+)=(.*)$/.exec(a);
  if (m) args.set(m[1]!, m[2]!);
  else checkouts.push(path.resolve(a));
}
if (checkouts.length === 0) checkouts.push(REPO_ROOT);
const num = (name: string, fallback: number) => {
  const v = Number(args.get(name) ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const part = args.get('part') ?? 'sql';
if (part !== 'sql' && part !== 'service') throw new Error('--part must be sql or service');
const rounds = num('rounds', 4);
const log = (line: string) => process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
for (const dir of checkouts) {
  if (!existsSync(path.join(dir, 'drizzle', 'meta', '_journal.json'))) throw new Error(`${dir} is not a leave-bridge checkout`);
}

type Figures = Record<string, number>;

/** Postgres CPU per event of the ingest functions, as migrated by `dir`. */
async function sqlRun(dir: string, texts: string[], batch: number, r: number): Promise<Figures> {
  const db = await createDatabase(`cmp_sql_${r}`);
  try {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(drizzle(sql), { migrationsFolder: path.join(dir, 'drizzle') });
      const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = backend!.pid;
      const send = (t: string) =>
        batch === 1
          ? sql.unsafe(
              `select leave_bridge_ingest(c->'inbox', c->'ev', c->'days', c->>'baseUnit', (c->>'now')::timestamptz, c->>'defaultTz')
               from (select $1::text::jsonb->0 as c) x`,
              [t],
            )
          : sql`select leave_bridge_ingest_batch(${t}::text::jsonb)`;
      const warm = Math.min(20, Math.floor(texts.length / 10));
      for (const t of texts.slice(0, warm)) await send(t);
      await checkpoint();
      const cpu0 = cpuMsOf(pid)!;
      const t0 = performance.now();
      for (const t of texts.slice(warm)) await send(t);
      const wallMs = performance.now() - t0;
      const cpuMs = cpuMsOf(pid)! - cpu0;
      const events = (texts.length - warm) * batch;
      return { 'Postgres CPU ms/event': round(cpuMs / events, 4), 'wall ms/event': round(wallMs / events, 4) };
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    await db.drop();
  }
}

async function serviceRun(dir: string, concurrency: number, durationS: number, r: number): Promise<Figures> {
  const db = await createDatabase(`cmp_svc_${r}`);
  const port = await freePort();
  const child = spawnProcess(`service of ${dir}`, process.execPath, [...startNodeOptions(dir), 'dist/node.js', 'serve'], serviceEnv(port, db.url), dir);
  try {
    await waitForHttp(child, `http://127.0.0.1:${port}/readyz`, 30_000);
    const warmCount = 2_000;
    const prepared = await signEvents(await encryptEvents(warmCount + 9_000 * durationS, { encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN }), ENCRYPT_KEY);
    const load = {
      url: `http://127.0.0.1:${port}`,
      path: '/webhook/feishu',
      idlePath: '/healthz',
      connections: concurrency,
      isAck: (body: string) => body.includes('"status":"applied"'),
    };
    await runLoad({ ...load, requests: prepared.slice(0, warmCount), durationS: 1 });
    await checkpoint();
    const end = await cpuWindow(child.pid, db.name);
    const run = await runLoad({ ...load, requests: prepared.slice(warmCount), durationS });
    const cpu = await end();
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN);
    const n = run.acked.length;
    return {
      'events/s': run.eventsPerS,
      'service CPU ms/event': round((cpu.processMs ?? NaN) / n, 3),
      'Postgres CPU ms/event': round(cpu.postgresMs / n, 3),
      'machine busy': cpu.machineBusy,
      'p99 ms': run.latencyMs.p99,
      'peak RSS MB': round(hwmKb / 1024, 1),
    };
  } finally {
    await child.stop(5_000);
    await db.drop();
  }
}

async function main(): Promise<void> {
  installSignalHandlers();
  let measure: (dir: string, r: number) => Promise<Figures>;
  if (part === 'sql') {
    const batch = num('batch', 32);
    const events = plaintextEvents(num('events', 20_000), { encryptKey: ENCRYPT_KEY, verificationToken: VERIFICATION_TOKEN });
    const now = new Date();
    const calls = events.map(({ text }) => {
      const body = JSON.parse(text) as { uuid: string; event: { type: string } };
      const incoming = { eventKey: body.uuid, eventType: body.event.type, source: 'webhook' as const, payload: body };
      return ingestCall(incoming, planDelivery({ eventType: body.event.type, event: body.event }), now, 'Asia/Shanghai');
    });
    const texts: string[] = [];
    for (let i = 0; i < calls.length; i += batch) texts.push(JSON.stringify(calls.slice(i, i + batch)));
    measure = (dir, r) => sqlRun(dir, texts, batch, r);
  } else {
    for (const dir of checkouts) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' });
    const concurrency = num('concurrency', 64);
    const duration = num('duration', 10);
    measure = (dir, r) => serviceRun(dir, concurrency, duration, r);
  }

  const results = new Map<string, Figures[]>(checkouts.map((d) => [d, []]));
  for (let r = 0; r < rounds; r++) {
    for (const dir of r % 2 === 0 ? checkouts : [...checkouts].reverse()) {
      const figures = await measure(dir, r);
      results.get(dir)!.push(figures);
      log(`round ${r + 1}, ${path.relative(process.cwd(), dir) || '.'}: ${JSON.stringify(figures)}`);
    }
  }

  const names = Object.keys(results.get(checkouts[0]!)![0]!);
  const lines = [`| checkout | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`];
  for (const [dir, runs] of results) {
    const mean = (k: string) => round(runs.reduce((a, f) => a + f[k]!, 0) / runs.length, 4);
    const each = (k: string) => runs.map((f) => f[k]).join(' / ');
    lines.push(`| ${path.relative(process.cwd(), dir) || '.'} (mean) | ${names.map((k) => mean(k)).join(' | ')} |`);
    lines.push(`| each round | ${names.map((k) => each(k)).join(' | ')} |`);
  }
  process.stdout.write(`${part === 'sql' ? 'Postgres alone' : 'the service'}, ${rounds} alternating rounds\n\n${lines.join('\n')}\n`);
}

main()
  .then(() => runCleanups())
  .then(
    () => process.exit(0),
    async (err: unknown) => {
      process.stderr.write(`compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await runCleanups();
      process.exit(1);
    },
  );
