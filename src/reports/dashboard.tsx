import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import { outbox } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { instantToLocalDate } from '../shared/local-time.js';
import type { getLeave } from '../leave/queries.js';
import { stackedBarChart } from './chart.js';
import { addDays } from '../shared/dates.js';
import { fromMicro, toMicro } from '../shared/decimal.js';
import { payrollLines } from './payroll.js';
import { datesOf, monthOf, type Period } from './period.js';
import { formatAge, leavesInPeriod, reconcile, type DriftItem, type ReconciliationReport, type VerifyOptions } from './reconciliation.js';

/**
 * Hour- and minute-based leave is drawn in person-days at this many hours per day. Only the
 * chart converts; payroll keeps every unit as Feishu gave it.
 */
export const CHART_HOURS_PER_DAY = 8;

export interface OutboxHealth {
  counts: Record<'pending' | 'running' | 'held' | 'dead' | 'done', number>;
  done24h: number;
  oldestPendingSeconds: number | null;
  dead: Array<{ id: number; key: string; kind: string; attempts: number; lastError: string | null; updatedAt: Date }>;
  held: Array<{ id: number; key: string; kind: string; lastError: string | null; updatedAt: Date }>;
}

export interface DashboardData {
  period: Period;
  today: string;
  generatedAt: Date;
  figures: {
    leaves: number;
    reverted: number;
    days: string;
    hours: string;
    minutes: string;
    peopleToday: number;
    peopleTodayNames: string[];
  };
  chart: { dates: string[]; series: Array<{ label: string; values: number[] }>; converted: boolean };
  outbox: OutboxHealth;
  reconciliation: ReconciliationReport;
}

export async function outboxHealth(db: Deps['db'], now: Date): Promise<OutboxHealth> {
  const [byStatus, done24h, oldest, dead, held] = await Promise.all([
    db.select({ status: outbox.status, n: sql<number>`count(*)::int` }).from(outbox).groupBy(outbox.status),
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(outbox)
      .where(and(eq(outbox.status, 'done'), gt(outbox.doneAt, new Date(now.getTime() - 86_400_000)))),
    db.select({ createdAt: outbox.createdAt }).from(outbox).where(eq(outbox.status, 'pending')).orderBy(asc(outbox.createdAt)).limit(1),
    db
      .select({ id: outbox.id, key: outbox.key, kind: outbox.kind, attempts: outbox.attempts, lastError: outbox.lastError, updatedAt: outbox.updatedAt })
      .from(outbox)
      .where(eq(outbox.status, 'dead'))
      .orderBy(desc(outbox.id))
      .limit(10),
    db
      .select({ id: outbox.id, key: outbox.key, kind: outbox.kind, lastError: outbox.lastError, updatedAt: outbox.updatedAt })
      .from(outbox)
      .where(eq(outbox.status, 'held'))
      .orderBy(desc(outbox.id))
      .limit(10),
  ]);
  const counts = { pending: 0, running: 0, held: 0, dead: 0, done: 0 };
  for (const r of byStatus) if (r.status in counts) counts[r.status as keyof typeof counts] = Number(r.n);
  const first = oldest[0]?.createdAt;
  return {
    counts,
    done24h: Number(done24h[0]?.n ?? 0),
    oldestPendingSeconds: first ? Math.max(0, Math.round((now.getTime() - first.getTime()) / 1000)) : null,
    dead,
    held,
  };
}

/** Everything the page shows, read once. Google/Feishu are only asked when `verify` says so. */
export async function loadDashboard(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'calendar' | 'feishu'>,
  input: { period: Period; verify?: VerifyOptions },
): Promise<DashboardData> {
  const now = deps.clock.now();
  const today = instantToLocalDate(now, deps.config.DEFAULT_TIMEZONE);
  const { period } = input;
  const [lines, todayLines, scope, health, reconciliation] = await Promise.all([
    payrollLines(deps.db, period),
    payrollLines(deps.db, { from: today, to: today }),
    leavesInPeriod(deps.db, period),
    outboxHealth(deps.db, now),
    reconcile(deps, { ...period, verify: input.verify }),
  ]);

  const dates = datesOf(period);
  const index = new Map(dates.map((d, i) => [d, i]));
  const byType = new Map<string, number[]>();
  const totals = { day: 0n, hour: 0n, minute: 0n } as Record<string, bigint>;
  let converted = false;
  for (const l of lines) {
    totals[l.unit] = (totals[l.unit] ?? 0n) + toMicro(l.quantity);
    const q = Number(l.quantity);
    const personDays = l.unit === 'day' ? q : l.unit === 'hour' ? q / CHART_HOURS_PER_DAY : q / (CHART_HOURS_PER_DAY * 60);
    if (l.unit !== 'day') converted = true;
    const label = l.leave_type ?? 'Unnamed leave type';
    const values = byType.get(label) ?? new Array<number>(dates.length).fill(0);
    values[index.get(l.date)!]! += personDays;
    byType.set(label, values);
  }
  // Biggest types first, so the colours of the main types stay put as the period changes.
  const series = [...byType.entries()]
    .map(([label, values]) => ({ label, values, total: values.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total || a.label.localeCompare(b.label))
    .map(({ label, values }) => ({ label, values }));

  const peopleToday = [...new Set(todayLines.map((l) => l.employee_id))].sort();
  return {
    period,
    today,
    generatedAt: now,
    figures: {
      leaves: scope.filter((l) => l.status === 'approved').length,
      reverted: scope.filter((l) => l.status === 'reverted').length,
      days: fromMicro(totals.day ?? 0n),
      hours: fromMicro(totals.hour ?? 0n),
      minutes: fromMicro(totals.minute ?? 0n),
      peopleToday: peopleToday.length,
      peopleTodayNames: peopleToday,
    },
    chart: { dates, series, converted },
    outbox: health,
    reconciliation,
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

const CSS = `
:root { color-scheme: light; --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f1f5f9; --card:#fff; --accent:#2563eb;
  --err:#b91c1c; --err-bg:#fee2e2; --warn:#92400e; --warn-bg:#fef3c7; --info:#1e40af; --info-bg:#dbeafe; --ok:#166534; --ok-bg:#dcfce7; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color:var(--ink); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header.top { background:#0f172a; color:#fff; }
header.top .bar { display:flex; align-items:center; justify-content:space-between; gap:16px; flex-wrap:wrap; padding-top:12px; padding-bottom:12px; }
header.top h1 { font-size:18px; margin:0; font-weight:650; letter-spacing:.2px; }
header.top h1 span { color:#94a3b8; font-weight:400; }
header.top .subbar { background:#1e293b; }
header.top .subbar .bar { padding-top:8px; padding-bottom:8px; }
header.top form.period { display:flex; gap:12px; align-items:center; flex-wrap:wrap; }
header.top label { color:#cbd5e1; font-size:13px; }
header.top input[type=date] { font:inherit; font-size:13px; padding:3px 6px; border-radius:6px; border:1px solid #475569; background:#0f172a; color:#fff; color-scheme:dark; }
header.top input[type=checkbox] { vertical-align:-2px; }
header.top .nav a { color:#e2e8f0; margin-right:14px; font-size:13px; }
button, .btn { font:inherit; font-size:13px; padding:5px 12px; border-radius:6px; border:1px solid transparent; background:var(--accent); color:#fff; cursor:pointer; }
button.ghost { background:transparent; border-color:#475569; color:#cbd5e1; }
.wrap { max-width:1200px; margin:0 auto; padding:0 24px; }
main.wrap { padding-top:20px; padding-bottom:40px; }
.sub { color:var(--muted); margin:0 0 16px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:14px; margin-bottom:20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.5px; }
.card .value { font-size:30px; font-weight:650; line-height:1.2; margin-top:4px; font-variant-numeric:tabular-nums; }
.card .note { color:var(--muted); font-size:12px; margin-top:2px; }
.card.bad .value { color:var(--err); } .card.warn .value { color:var(--warn); } .card.good .value { color:var(--ok); }
section.panel { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin-bottom:20px; }
section.panel h2 { font-size:16px; margin:0 0 4px; } section.panel .hint { color:var(--muted); font-size:12px; margin:0 0 10px; }
.grid2 { display:grid; grid-template-columns: minmax(0,1fr) minmax(0,2fr); gap:20px; }
@media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.4px; border-bottom:1px solid var(--line); padding:6px 8px; }
td { border-bottom:1px solid var(--line); padding:7px 8px; vertical-align:top; overflow-wrap:anywhere; }
.scroll { overflow-x:auto; }
table.drift td.detail { min-width:260px; } table.drift td.action { min-width:220px; }
.stats { display:flex; flex-wrap:wrap; gap:10px; margin:6px 0 4px; }
.stat { border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:110px; }
.stat .n { font-size:22px; font-weight:650; font-variant-numeric:tabular-nums; }
.stat .l { color:var(--muted); font-size:12px; }
.stat.error .n { color:var(--err); } .stat.info .n { color:var(--info); }
.small { font-size:11px; color:var(--muted); }
tr:last-child td { border-bottom:none; }
td.nowrap, .nowrap { white-space:nowrap; overflow-wrap:normal; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
code, .mono, td.cat { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; }
.badge.error { color:var(--err); background:var(--err-bg); } .badge.warning { color:var(--warn); background:var(--warn-bg); }
.badge.info { color:var(--info); background:var(--info-bg); } .badge.ok { color:var(--ok); background:var(--ok-bg); }
.cat { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; white-space:nowrap; }
.action { color:#334155; }
.empty { color:var(--muted); padding:18px 4px; text-align:center; }
.chips { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:10px; }
.chip { border:1px solid var(--line); border-radius:999px; padding:2px 10px; font-size:12px; color:#334155; background:#f8fafc; }
.chip b { font-variant-numeric:tabular-nums; }
.chart { display:block; max-width:100%; height:auto; }
footer { color:var(--muted); font-size:12px; margin-top:8px; }
.login { max-width:380px; margin:12vh auto; background:#fff; border:1px solid var(--line); border-radius:12px; padding:28px; }
.login h1 { font-size:20px; margin:0 0 6px; } .login p { color:var(--muted); margin:0 0 18px; }
.login input { width:100%; font:inherit; padding:8px 10px; border:1px solid #cbd5e1; border-radius:8px; margin:6px 0 14px; }
.login .error { color:var(--err); background:var(--err-bg); border-radius:8px; padding:8px 10px; margin-bottom:14px; }
dl.facts { display:grid; grid-template-columns: 160px 1fr; gap:6px 16px; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
`;

function Layout(props: { title: string; children?: Child; header?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{props.title}</title>
        <style>{raw(CSS)}</style>
      </head>
      <body>
        {props.header}
        {props.children}
      </body>
    </html>
  );
}

export async function renderHtml(element: Child): Promise<string> {
  return `<!DOCTYPE html>${String(await element)}`;
}

export function LoginPage(props: { next: string; error?: string }) {
  return (
    <Layout title="Sign in · leave-bridge">
      <form class="login" method="post" action="/dashboard/login">
        <h1>leave-bridge</h1>
        <p>Enter the admin token to open the dashboard.</p>
        {props.error ? (
          <div class="error" role="alert">
            {props.error}
          </div>
        ) : null}
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <input type="hidden" name="next" value={props.next} />
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}

const qs = (period: Period, verify?: VerifyOptions) => {
  const p = new URLSearchParams({ from: period.from, to: period.to });
  const v = [verify?.google ? 'google' : null, verify?.feishu ? 'feishu' : null].filter(Boolean).join(',');
  if (v) p.set('verify', v);
  return p.toString();
};

const leaveLink = (code: string) => `/dashboard/leaves/${encodeURIComponent(code)}`;

function Header(props: { period: Period; today: string; verify?: VerifyOptions }) {
  const { period } = props;
  const month = monthOf(period.from);
  const prev = monthOf(addDays(month.from, -1));
  const next = monthOf(addDays(month.to, 1));
  const current = monthOf(props.today);
  return (
    <header class="top">
      <div class="wrap bar">
        <h1>
          leave-bridge <span>· leave dashboard</span>
        </h1>
        <form method="post" action="/dashboard/logout">
          <button class="ghost" type="submit">
            Sign out
          </button>
        </form>
      </div>
      <div class="subbar">
        <div class="wrap bar">
          <nav class="nav" aria-label="month">
            <a href={`/dashboard?${qs(prev)}`}>← {prev.from.slice(0, 7)}</a>
            <a href={`/dashboard?${qs(current)}`}>This month</a>
            <a href={`/dashboard?${qs(next)}`}>{next.from.slice(0, 7)} →</a>
          </nav>
          <form class="period" method="get" action="/dashboard">
            <label>
              From <input type="date" name="from" value={period.from} required />
            </label>
            <label>
              To <input type="date" name="to" value={period.to} required />
            </label>
            <label title="Also ask Google Calendar and Feishu (slower)">
              <input type="checkbox" name="verify" value="google,feishu" checked={Boolean(props.verify?.google || props.verify?.feishu)} /> verify with
              Google &amp; Feishu
            </label>
            <button type="submit">Show</button>
          </form>
        </div>
      </div>
    </header>
  );
}

function Card(props: { id: string; label: string; value: string | number; note?: Child; tone?: 'bad' | 'warn' | 'good' }) {
  return (
    <div class={`card${props.tone ? ` ${props.tone}` : ''}`} data-testid={props.id}>
      <div class="label">{props.label}</div>
      <div class="value" data-testid={`${props.id}-value`}>
        {props.value}
      </div>
      {props.note ? <div class="note">{props.note}</div> : null}
    </div>
  );
}

const shortDate = (d: string) => `${Number(d.slice(5, 7))}/${Number(d.slice(8, 10))}`;

function DriftTable(props: { items: DriftItem[] }) {
  if (props.items.length === 0) {
    return (
      <p class="empty" data-testid="drift-empty">
        No drift: the records, the calendar and Feishu agree for this period.
      </p>
    );
  }
  return (
    <div class="scroll">
    <table class="drift" data-testid="drift-table">
      <thead>
        <tr>
          <th>Severity</th>
          <th>Category</th>
          <th>Leave</th>
          <th>Employee</th>
          <th>What is wrong</th>
          <th>What to do</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((i) => (
          <tr class="drift-row" data-category={i.category} data-instance={i.instance_code ?? ''}>
            <td>
              <span class={`badge ${i.severity}`}>{i.severity}</span>
            </td>
            <td class="cat nowrap">{i.category}</td>
            <td class="mono">
              {i.instance_code && i.category !== 'quarantined_event' ? (
                <>
                  <a href={leaveLink(i.instance_code)}>{i.instance_code}</a>
                  <br />
                  <a class="small" href={`/api/leaves/${encodeURIComponent(i.instance_code)}`}>
                    JSON
                  </a>
                </>
              ) : i.category === 'quarantined_event' ? (
                <>
                  {i.instance_code ?? '—'}
                  <br />
                  <a class="small" href="/api/events?status=quarantined">
                    event JSON
                  </a>
                </>
              ) : (
                '—'
              )}
            </td>
            <td class="mono">{i.employee_id ?? '—'}</td>
            <td class="detail">{i.detail}</td>
            <td class="action">{i.action}</td>
          </tr>
        ))}
      </tbody>
    </table>
    </div>
  );
}

function OutboxPanel(props: { health: OutboxHealth }) {
  const h = props.health;
  const stats: Array<[id: string, label: string, value: string | number, tone: '' | 'info' | 'error']> = [
    ['pending', 'pending', h.counts.pending, h.counts.pending ? 'info' : ''],
    ['running', 'running', h.counts.running, h.counts.running ? 'info' : ''],
    ['held', 'held (configuration)', h.counts.held, h.counts.held ? 'error' : ''],
    ['dead', 'dead', h.counts.dead, h.counts.dead ? 'error' : ''],
    ['done', 'done in 24 h', h.done24h, ''],
    ['oldest', 'oldest pending', h.oldestPendingSeconds === null ? '—' : formatAge(h.oldestPendingSeconds), ''],
  ];
  const attention = [...h.dead.map((m) => ({ ...m, status: 'dead' as const })), ...h.held.map((m) => ({ ...m, status: 'held' as const }))];
  return (
    <section class="panel" data-testid="outbox-health">
      <h2>Outbox health</h2>
      <p class="hint">Calendar work on its way to Google, across all periods.</p>
      <div class="stats">
        {stats.map(([id, label, value, tone]) => (
          <div class={`stat ${tone}`} data-status={id}>
            <div class="n" data-testid={`outbox-${id}`}>
              {value}
            </div>
            <div class="l">{label}</div>
          </div>
        ))}
      </div>
      {attention.length ? (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th>Message</th>
                <th>Leave</th>
                <th>Kind</th>
                <th>Last error</th>
              </tr>
            </thead>
            <tbody>
              {attention.map((m) => (
                <tr data-outbox-id={String(m.id)}>
                  <td class="mono">
                    #{m.id} <span class="badge error">{m.status}</span>
                  </td>
                  <td class="mono">
                    <a href={leaveLink(m.key)}>{m.key}</a>
                  </td>
                  <td class="mono nowrap">{m.kind}</td>
                  <td>{m.lastError ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export function DashboardPage(props: { data: DashboardData; verify?: VerifyOptions }) {
  const d = props.data;
  const f = d.figures;
  const r = d.reconciliation;
  const errors = r.items.filter((i) => i.severity === 'error').length;
  const warnings = r.items.filter((i) => i.severity === 'warning').length;
  const chartSvg = stackedBarChart({
    title: `Leave per day by type, ${d.period.from} to ${d.period.to}`,
    categories: d.chart.dates,
    series: d.chart.series,
    xLabel: 'Date',
    yLabel: d.chart.converted ? `Person-days (${CHART_HOURS_PER_DAY} h = 1 day)` : 'Person-days',
    formatCategory: shortDate,
    highlight: d.today,
    emptyText: 'No approved leave in this period',
  });
  const otherUnits = [f.hours !== '0' ? `${f.hours} h` : null, f.minutes !== '0' ? `${f.minutes} min` : null].filter(Boolean).join(' + ');
  const counts = Object.entries(r.summary).filter(([k, n]) => k !== 'total' && k !== 'leaves_checked' && n > 0);
  return (
    <Layout title={`Leave ${d.period.from} – ${d.period.to} · leave-bridge`} header={<Header period={d.period} today={d.today} verify={props.verify} />}>
      <main class="wrap">
        <p class="sub">
          Period <b data-testid="period">{`${d.period.from} → ${d.period.to}`}</b> · today {d.today} · generated {d.generatedAt.toISOString().replace('T', ' ').slice(0, 19)} UTC
          {r.verified.google || r.verified.feishu
            ? ` · verified against ${[r.verified.google ? 'Google Calendar' : null, r.verified.feishu ? 'Feishu' : null].filter(Boolean).join(' and ')}`
            : ' · records only (tick “verify” to ask Google and Feishu)'}
        </p>
        <div class="cards">
          <Card id="fig-leaves" label="Leaves in period" value={f.leaves} note={f.reverted ? `${f.reverted} reverted, not counted` : 'approved'} />
          <Card id="fig-days" label="Leave days" value={f.days} note={otherUnits ? `+ ${otherUnits}` : 'day-based leave'} />
          <Card
            id="fig-today"
            label="On leave today"
            value={f.peopleToday}
            note={f.peopleToday ? f.peopleTodayNames.slice(0, 4).join(', ') + (f.peopleToday > 4 ? ' …' : '') : d.today}
          />
          <Card
            id="fig-outbox"
            label="Outbox pending / dead"
            value={`${d.outbox.counts.pending + d.outbox.counts.running + d.outbox.counts.held} / ${d.outbox.counts.dead}`}
            tone={d.outbox.counts.dead || d.outbox.counts.held ? 'bad' : undefined}
            note={d.outbox.counts.held ? `${d.outbox.counts.held} held` : 'calendar work queued / failed'}
          />
          <Card
            id="fig-drift"
            label="Drift items"
            value={r.summary.total}
            tone={errors ? 'bad' : warnings ? 'warn' : 'good'}
            note={`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`}
          />
        </div>

        <section class="panel" data-testid="chart">
          <h2>Leave per day</h2>
          <p class="hint">
            Approved leave by type, in person-days{d.chart.converted ? `; hour- and minute-based leave counted at ${CHART_HOURS_PER_DAY} h per day` : ''}. Today is shaded.
          </p>
          {raw(chartSvg)}
        </section>

        <section class="panel" data-testid="drift">
          <h2>Drift</h2>
          <p class="hint">
            Problems only, for the {r.summary.leaves_checked} leave{r.summary.leaves_checked === 1 ? '' : 's'} of this period (quarantined events whatever their date).{' '}
            <a href={`/api/reconciliation?${qs(d.period, props.verify)}`}>JSON</a>
          </p>
          {counts.length ? (
            <div class="chips">
              {counts.map(([k, n]) => (
                <span class="chip" data-testid={`count-${k}`}>
                  {k} <b>{n}</b>
                </span>
              ))}
            </div>
          ) : null}
          <DriftTable items={r.items} />
        </section>

        <OutboxPanel health={d.outbox} />
        <footer>
          leave-bridge · JSON: <a href={`/api/reconciliation?${qs(d.period, props.verify)}`}>reconciliation</a> ·{' '}
          <a href={`/api/leaves?from=${d.period.from}&to=${d.period.to}`}>leaves</a> · <a href="/api/outbox?status=dead">dead outbox messages</a>
        </footer>
      </main>
    </Layout>
  );
}

type LeaveDetail = NonNullable<Awaited<ReturnType<typeof getLeave>>>;

/** A small page per leave, for the links of the drift table. */
export function LeavePage(props: { leave: LeaveDetail; back: string }) {
  const l = props.leave;
  const total = l.days.reduce((acc, d) => acc + toMicro(d.quantity), 0n);
  return (
    <Layout
      title={`${l.instance_code} · leave-bridge`}
      header={
        <header class="top">
          <div class="wrap bar">
            <h1>
              leave-bridge <span>· leave {l.instance_code}</span>
            </h1>
            <nav class="nav">
              <a href={props.back}>← dashboard</a>
              <a href={`/api/leaves/${encodeURIComponent(l.instance_code)}`}>JSON</a>
            </nav>
          </div>
        </header>
      }
    >
      <main class="wrap">
        <section class="panel">
          <h2>
            {l.leave_type ?? 'Leave'} <span class={`badge ${l.status === 'approved' ? 'ok' : 'warning'}`}>{l.status}</span>
          </h2>
          <dl class="facts" data-testid="leave-facts">
            <dt>Instance</dt>
            <dd class="mono">{l.instance_code}</dd>
            <dt>Employee</dt>
            <dd class="mono">
              {l.employee_id ?? '—'} {l.email ? `· ${l.email}` : '· no email'}
            </dd>
            <dt>When (local)</dt>
            <dd>
              {l.start ?? '?'} → {l.end ?? '?'} ({l.timezone ?? 'default zone'})
            </dd>
            <dt>Unit / interval</dt>
            <dd>
              {l.unit ?? '?'} · {l.interval_seconds ?? '?'} s · days add up to {fromMicro(total)} {l.days[0]?.unit ?? ''}
            </dd>
            <dt>Received</dt>
            <dd>
              V1 {l.received.v1 ? 'yes' : 'no'} · V2 {l.received.v2 ? 'yes' : 'no'} · detail from {l.detail_source ?? '—'}
            </dd>
            <dt>Calendar</dt>
            <dd>
              {l.calendar.state}
              {l.calendar.event_type ? ` · ${l.calendar.event_type}` : ''}
              {l.calendar.calendar_id ? ` · ${l.calendar.calendar_id}` : ''}
              {l.calendar.pending ? ' · change pending' : ''}
              {l.calendar.fallback_reason ? ` · fallback: ${l.calendar.fallback_reason}` : ''}
            </dd>
          </dl>
        </section>
        <div class="grid2">
          <section class="panel">
            <h2>Attendance days</h2>
            {l.days.length ? (
              <table>
                <thead>
                  <tr>
                    <th>Date</th>
                    <th>Quantity</th>
                  </tr>
                </thead>
                <tbody>
                  {l.days.map((d) => (
                    <tr>
                      <td>{d.date}</td>
                      <td class="num">
                        {d.quantity} {d.unit}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="empty">No active days.</p>
            )}
          </section>
          <section class="panel">
            <h2>History</h2>
            <table>
              <thead>
                <tr>
                  <th>Received</th>
                  <th>Event</th>
                  <th>Outcome</th>
                </tr>
              </thead>
              <tbody>
                {l.history.map((h) => (
                  <tr>
                    <td class="nowrap">{new Date(h.received_at).toISOString().replace('T', ' ').slice(0, 19)}</td>
                    <td class="mono nowrap">
                      {h.event_type} <span class="badge info">{h.source}</span>
                    </td>
                    <td>
                      {h.status}
                      {h.effect ? ` · ${h.effect}` : ''}
                      {h.reason ? ` · ${h.reason}` : ''}
                    </td>
                  </tr>
                ))}
                {l.outbox.map((m) => (
                  <tr>
                    <td class="nowrap">{new Date(m.created_at).toISOString().replace('T', ' ').slice(0, 19)}</td>
                    <td class="mono nowrap">
                      outbox #{m.id} {m.kind}
                    </td>
                    <td>
                      {m.status} · {m.attempts} attempt{m.attempts === 1 ? '' : 's'}
                      {m.last_error ? ` · ${m.last_error}` : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </div>
      </main>
    </Layout>
  );
}
