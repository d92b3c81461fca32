import { raw } from 'hono/html';
import { COREHR_SYNC_KIND } from '../../leave/types.js';
import { addDays } from '../../shared/dates.js';
import { monthOf, type Period } from '../period.js';
import { CATEGORIES, formatAge, type Category, type DriftItem, type VerifyOptions } from '../reconciliation/index.js';
import { stackedBarChart } from './chart.js';
import { Card, Layout, leaveLink, qs } from './layout.js';
import { CHART_HOURS_PER_DAY, type DashboardData, type OutboxHealth } from './load.js';
import { SessionBar, type SessionView } from './session-bar.js';

function Header(props: { period: Period; today: string; verify?: VerifyOptions; session: SessionView }) {
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
        <SessionBar session={props.session} />
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

const shortDate = (d: string) => `${Number(d.slice(5, 7))}/${Number(d.slice(8, 10))}`;

/** Where a category's items continue: its drift page, after `cursor` (from the first item when absent). */
export const driftPageLink = (period: Period, verify: VerifyOptions | undefined, category: Category, cursor?: string | null) => {
  const p = new URLSearchParams(qs(period, verify));
  p.set('category', category);
  if (cursor) p.set('cursor', cursor);
  return `/dashboard/drift?${p.toString()}`;
};

/** A row under a category's first items: how many more there are, and the way to them. */
export interface MoreRow {
  category: Category;
  more: number;
  href: string;
}

export function DriftTable(props: { items: DriftItem[]; more?: Partial<Record<Category, MoreRow>> }) {
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
        {props.items.map((i, at) => (
          <>
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
          {props.more?.[i.category] && props.items[at + 1]?.category !== i.category ? (
            <tr class="drift-more" data-category={i.category}>
              <td colspan={6}>
                <a href={props.more[i.category]!.href} data-testid={`more-${i.category}`}>
                  {props.more[i.category]!.more} more {i.category} item{props.more[i.category]!.more === 1 ? '' : 's'} →
                </a>
              </td>
            </tr>
          ) : null}
          </>
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
                    {/* the CoreHR sync's rows are keyed `corehr`, not by a record */}
                    {m.kind === COREHR_SYNC_KIND ? m.key : <a href={leaveLink(m.key)}>{m.key}</a>}
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

export function DashboardPage(props: { data: DashboardData; verify?: VerifyOptions; session: SessionView }) {
  const d = props.data;
  const f = d.figures;
  const r = d.reconciliation;
  const errors = r.by_severity.error;
  const warnings = r.by_severity.warning;
  // each category's first items, in the report's order, then the way to the rest
  const shown = CATEGORIES.flatMap((c) => r.first[c] ?? []);
  const more: Partial<Record<Category, MoreRow>> = {};
  for (const c of CATEGORIES) {
    const next = r.next[c];
    if (next) more[c] = { category: c, more: r.summary[c] - (r.first[c]?.length ?? 0), href: driftPageLink(d.period, props.verify, c, next) };
  }
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
    <Layout title={`Leave ${d.period.from} – ${d.period.to} · leave-bridge`} header={<Header period={d.period} today={d.today} verify={props.verify} session={props.session} />}>
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
                <a class="chip" data-testid={`count-${k}`} href={driftPageLink(d.period, props.verify, k as Category)}>
                  {k} <b>{n}</b>
                </a>
              ))}
            </div>
          ) : null}
          <DriftTable items={shown} more={more} />
        </section>

        <OutboxPanel health={d.outbox} />
        <footer>
          leave-bridge · JSON: <a href={`/api/reconciliation?${qs(d.period, props.verify)}`}>reconciliation</a> ·{' '}
          <a href={`/api/leaves?from=${d.period.from}&to=${d.period.to}`}>leaves</a> · <a href="/api/outbox?status=dead">dead outbox messages</a> ·{' '}
          <a href="/dashboard/approvals">every kind of approval</a>
        </footer>
      </main>
    </Layout>
  );
}
