import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import { outbox } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import { fromMicro, toMicro } from '../../shared/decimal.js';
import { instantToLocalDate } from '../../shared/local-time.js';
import { queryRows } from '../../db/client.js';
import { loadPolicies, policyDefaults } from '../../policies/resolve.js';
import { EXPORT_KINDS } from '../payroll-types.js';
import { datesOf, type Period } from '../period.js';
import { countLeavesInPeriod, driftOverview, type DriftOverview, type VerifyOptions } from '../reconciliation/index.js';

/**
 * Hour- and minute-based leave is drawn in person-days at this many hours per day. Only the
 * chart converts; payroll keeps every unit as Feishu gave it.
 */
export const CHART_HOURS_PER_DAY = 8;

/** Drift items the dashboard shows per category; the rest are a link away (a page per category). */
export const DASHBOARD_ITEMS_PER_CATEGORY = 10;

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
  /** counts per category, and the first items of each */
  reconciliation: DriftOverview;
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

/**
 * Approved time away per date, unit, kind and type, summed by the database: the chart and the
 * figures need totals, not lines.
 */
async function dailyTotals(db: Deps['db'], period: Period): Promise<Array<{ date: string; unit: string; kind: string; label: string | null; total: string }>> {
  return queryRows(
    db,
    sql`select a.date::text as date, a.unit, l.kind, coalesce(l.leave_type, l.leave_type_key) as label, sum(a.quantity)::text as total
        from attendance_days a join leaves l on l.instance_code = a.instance_code
        where a.status = 'active' and l.status = 'approved' and l.kind in (${sql.join(EXPORT_KINDS.map((k) => sql`${k}`), sql`, `)})
          and a.date >= ${period.from}::date and a.date <= ${period.to}::date
        group by 1, 2, 3, 4`,
  );
}

/** Who has approved time away on a date, and of what kind and type. */
async function peopleOn(db: Deps['db'], date: string): Promise<Array<{ employee_id: string; kind: string; label: string | null }>> {
  return queryRows(
    db,
    sql`select distinct a.employee_id, l.kind, coalesce(l.leave_type, l.leave_type_key) as label
        from attendance_days a join leaves l on l.instance_code = a.instance_code
        where a.status = 'active' and l.status = 'approved' and l.kind in (${sql.join(EXPORT_KINDS.map((k) => sql`${k}`), sql`, `)}) and a.date = ${date}::date`,
  );
}

/** Everything the page shows, read once. Google/Feishu are only asked when `verify` says so. */
export async function loadDashboard(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'calendar' | 'feishu'>,
  input: { period: Period; verify?: VerifyOptions },
): Promise<DashboardData> {
  const now = deps.clock.now();
  const today = instantToLocalDate(now, deps.config.DEFAULT_TIMEZONE);
  const { period } = input;
  const [allTotals, allToday, statuses, health, reconciliation, policies] = await Promise.all([
    dailyTotals(deps.db, period),
    peopleOn(deps.db, today),
    countLeavesInPeriod(deps.db, period),
    outboxHealth(deps.db, now),
    driftOverview(deps, { ...period, verify: input.verify }, DASHBOARD_ITEMS_PER_CATEGORY),
    loadPolicies(deps.db, policyDefaults(deps.config)),
  ]);
  // The "on leave" figures (days, chart, today) count what the policies say counts as leave: by
  // default leaves, not outs, trips or overtime.
  const counts = (l: { kind: string; label: string | null }) => policies.resolve(l.kind, l.label).counts_as_leave;
  const totalsByDay = allTotals.filter(counts);
  const peopleToday = [...new Set(allToday.filter(counts).map((p) => p.employee_id))].sort();

  const dates = datesOf(period);
  const index = new Map(dates.map((d, i) => [d, i]));
  const byType = new Map<string, number[]>();
  const totals = { day: 0n, hour: 0n, minute: 0n } as Record<string, bigint>;
  let converted = false;
  for (const t of totalsByDay) {
    totals[t.unit] = (totals[t.unit] ?? 0n) + toMicro(t.total);
    const q = Number(t.total);
    const personDays = t.unit === 'day' ? q : t.unit === 'hour' ? q / CHART_HOURS_PER_DAY : q / (CHART_HOURS_PER_DAY * 60);
    if (t.unit !== 'day') converted = true;
    const label = t.label ?? 'Unnamed leave type';
    const values = byType.get(label) ?? new Array<number>(dates.length).fill(0);
    values[index.get(t.date)!]! += personDays;
    byType.set(label, values);
  }
  // Biggest types first, so the colours of the main types stay put as the period changes.
  const series = [...byType.entries()]
    .map(([label, values]) => ({ label, values, total: values.reduce((a, b) => a + b, 0) }))
    .sort((a, b) => b.total - a.total || a.label.localeCompare(b.label))
    .map(({ label, values }) => ({ label, values }));

  return {
    period,
    today,
    generatedAt: now,
    figures: {
      leaves: statuses.approved,
      reverted: statuses.reverted,
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
