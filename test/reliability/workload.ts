import postgres from 'postgres';
import { canonicalDecimal } from '../../src/shared/decimal.js';
import type { FakeGoogle } from '../fakes/google.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';
import { waitFor } from '../support/process.js';
import type { Delivery, DeliveryResult } from '../support/sender.js';
import { SECRETS } from './harness.js';

/*
 * A workload of leaves whose every expected effect is known in advance, and the check that the
 * database and the fake Google hold exactly those effects: nothing missing (lost), nothing twice
 * (duplicated).
 */

export const EMPLOYEES = [
  { user_id: 'u_rel_ann', open_id: 'ou_rel_ann', name: 'Ann', email: 'ann@rel.example.com' },
  { user_id: 'u_rel_bo', open_id: 'ou_rel_bo', name: 'Bo', email: 'bo@rel.example.com' },
  { user_id: 'u_rel_cy', open_id: 'ou_rel_cy', name: 'Cy', email: 'cy@rel.example.com' },
] as const;

export interface ExpectedLeave {
  instanceCode: string;
  employeeId: string;
  email: string;
  status: 'approved' | 'reverted';
  unit: 'day' | 'hour';
  days: Array<{ date: string; quantity: string }>;
  deliveries: Delivery[];
}

const addDays = (date: string, n: number) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * `n` leaves, each approved by BOTH leave_approval and leave_approvalV2 (as Feishu sends them),
 * every `revertEvery`-th one also reverted. Day leaves of 1..3 whole days and 4-hour leaves
 * alternate, on distinct dates, over three employees.
 */
export function leaveWorkload(prefix: string, n: number, opts: { revertEvery?: number; token?: string } = {}): { leaves: ExpectedLeave[]; deliveries: Delivery[] } {
  const token = opts.token ?? SECRETS.verificationToken;
  const leaves: ExpectedLeave[] = [];
  for (let i = 0; i < n; i++) {
    const emp = EMPLOYEES[i % EMPLOYEES.length]!;
    const instanceCode = `REL-${prefix}-${i}-${Math.random().toString(36).slice(2, 8)}`;
    const date = addDays('2024-10-01', i * 4);
    const hourly = i % 3 === 2;
    const length = (i % 3) + 1;
    const spec = hourly
      ? { start: `${date} 09:00:00`, end: `${date} 13:00:00`, interval: 4 * 3600, unit: 'HOUR' as const }
      : { start: `${date} 00:00:00`, end: `${addDays(date, length)} 00:00:00`, interval: length * 86_400, unit: 'DAY' as const };
    const common = { ...spec, instanceCode, employeeId: emp.user_id, openId: emp.open_id, token, leaveName: 'Annual leave' };
    const deliveries: Delivery[] = [
      { id: `${instanceCode}-v1`, plaintext: leaveApprovalV1({ ...common, uuid: `${instanceCode}-v1` }) },
      { id: `${instanceCode}-v2`, plaintext: leaveApprovalV2({ ...common, uuid: `${instanceCode}-v2` }) },
    ];
    const reverted = opts.revertEvery !== undefined && i % opts.revertEvery === opts.revertEvery - 1;
    if (reverted) deliveries.push({ id: `${instanceCode}-revert`, plaintext: leaveRevert({ instanceCode, uuid: `${instanceCode}-revert`, token }) });
    leaves.push({
      instanceCode,
      employeeId: emp.user_id,
      email: emp.email,
      status: reverted ? 'reverted' : 'approved',
      unit: hourly ? 'hour' : 'day',
      days: hourly ? [{ date, quantity: '4' }] : Array.from({ length }, (_, k) => ({ date: addDays(date, k), quantity: '1' })),
      deliveries,
    });
  }
  return { leaves, deliveries: leaves.flatMap((l) => l.deliveries) };
}

export interface Verdict {
  /** deliveries with an inbox row whose status is applied */
  applied: number;
  duplicates: number;
  lost: number;
  /** human-readable list of every discrepancy; empty when exact */
  problems: string[];
  outbox: { rows: number; byStatus: Record<string, number>; attempts: number; maxAttempts: number };
  google: { liveBlocks: number; insertsCommitted: number } | null;
}

type Sql = ReturnType<typeof postgres>;

export function connect(url: string): Sql {
  return postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 5 });
}

/** Wait until the outbox has nothing left to do (every row done, dead or superseded). */
export async function waitForOutboxSettled(sql: Sql, what: string, ms = 60_000): Promise<void> {
  await waitFor(
    `${what}: outbox drained`,
    async () => {
      const [r] = await sql<Array<{ open: number; total: number }>>`
        select count(*) filter (where status in ('pending', 'running', 'held'))::int as open, count(*)::int as total from outbox`;
      return r!.open === 0 && r!.total > 0;
    },
    ms,
  );
}

/**
 * Compare the database (and the fake Google, when given) with the expected leaves. `results` are
 * the sender's outcomes: an event never acked is lost; an acked event without its inbox row was
 * acked without being committed (also lost).
 */
export async function verify(
  sql: Sql,
  expected: ExpectedLeave[],
  results: DeliveryResult[],
  google?: FakeGoogle,
  opts: { onlyExpected?: boolean } = {},
): Promise<Verdict> {
  // onlyExpected: other rows exist on purpose (the hostile scenario's authentic garbage); judge ours only
  const strict = !opts.onlyExpected;
  const problems: string[] = [];
  let duplicates = 0;
  let lost = 0;

  // Events: each exactly once in the inbox, applied.
  const inbox = await sql<Array<{ event_key: string; status: string; n: number }>>`
    select event_key, status, count(*)::int as n from inbox_events group by event_key, status`;
  const byKey = new Map<string, { status: string; n: number }[]>();
  for (const r of inbox) byKey.set(r.event_key, [...(byKey.get(r.event_key) ?? []), r]);
  const resultById = new Map(results.map((r) => [r.id, r]));
  let applied = 0;
  for (const d of expected.flatMap((l) => l.deliveries)) {
    const rows = byKey.get(d.id) ?? [];
    const count = rows.reduce((s, r) => s + r.n, 0);
    const res = resultById.get(d.id);
    if (!res) {
      problems.push(`${d.id}: never sent`);
      lost++;
    } else if (!res.acked) {
      problems.push(`${d.id}: never acked (${res.attempts.map((a) => a.status).join(',')})`);
      lost++;
    }
    if (count === 0) {
      if (res?.acked) problems.push(`${d.id}: acked 200 but no inbox row`);
      lost++;
    } else if (count > 1) {
      problems.push(`${d.id}: ${count} inbox rows`);
      duplicates += count - 1;
    }
    if (rows.some((r) => r.status === 'applied')) applied++;
    else if (count > 0) problems.push(`${d.id}: inbox status ${rows.map((r) => r.status).join(',')}`);
    byKey.delete(d.id);
  }
  if (strict) for (const key of byKey.keys()) problems.push(`unexpected inbox row ${key}`);

  // Leaves: one per instance, with the expected status.
  const leaves = await sql<Array<{ instance_code: string; status: string }>>`select instance_code, status from leaves`;
  const leaveRows = new Map<string, string[]>();
  for (const l of leaves) leaveRows.set(l.instance_code, [...(leaveRows.get(l.instance_code) ?? []), l.status]);
  for (const l of expected) {
    const got = leaveRows.get(l.instanceCode) ?? [];
    if (got.length === 0) {
      problems.push(`${l.instanceCode}: no leave`);
      lost++;
    } else if (got[0] !== l.status) problems.push(`${l.instanceCode}: status ${got[0]}, expected ${l.status}`);
    leaveRows.delete(l.instanceCode);
  }
  if (strict) {
    for (const code of leaveRows.keys()) {
      problems.push(`unexpected leave ${code}`);
      duplicates++;
    }
  }

  // Attendance: exactly the expected active rows (reverted leaves: none).
  type Day = { instance_code: string; date: string; quantity: string; unit: string; employee_id: string };
  const days = await sql<Day[]>`
    select instance_code, date::text as date, quantity::text as quantity, unit, employee_id
    from attendance_days where status = 'active' order by instance_code, date`;
  const active = new Map<string, Day[]>();
  for (const d of days) active.set(d.instance_code, [...(active.get(d.instance_code) ?? []), d]);
  for (const l of expected) {
    const got = active.get(l.instanceCode) ?? [];
    const want = l.status === 'approved' ? l.days : [];
    const gotKeys = got.map((d) => `${d.date}=${canonicalDecimal(d.quantity)}${d.unit}@${d.employee_id}`);
    const wantKeys = want.map((d) => `${d.date}=${d.quantity}${l.unit}@${l.employeeId}`);
    for (const k of wantKeys) {
      const at = gotKeys.indexOf(k);
      if (at < 0) {
        problems.push(`${l.instanceCode}: attendance ${k} missing (have ${gotKeys.join(' ') || 'none'})`);
        lost++;
      } else gotKeys.splice(at, 1);
    }
    for (const k of gotKeys) {
      problems.push(`${l.instanceCode}: extra attendance ${k}`);
      duplicates++;
    }
    active.delete(l.instanceCode);
  }
  if (strict) for (const code of active.keys()) problems.push(`attendance for unexpected leave ${code}`);

  const ob = await sql<Array<{ status: string; n: number; attempts: number; max: number }>>`
    select status, count(*)::int as n, coalesce(sum(attempts), 0)::int as attempts, coalesce(max(attempts), 0)::int as max
    from outbox group by status`;
  const outbox = {
    rows: ob.reduce((s, r) => s + r.n, 0),
    byStatus: Object.fromEntries(ob.map((r) => [r.status, r.n])),
    attempts: ob.reduce((s, r) => s + r.attempts, 0),
    maxAttempts: ob.reduce((m, r) => Math.max(m, r.max), 0),
  };

  // Calendar: one live block per approved leave, none for a reverted one, none unaccounted for.
  let googleSummary: Verdict['google'] = null;
  if (google) {
    let liveBlocks = 0;
    const liveByCode = new Map<string, number>();
    for (const emp of EMPLOYEES) {
      for (const ev of google.events(emp.email)) {
        if (ev.status === 'cancelled') continue;
        liveBlocks++;
        const code = (ev as { extendedProperties?: { private?: { instanceCode?: string } } }).extendedProperties?.private?.instanceCode ?? `?${ev.id}`;
        liveByCode.set(code, (liveByCode.get(code) ?? 0) + 1);
      }
    }
    for (const l of expected) {
      const n = liveByCode.get(l.instanceCode) ?? 0;
      const want = l.status === 'approved' ? 1 : 0;
      if (n < want) {
        problems.push(`${l.instanceCode}: no calendar block`);
        lost++;
      } else if (n > want) {
        problems.push(`${l.instanceCode}: ${n} live calendar blocks, expected ${want}`);
        duplicates += n - want;
      }
      liveByCode.delete(l.instanceCode);
    }
    for (const [code, n] of liveByCode) {
      problems.push(`calendar block for unexpected leave ${code}`);
      duplicates += n;
    }
    const insertsCommitted = google.calls.filter((c) => c.op === 'insert' && c.committed).length;
    googleSummary = { liveBlocks, insertsCommitted };
    const cal = new Map((await sql<Array<{ instance_code: string }>>`select instance_code from calendar_blocks`).map((r) => [r.instance_code, true]));
    for (const l of expected) if (l.status === 'approved' && !cal.has(l.instanceCode)) problems.push(`${l.instanceCode}: no calendar_blocks row`);
  }
  return { applied, duplicates, lost, problems, outbox, google: googleSummary };
}
