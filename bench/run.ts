/**
 * `npm run bench [-- options]`: the ingest and outbox benchmarks with their baselines, side by
 * side in one run; a markdown table and a JSON file in bench/results/<timestamp>.{md,json}, the
 * table on stdout, progress on stderr. See bench/README.md.
 *
 *   --smoke                 tiny sizes (also BENCH_SMOKE=1): checks the harness end to end quickly
 *   --only=ingest|outbox|backlog  one of the three
 *   --backlog-rows=20000    backlog: rows due at once      --backlog-latencies=50,200
 *   --backlog-quota=15000   the fake's project quota per minute (user quota: 6% of it)
 *   --backlog-share=0.97    GOOGLE_QUOTA_SHARE of the drainer   --backlog-concurrency=128
 *   --concurrency=1,16,64   ingest concurrencies          --duration=10  --warmup=1  (seconds)
 *   --max-rate=6000         ingest bodies prepared per second of load
 *   --no-pgbench            skip baseline (a′)
 *   --rows=20000            outbox rows                   --latencies=0,50 (ms added per Google call)
 *   --outbox-concurrency=8  drainer and graphile-worker   --outbox-batch=16
 *   --employees=1000        distinct employees in both loads
 *   --cpu-prof              V8 CPU profiles of the servers and drainers into bench/results/<timestamp>-profiles/
 *
 * Exit code 1 when a correctness check fails or a run breaks; missed performance targets are
 * reported, not failed (absolute figures on a shared machine are not a test).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema } from '../src/config.js';
import { runIngest, type IngestOptions } from './ingest.js';
import { installSignalHandlers, runCleanups } from './lib/cleanup.js';
import { dropStaleDatabases, serverVersion } from './lib/db.js';
import { REPO_ROOT } from './lib/proc.js';
import { evaluateTargets, renderMarkdown, type Report } from './lib/report.js';
import { runBacklog, type BacklogOptions } from './backlog.js';
import { runOutbox, type OutboxOptions } from './outbox.js';

function parseArgs(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const a of argv) {
    if (a === '--') continue;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${JSON.stringify(a)} (see the top of bench/run.ts)`);
    args.set(m[1]!, m[2] ?? 'true');
  }
  return args;
}

const list = (v: string) => v.split(',').map((s) => Number(s.trim())).filter((s) => Number.isFinite(s));

function number(args: Map<string, string>, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const parsed = Number(v);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a number`);
  return parsed;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z');
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const smoke = args.has('smoke') || process.env.BENCH_SMOKE === '1';
  const only = args.get('only');
  if (only !== undefined && only !== 'ingest' && only !== 'outbox' && only !== 'backlog') throw new Error('--only must be ingest, outbox or backlog');
  const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const defaults = ConfigSchema.parse({});
  const started = new Date();
  const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const base = path.join(resultsDir, `${stamp(started)}${smoke ? '-smoke' : ''}`);

  const employees = number(args, 'employees', smoke ? 50 : 1000);
  const ingestOpts: IngestOptions = {
    concurrencies: args.has('concurrency') ? list(args.get('concurrency')!) : smoke ? [16] : [1, 16, 64],
    durationS: number(args, 'duration', smoke ? 1 : 10),
    warmupS: number(args, 'warmup', smoke ? 0.25 : 1),
    maxRate: number(args, 'max-rate', smoke ? 1500 : 6000),
    employees,
    pgbench: !args.has('no-pgbench'),
    cpuProfDir: args.has('cpu-prof') ? `${base}-profiles` : null,
    log,
  };
  const outboxOpts: OutboxOptions = {
    rows: number(args, 'rows', smoke ? 200 : 20_000),
    employees,
    latenciesMs: args.has('latencies') ? list(args.get('latencies')!) : [0, 50],
    concurrency: number(args, 'outbox-concurrency', 8),
    batchSize: number(args, 'outbox-batch', defaults.OUTBOX_BATCH_SIZE),
    timeoutS: smoke ? 120 : 1800,
    cpuProfDir: args.has('cpu-prof') ? `${base}-profiles` : null,
    log,
  };

  const backlogOpts: BacklogOptions = {
    rows: number(args, 'backlog-rows', smoke ? 300 : 20_000),
    latenciesMs: args.has('backlog-latencies') ? list(args.get('backlog-latencies')!) : [50, 200],
    concurrency: number(args, 'backlog-concurrency', 128),
    batchSize: number(args, 'outbox-batch', defaults.OUTBOX_BATCH_SIZE),
    quotaPerMinute: number(args, 'backlog-quota', smoke ? 1500 : 15_000),
    share: number(args, 'backlog-share', 0.97),
    cpuProfDir: args.has('cpu-prof') ? `${base}-profiles` : null,
    log,
  };

  installSignalHandlers();
  const dropped = await dropStaleDatabases();
  if (dropped.length) log(`dropped ${dropped.length} databases left by earlier runs that died`);
  const loadBefore = os.loadavg();
  let ingest = null;
  let outbox = null;
  let backlog = null;
  try {
    if (only === undefined || only === 'ingest') ingest = await runIngest(ingestOpts);
    if (only === undefined || only === 'outbox') outbox = await runOutbox(outboxOpts);
    if (only === undefined || only === 'backlog') backlog = await runBacklog(backlogOpts);
  } finally {
    await runCleanups();
  }
  const { log: _log, ...ingestShown } = ingestOpts;
  const { log: _log2, ...outboxShown } = outboxOpts;
  const { log: _log3, ...backlogShown } = backlogOpts;
  const report: Report = {
    meta: {
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      mode: smoke ? 'smoke' : 'full',
      commit: gitCommit(),
      node: process.version,
      postgres: await serverVersion(),
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}`,
      loadBefore,
      loadAfter: os.loadavg(),
      options: { ...(ingest ? { ingest: ingestShown } : {}), ...(outbox ? { outbox: outboxShown } : {}), ...(backlog ? { backlog: backlogShown } : {}) },
    },
    ingest,
    outbox,
    backlog,
    targets: evaluateTargets(ingest, outbox, backlog),
    ok:
      (ingest ?? []).every((r) => r.leaveBridge.check.ok && r.sdk.check.ok && r.sdkAfter.check.ok && r.commitPool.check.ok && (r.commitPgbench?.check.ok ?? true)) &&
      (outbox ?? []).every((r) => r.leaveBridge.check.ok && r.graphile.check.ok) &&
      (backlog ?? []).every((r) => r.leaveBridge.check.ok && r.graphile.check.ok),
  };
  const markdown = renderMarkdown(report);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(markdown);
  log(`wrote ${path.relative(REPO_ROOT, base)}.md and .json`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await runCleanups();
    process.exit(1);
  },
);
