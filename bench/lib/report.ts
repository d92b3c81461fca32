import type { IngestRow } from '../ingest.js';
import type { BacklogRow } from '../backlog.js';
import type { OutboxRow } from '../outbox.js';

export interface Meta {
  startedAt: string;
  finishedAt: string;
  mode: 'full' | 'smoke';
  commit: string;
  node: string;
  postgres: string;
  cpus: string;
  loadBefore: number[];
  loadAfter: number[];
  options: Record<string, unknown>;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

export interface Report {
  meta: Meta;
  ingest: IngestRow[] | null;
  outbox: OutboxRow[] | null;
  backlog?: BacklogRow[] | null;
  targets: Target[];
  /** every correctness check passed */
  ok: boolean;
}

const n = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const x = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${n(v, 2)}×`);
const mark = (ok: boolean) => (ok ? 'ok' : '**FAILED**');

export function evaluateTargets(ingest: IngestRow[] | null, outbox: OutboxRow[] | null, backlog: BacklogRow[] | null = null): Target[] {
  const targets: Target[] = [];
  for (const row of backlog ?? []) {
    const lb = row.leaveBridge;
    targets.push({ target: `backlog at ${row.latencyMs} ms: drain ≥ 95% of ideal`, measured: `${n(lb.ofIdeal * 100, 1)}% (${n(lb.elapsedS, 1)} s, ideal ${n(row.idealS, 1)} s)`, met: lb.ofIdeal >= 0.95 });
    targets.push({ target: `backlog at ${row.latencyMs} ms: ≤ 1% of calls refused`, measured: `${n(lb.refusedShare * 100, 2)}% (${n(lb.refused)} of ${n(lb.calls)})`, met: lb.refusedShare <= 0.01 });
    targets.push({ target: `backlog at ${row.latencyMs} ms: no attempt burnt`, measured: n(lb.attemptsBurnt), met: lb.attemptsBurnt === 0 });
  }
  const c64 = ingest?.find((r) => r.concurrency === 64);
  if (c64) {
    const lb = c64.leaveBridge;
    // The stricter of the two commit ceilings decides.
    const ceiling = Math.max(c64.commitPool.commitsPerS, c64.commitPgbench?.commitsPerS ?? 0);
    const share = lb.eventsPerS / ceiling;
    targets.push({
      target: 'ingest c=64 ≥ 60% of (a) durable commits/s',
      measured: `${n(share * 100, 1)}% (${n(lb.eventsPerS)} of ${n(ceiling)}/s; vs postgres.js pool ${x(c64.ratio.toCommitPool)}${c64.ratio.toCommitPgbench !== null ? `, vs pgbench ${x(c64.ratio.toCommitPgbench)}` : ''})`,
      met: share >= 0.6,
    });
    targets.push({ target: 'ingest c=64 ≥ 1.0× (b) Feishu SDK', measured: `${x(c64.ratio.toSdk)} (of the mean of (b)'s runs before and after)`, met: c64.ratio.toSdk >= 1 });
    targets.push({ target: 'ingest c=64 p99 < 50 ms', measured: `${n(lb.latencyMs.p99, 1)} ms`, met: lb.latencyMs.p99 < 50 });
  }
  if (ingest && ingest.length > 0) {
    const peak = Math.max(...ingest.map((r) => r.leaveBridge.hwmMb ?? r.leaveBridge.peakRssMb));
    targets.push({ target: 'ingest peak RSS < 200 MB (any concurrency)', measured: `${n(peak, 1)} MB`, met: peak < 200 });
  }
  const at50 = outbox?.find((r) => r.latencyMs === 50);
  if (at50) targets.push({ target: 'outbox at 50 ms ≥ 0.8× graphile-worker', measured: x(at50.ratio), met: at50.ratio >= 0.8 });
  const at0 = outbox?.find((r) => r.latencyMs === 0);
  if (at0) {
    targets.push({ target: 'outbox at 0 ms ≥ 1,000 ops/s', measured: `${n(at0.leaveBridge.opsPerS)} ops/s`, met: at0.leaveBridge.opsPerS >= 1000 });
  }
  return targets;
}

export function renderMarkdown(r: Report): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`# leave-bridge benchmarks — ${m.startedAt}${m.mode === 'smoke' ? ' (smoke: tiny sizes, figures not meaningful)' : ''}`);
  out.push('');
  out.push(
    `commit ${m.commit} · Node ${m.node} · PostgreSQL ${m.postgres} · ${m.cpus} · load average ${m.loadBefore.map((v) => v.toFixed(2)).join(' ')} before, ${m.loadAfter.map((v) => v.toFixed(2)).join(' ')} after`,
  );
  out.push('');
  out.push(
    '> Shared 2-core machine: the service, its baselines, the load generator and Postgres compete for the same ' +
      'two cores (and with whatever else runs). Absolute figures move with that; the ratios, measured back to back ' +
      'at the same concurrency, are the result.',
  );

  if (r.ingest) {
    const o = m.options.ingest as { durationS: number; warmupS: number } | undefined;
    out.push('');
    out.push(`## Ingest (${o ? `${o.durationS} s per run after ${o.warmupS} s warm-up` : ''}; encrypted + signed V1/V2 pairs; acks wait for commit)`);
    out.push('');
    out.push('| c | leave-bridge events/s | (a) commits/s, postgres.js pool | lb ÷ (a) | (a′) commits/s, pgbench | lb ÷ (a′) | (b) Feishu SDK events/s, before / after | lb ÷ (b) |');
    out.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const row of r.ingest) {
      out.push(
        `| ${row.concurrency} | ${n(row.leaveBridge.eventsPerS)} | ${n(row.commitPool.commitsPerS)} (${row.commitPool.connections} conn) | ${x(row.ratio.toCommitPool)} | ${row.commitPgbench ? `${n(row.commitPgbench.commitsPerS)} (${row.commitPgbench.connections} conn)` : '—'} | ${x(row.ratio.toCommitPgbench)} | ${n(row.sdk.eventsPerS)} / ${n(row.sdkAfter.eventsPerS)} | ${x(row.ratio.toSdk)} |`,
      );
    }
    out.push('');
    out.push('| c | system | p50 ms | p99 ms | max ms | peak RSS MB | CPU ms/event (server) | Postgres CPU ms/event | machine busy | check |');
    out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of r.ingest) {
      for (const [name, t] of [
        ['leave-bridge', row.leaveBridge],
        ['(b) Feishu SDK, before', row.sdk],
        ['(b) Feishu SDK, after', row.sdkAfter],
      ] as const) {
        out.push(
          `| ${row.concurrency} | ${name} | ${n(t.latencyMs.p50, 2)} | ${n(t.latencyMs.p99, 2)} | ${n(t.latencyMs.max, 1)} | ${n(t.hwmMb ?? t.peakRssMb, 1)} | ${n(t.cpuMsPerEvent, 3)} | ${n(t.acked ? t.cpu.postgresMs / t.acked : null, 3)} | ${n(t.cpu.machineBusy * 100)}% | ${mark(t.check.ok)} ${t.check.detail}${t.exhausted ? ' (ran out of prepared bodies: rate over the shorter time)' : ''}${t.errors || t.timeouts ? `; ${t.errors} errors, ${t.timeouts} timeouts` : ''}${Object.keys(t.rejected).length ? `; rejected ${JSON.stringify(t.rejected)}` : ''} |`,
        );
      }
      for (const [name, t] of [
        ['(a) postgres.js', row.commitPool],
        ['(a′) pgbench', row.commitPgbench],
      ] as const) {
        if (!t) continue;
        out.push(
          `| ${row.concurrency} | ${name} | ${n(t.latencyMs?.p50, 2)} | ${n(t.latencyMs?.p99, 2)} | ${n(t.latencyMs?.max, 1)} | — | — | — | — | ${mark(t.check.ok)} ${t.check.detail}${t.note ? ` (${t.note})` : ''} |`,
        );
      }
    }
  }

  if (r.outbox) {
    const o = m.options.outbox as { rows: number; employees: number; batchSize: number } | undefined;
    out.push('');
    out.push(
      `## Outbox (${o ? `${n(o.rows)} due calendar.upsert rows of ${n(o.employees)} employees` : ''}; fake Google Calendar; same concurrency both sides)`,
    );
    out.push('');
    out.push('| added latency | concurrency | leave-bridge ops/s | graphile-worker ops/s | ratio | CPU s (ms per 1k ops), leave-bridge | CPU s (ms per 1k ops), graphile-worker | peak RSS MB lb / gw | check |');
    out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of r.outbox) {
      const lb = row.leaveBridge;
      const gw = row.graphile;
      out.push(
        `| ${row.latencyMs} ms | ${row.concurrency} | ${n(lb.opsPerS)} | ${n(gw.opsPerS)} | ${x(row.ratio)} | ${n(lb.cpuMs / 1000, 1)} (${n(lb.cpuMsPer1k)}) | ${n(gw.cpuMs / 1000, 1)} (${n(gw.cpuMsPer1k)}) | ${n(lb.peakRssMb, 0)} / ${n(gw.peakRssMb, 0)} | lb ${mark(lb.check.ok)} ${lb.check.detail}; gw ${mark(gw.check.ok)} ${gw.check.detail} |`,
      );
    }
  }

  if (r.backlog) {
    out.push('');
    out.push(
      '## Backlog (due calendar.upsert rows at once; fake Google enforcing a project and a per-user quota over a sliding minute; same concurrency both sides)',
    );
    out.push('');
    out.push('| added latency | concurrency | quota / user quota per min (share) | ideal s | side | drain s | of ideal | calls | refused | attempts burnt | quota statements per call | CPU s | peak RSS MB | check |');
    out.push('|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of r.backlog) {
      for (const [name, side] of [['leave-bridge', row.leaveBridge], ['graphile-worker', row.graphile]] as const) {
        out.push(
          `| ${row.latencyMs} ms | ${row.concurrency} | ${n(row.quotaPerMinute)} / ${n(row.userQuotaPerMinute)} (${name === 'leave-bridge' ? row.share : 'none'}) | ${n(row.idealS, 1)} | ${name} | ${side.finished ? n(side.elapsedS, 1) : `unfinished at ${n(side.elapsedS, 0)} (${n(side.completed)} done)`} | ${side.finished ? `${n(side.ofIdeal * 100, 1)}%` : '—'} | ${n(side.calls)} | ${n(side.refused)} (${n(side.refusedShare * 100, 2)}%) | ${n(side.attemptsBurnt)} | ${side.statementsPerCall === undefined ? '—' : n(side.statementsPerCall, 3)} | ${n(side.cpuMs / 1000, 1)} | ${n(side.peakRssMb, 0)} | ${mark(side.check.ok)} ${side.check.detail} |`,
        );
      }
    }
  }

  if (r.targets.length) {
    out.push('');
    out.push('## Targets');
    out.push('');
    out.push('| target | measured | met |');
    out.push('|---|---|---|');
    for (const t of r.targets) out.push(`| ${t.target} | ${t.measured} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} |`);
  }
  out.push('');
  out.push(r.ok ? 'All correctness checks passed.' : '**Some correctness checks FAILED** (see the check column).');
  out.push('');
  return out.join('\n');
}
