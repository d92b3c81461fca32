import { and, asc, eq, gte, inArray, isNotNull, lte, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { attendanceDays, calendarBlocks, employees, inboxEvents, leaves, outbox } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { UNIT_INFO, type LeaveUnit } from '../leave/types.js';
import type { GoogleEventSummary } from '../ports.js';
import { addDays } from '../shared/dates.js';
import { fromMicro, toMicro } from '../shared/decimal.js';
import type { Period } from './period.js';

/** In report order. Every category appears in the summary, with 0 when all is well. */
export const CATEGORIES = [
  'calendar_missing',
  'calendar_pending',
  'calendar_dead',
  'calendar_fallback',
  'block_for_reverted',
  'google_orphan',
  'google_mismatch',
  'feishu_status_mismatch',
  'attendance_total_mismatch',
  'single_variant',
  'quarantined_event',
  'employee_without_email',
  'verify_failed',
] as const;
export type Category = (typeof CATEGORIES)[number];

export type Severity = 'error' | 'warning' | 'info';

export interface DriftItem {
  category: Category;
  instance_code: string | null;
  employee_id: string | null;
  /** what is wrong, for a person */
  detail: string;
  /** what to do about it */
  action: string;
  severity: Severity;
  /** machine-readable particulars (outbox id, age, event id, times) */
  data?: Record<string, unknown>;
}

export interface ReconciliationReport {
  from: string;
  to: string;
  generated_at: string;
  verified: { google: boolean; feishu: boolean };
  summary: Record<Category, number> & { total: number; leaves_checked: number };
  items: DriftItem[];
}

export interface VerifyOptions {
  google?: boolean;
  feishu?: boolean;
}

/**
 * V1 and V2 of one approval normally arrive within seconds of each other, but either may be in
 * Feishu's retry schedule (15 s, 5 min, 1 h …): a leave is only called single-variant once it is
 * older than this.
 */
export const SINGLE_VARIANT_GRACE_MS = 15 * 60_000;
/** A pending outbox message younger than this is normal traffic, not yet worth a warning. */
export const PENDING_WARN_MS = 5 * 60_000;
/**
 * Stop calling a failing external service after this many failures in one report (lookups
 * already in flight then still finish, so up to VERIFY_CONCURRENCY − 1 more may fail).
 */
export const VERIFY_FAILURE_LIMIT = 5;
/** Lookups in flight at once (Feishu and Google both rate-limit per app). */
export const VERIFY_CONCURRENCY = 4;

const OPEN = new Set(['pending', 'running', 'held']);

type LeaveRow = typeof leaves.$inferSelect;
type OutboxRow = typeof outbox.$inferSelect;
type BlockRow = typeof calendarBlocks.$inferSelect;

/** The last local date a leave touches: an end at 00:00:00 closes the day before. */
function lastDate(l: Pick<LeaveRow, 'startLocal' | 'endLocal'>): string {
  const start = l.startLocal!.slice(0, 10);
  const end = l.endLocal!.slice(0, 10);
  const last = l.endLocal!.slice(11) === '00:00:00' ? addDays(end, -1) : end;
  return last < start ? start : last;
}

const age = (now: Date, since: Date) => Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));

export function formatAge(seconds: number): string {
  if (seconds < 90) return `${seconds}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** Leaves whose local dates overlap the period (revert-only stubs have no dates and are left out). */
export async function leavesInPeriod(db: Queryable, period: Period): Promise<LeaveRow[]> {
  const rows = await db
    .select()
    .from(leaves)
    .where(
      and(
        isNotNull(leaves.detailSource),
        isNotNull(leaves.startLocal),
        isNotNull(leaves.endLocal),
        lte(sql`substr(${leaves.startLocal}, 1, 10)`, period.to),
        gte(sql`substr(${leaves.endLocal}, 1, 10)`, period.from),
      ),
    )
    .orderBy(asc(leaves.startLocal), asc(leaves.instanceCode));
  return rows.filter((l) => lastDate(l) >= period.from);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300);

/** Calls to one external service, given up after VERIFY_FAILURE_LIMIT failures (each becomes an item). */
class Verifier {
  failures = 0;
  skipped = 0;
  constructor(
    private readonly service: 'google' | 'feishu',
    private readonly items: DriftItem[],
  ) {}

  async call<T>(what: string, ids: { instance_code?: string | null; employee_id?: string | null }, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (this.failures >= VERIFY_FAILURE_LIMIT) {
      this.skipped++;
      return { ok: false };
    }
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      this.failures++;
      this.items.push({
        category: 'verify_failed',
        instance_code: ids.instance_code ?? null,
        employee_id: ids.employee_id ?? null,
        detail: `${this.service === 'google' ? 'Google Calendar' : 'Feishu'}: ${what} failed: ${errorText(err)}`,
        action:
          this.service === 'google'
            ? 'Check the service account (domain-wide delegation, calendar.events scope) and that the calendar exists; run the report again.'
            : 'Check FEISHU_APP_ID/SECRET and the app\'s approval read permission; run the report again.',
        severity: 'warning',
        data: { service: this.service },
      });
      return { ok: false };
    }
  }

  finish(): void {
    if (this.skipped === 0) return;
    this.items.push({
      category: 'verify_failed',
      instance_code: null,
      employee_id: null,
      detail: `${this.service === 'google' ? 'Google Calendar' : 'Feishu'}: stopped after ${VERIFY_FAILURE_LIMIT} failures; ${this.skipped} more lookups not made`,
      action: 'Fix the failures listed above and run the report again; these items were not verified.',
      severity: 'warning',
      data: { service: this.service, skipped: this.skipped },
    });
  }
}

/**
 * Drift between what we recorded, what we asked Google to hold, and what Feishu says — for the
 * leaves of a period. Only problems are listed, each with what to do. Google and Feishu are asked
 * only when `verify` says so; their failures become `verify_failed` items, never an error of the
 * report itself.
 */
export async function reconcile(
  deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu'>,
  input: Period & { verify?: VerifyOptions },
): Promise<ReconciliationReport> {
  const { db } = deps;
  const now = deps.clock.now();
  const period = { from: input.from, to: input.to };
  const items: DriftItem[] = [];
  const scope = await leavesInPeriod(db, period);
  const codes = scope.map((l) => l.instanceCode);
  const employeeIds = [...new Set(scope.map((l) => l.employeeId).filter((e): e is string => e !== null))];

  const [messages, blocks, sums, people, quarantined] = await Promise.all([
    codes.length ? db.select().from(outbox).where(inArray(outbox.key, codes)).orderBy(asc(outbox.id)) : Promise.resolve([] as OutboxRow[]),
    codes.length ? db.select().from(calendarBlocks).where(inArray(calendarBlocks.instanceCode, codes)) : Promise.resolve([] as BlockRow[]),
    codes.length
      ? db
          .select({
            instanceCode: attendanceDays.instanceCode,
            unit: attendanceDays.unit,
            total: sql<string>`sum(${attendanceDays.quantity})::text`,
          })
          .from(attendanceDays)
          .where(and(inArray(attendanceDays.instanceCode, codes), eq(attendanceDays.status, 'active')))
          .groupBy(attendanceDays.instanceCode, attendanceDays.unit)
      : Promise.resolve([]),
    employeeIds.length ? db.select().from(employees).where(inArray(employees.employeeId, employeeIds)) : Promise.resolve([]),
    db
      .select({
        id: inboxEvents.id,
        eventType: inboxEvents.eventType,
        instanceCode: inboxEvents.instanceCode,
        reason: inboxEvents.reason,
        receivedAt: inboxEvents.receivedAt,
      })
      .from(inboxEvents)
      .where(eq(inboxEvents.status, 'quarantined'))
      .orderBy(asc(inboxEvents.id)),
  ]);

  const messagesByKey = groupBy(messages, (m) => m.key);
  const blockByCode = new Map(blocks.map((b) => [b.instanceCode, b]));
  const sumsByCode = groupBy(sums, (s) => s.instanceCode);
  const employeeById = new Map(people.map((p) => [p.employeeId, p]));
  const emailOf = (employeeId: string | null) => {
    const e = employeeId ? employeeById.get(employeeId) : undefined;
    return e?.emailOverride ?? e?.email ?? null;
  };

  for (const leave of scope) {
    const code = leave.instanceCode;
    const emp = leave.employeeId;
    const msgs = messagesByKey.get(code) ?? [];
    const open = msgs.filter((m) => OPEN.has(m.status));
    // A dead message stops mattering once a later message of the same leave has gone through.
    const dead = msgs.filter((m) => m.status === 'dead' && !msgs.some((later) => later.id > m.id && later.status === 'done'));
    const block = blockByCode.get(code);
    const present = block?.state === 'present';

    for (const m of open) {
      const seconds = age(now, m.createdAt);
      const held = m.status === 'held';
      items.push({
        category: 'calendar_pending',
        instance_code: code,
        employee_id: emp,
        detail:
          `${m.kind} #${m.id} ${m.status} for ${formatAge(seconds)}` +
          (m.attempts ? `, ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}` : '') +
          (m.lastError ? `; last error: ${m.lastError}` : ''),
        action: held
          ? `Held on a configuration problem: fix it (${m.lastError ?? 'see last error'}), then POST /api/outbox/${m.id}/retry.`
          : m.status === 'running'
            ? 'Being worked on; if it stays running past its lease another drainer takes it over. Check again shortly.'
            : seconds < PENDING_WARN_MS / 1000
              ? 'Queued; the drainer will handle it shortly.'
              : 'Waiting longer than expected: check that `leave-bridge serve` (the drainer) runs and look at its logs and /metrics.',
        severity: held ? 'error' : seconds < PENDING_WARN_MS / 1000 || m.status === 'running' ? 'info' : 'warning',
        data: { outbox_id: m.id, kind: m.kind, status: m.status, attempts: m.attempts, age_seconds: seconds, run_after: m.runAfter.toISOString(), last_error: m.lastError },
      });
    }
    for (const m of dead) {
      items.push({
        category: 'calendar_dead',
        instance_code: code,
        employee_id: emp,
        detail: `${m.kind} #${m.id} is dead after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}: ${m.lastError ?? 'no error recorded'}`,
        action: `Fix the cause named in the error, then POST /api/outbox/${m.id}/retry (or \`leave-bridge outbox retry ${m.id}\`).`,
        severity: 'error',
        data: { outbox_id: m.id, kind: m.kind, attempts: m.attempts, last_error: m.lastError, updated_at: m.updatedAt.toISOString() },
      });
    }

    if (leave.status === 'approved') {
      if (!present && open.length === 0) {
        const lastDead = dead.filter((m) => m.kind === 'calendar.upsert').at(-1);
        items.push({
          category: 'calendar_missing',
          instance_code: code,
          employee_id: emp,
          detail:
            `approved leave ${leave.startLocal} → ${leave.endLocal} has no calendar block` +
            (block ? ` (block ${block.eventId} recorded as ${block.state})` : '') +
            (lastDead ? `; its upsert #${lastDead.id} is dead` : '; nothing is queued'),
          action: lastDead
            ? `Fix the dead upsert's cause and POST /api/outbox/${lastDead.id}/retry.`
            : 'Re-queue the calendar upsert (re-deliver the approval or run `leave-bridge backfill` for its period) and check that the calendar sync is configured.',
          severity: 'error',
          data: { block_state: block?.state ?? 'absent' },
        });
      }
      if (present && block.eventType === 'default') {
        items.push({
          category: 'calendar_fallback',
          instance_code: code,
          employee_id: emp,
          detail: `an opaque default event stands in for out-of-office on ${block.calendarId}: ${block.fallbackReason ?? 'Google refused the outOfOffice type'}`,
          action:
            'Google refuses out-of-office events on this calendar (not a Workspace account, or a policy). The time shows as busy but meetings are not declined; move the person to a Workspace account if that matters.',
          severity: 'info',
          data: { calendar_id: block.calendarId, event_id: block.eventId, fallback_reason: block.fallbackReason },
        });
      }
      checkTotals(leave, sumsByCode.get(code) ?? [], items);
      if (leave.hasV1 !== leave.hasV2 && (leave.detailSource === 'v1' || leave.detailSource === 'v2') && now.getTime() - leave.createdAt.getTime() > SINGLE_VARIANT_GRACE_MS) {
        const got = leave.hasV1 ? 'leave_approval (V1)' : 'leave_approvalV2 (V2)';
        const missing = leave.hasV1 ? 'leave_approvalV2 (V2)' : 'leave_approval (V1)';
        items.push({
          category: 'single_variant',
          instance_code: code,
          employee_id: emp,
          detail: `only ${got} arrived; ${missing} never did`,
          action: leave.hasV1
            ? 'Informational: the leave is recorded from V1 (no leave_range segments, V1 name). Subscribe the app to leave_approvalV2 if half-day segments matter.'
            : 'Informational: V1 was never delivered; nothing is missing for payroll or the calendar.',
          severity: 'info',
        });
      }
    } else if (present) {
      const openDelete = open.some((m) => m.kind === 'calendar.delete' && m.status !== 'held');
      if (!openDelete) {
        const deadDelete = dead.filter((m) => m.kind === 'calendar.delete').at(-1);
        items.push({
          category: 'block_for_reverted',
          instance_code: code,
          employee_id: emp,
          detail: `leave reverted ${leave.revertedAt?.toISOString() ?? ''} but block ${block.eventId} on ${block.calendarId} is still recorded as present` + (deadDelete ? `; delete #${deadDelete.id} is dead` : ''),
          action: deadDelete
            ? `POST /api/outbox/${deadDelete.id}/retry once its cause is fixed, or delete event ${block.eventId} in ${block.calendarId} by hand.`
            : `Delete event ${block.eventId} in ${block.calendarId} (re-deliver the revert or delete it by hand): the person still shows as out of office.`,
          severity: 'error',
          data: { calendar_id: block.calendarId, event_id: block.eventId },
        });
      }
    }
  }

  // One item per person, not per leave: the fix (an email) is per person. The drainer looks the
  // address up when it first needs it, so a person never looked up while their calendar work is
  // still queued is not a problem yet.
  const withoutEmail = new Map<string, string[]>();
  const lookupQueued = new Set<string>();
  for (const leave of scope) {
    if (leave.status !== 'approved' || !leave.employeeId || emailOf(leave.employeeId)) continue;
    withoutEmail.set(leave.employeeId, [...(withoutEmail.get(leave.employeeId) ?? []), leave.instanceCode]);
    if ((messagesByKey.get(leave.instanceCode) ?? []).some((m) => m.status === 'pending' || m.status === 'running')) lookupQueued.add(leave.employeeId);
  }
  for (const [employeeId, leaveCodes] of withoutEmail) {
    const e = employeeById.get(employeeId);
    if (!e?.fetchedAt && lookupQueued.has(employeeId)) continue;
    items.push({
      category: 'employee_without_email',
      instance_code: leaveCodes[0]!,
      employee_id: employeeId,
      detail:
        `${e?.name ? `${e.name} ` : ''}has no email ` +
        (e?.fetchedAt ? `(the Feishu contact API returned none at ${e.fetchedAt.toISOString()})` : '(not looked up in Feishu yet)') +
        `; affects ${leaveCodes.length} leave${leaveCodes.length === 1 ? '' : 's'}: ${leaveCodes.slice(0, 5).join(', ')}${leaveCodes.length > 5 ? ', …' : ''}`,
      action:
        'No calendar block and an empty email column in payroll until fixed: give the Feishu app the contact email permission, or set an email override for this employee.',
      severity: 'warning',
      data: { leaves: leaveCodes },
    });
  }

  for (const q of quarantined) {
    items.push({
      category: 'quarantined_event',
      instance_code: q.instanceCode,
      employee_id: null,
      detail: `${q.eventType} event #${q.id} received ${q.receivedAt.toISOString()} was quarantined: ${q.reason ?? 'no reason recorded'}`,
      action: `Inspect it (GET /api/events?status=quarantined), then POST /api/events/${q.id}/replay, with a corrected event as the body if needed.`,
      severity: 'error',
      data: { event_id: q.id, event_type: q.eventType },
    });
  }

  const verified = { google: false, feishu: false };
  if (input.verify?.google) {
    verified.google = true;
    await verifyGoogle(deps, period, scope, blockByCode, emailOf, messagesByKey, items);
  }
  if (input.verify?.feishu) {
    verified.feishu = true;
    await verifyFeishu(deps, scope, items);
  }

  const order = new Map(CATEGORIES.map((c, i) => [c, i]));
  // Stable: items without an instance (a service that stopped answering) keep their place after the others.
  const byCode = (a: DriftItem, b: DriftItem) =>
    a.instance_code === b.instance_code ? 0 : a.instance_code === null ? 1 : b.instance_code === null ? -1 : a.instance_code < b.instance_code ? -1 : 1;
  items.sort((a, b) => order.get(a.category)! - order.get(b.category)! || byCode(a, b));
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const i of items) counts[i.category]++;
  return {
    from: period.from,
    to: period.to,
    generated_at: now.toISOString(),
    verified,
    summary: { ...counts, total: items.length, leaves_checked: scope.length },
    items,
  };
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

/** Active days must add up to leave_interval in the unit's base (÷86400 day, ÷3600 hour, ÷60 minute). */
function checkTotals(leave: LeaveRow, sums: Array<{ unit: string; total: string }>, items: DriftItem[]): void {
  if (!leave.unit || leave.intervalSeconds === null) return;
  const info = UNIT_INFO[leave.unit as LeaveUnit];
  if (!info) return;
  const micro = sums.filter((s) => s.unit === info.base).reduce((acc, s) => acc + toMicro(s.total), 0n);
  const otherUnits = sums.filter((s) => s.unit !== info.base).map((s) => s.unit);
  // interval / baseSeconds in millionths, exactly: compare micro × base with interval × 10^6.
  const matches = micro * BigInt(info.baseSeconds) === BigInt(leave.intervalSeconds) * 1_000_000n && otherUnits.length === 0;
  if (matches) return;
  const expected = fromMicro((BigInt(leave.intervalSeconds) * 1_000_000n) / BigInt(info.baseSeconds));
  items.push({
    category: 'attendance_total_mismatch',
    instance_code: leave.instanceCode,
    employee_id: leave.employeeId,
    detail:
      `active days add up to ${fromMicro(micro)} ${info.base} but leave_interval ${leave.intervalSeconds}s is ${expected} ${info.base}` +
      (otherUnits.length ? `; days in other units: ${otherUnits.join(', ')}` : ''),
    action: 'Payroll would pay the wrong amount: look at GET /api/leaves/<instance_code> (days and history) and re-deliver or backfill the approval so it is allocated again.',
    severity: 'error',
    data: { sum: fromMicro(micro), expected, unit: info.base },
  });
}

async function verifyGoogle(
  deps: Pick<Deps, 'db' | 'calendar'>,
  period: Period,
  scope: LeaveRow[],
  blockByCode: Map<string, BlockRow>,
  emailOf: (employeeId: string | null) => string | null,
  messagesByKey: Map<string, OutboxRow[]>,
  items: DriftItem[],
): Promise<void> {
  const calendar = deps.calendar;
  if (!calendar) {
    items.push({
      category: 'verify_failed',
      instance_code: null,
      employee_id: null,
      detail: 'verify=google asked for, but Google Calendar is not configured',
      action: 'Set GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE.',
      severity: 'warning',
      data: { service: 'google' },
    });
    return;
  }
  const verifier = new Verifier('google', items);
  // The calendar each leave belongs on: where we put its block, else its owner's address now.
  const calendarOf = (l: LeaveRow) => blockByCode.get(l.instanceCode)?.calendarId ?? emailOf(l.employeeId);
  const calendars = new Map<string, string | null>();
  for (const l of scope) {
    const cal = calendarOf(l);
    if (cal && !calendars.has(cal)) calendars.set(cal, l.employeeId);
  }
  // A day either side covers every zone (UTC−12 … UTC+14); events found just outside the period
  // are judged by their leave, not by the window, so widening cannot invent drift.
  const timeMin = new Date(Date.parse(`${period.from}T00:00:00Z`) - 86_400_000);
  const timeMax = new Date(Date.parse(`${addDays(period.to, 1)}T00:00:00Z`) + 86_400_000);

  const listed = await mapLimit([...calendars], VERIFY_CONCURRENCY, async ([calendarId, employeeId]) => ({
    calendarId,
    result: await verifier.call(`listing events of ${calendarId}`, { employee_id: employeeId }, () => calendar.listMarkedEvents(calendarId, timeMin, timeMax)),
  }));

  const seenCodes = new Set<string>();
  for (const { result } of listed) if (result.ok) for (const e of result.value) if (e.instanceCode) seenCodes.add(e.instanceCode);
  const inScope = new Map(scope.map((l) => [l.instanceCode, l]));
  const outside = [...seenCodes].filter((c) => !inScope.has(c));
  const known = new Map(inScope);
  if (outside.length) {
    for (const l of await deps.db.select().from(leaves).where(inArray(leaves.instanceCode, outside))) known.set(l.instanceCode, l);
  }
  // An event whose leave has a message pending or running is about to be changed by the drainer.
  const inFlight = new Set(
    [...messagesByKey.values()].flat().filter((m) => m.status === 'pending' || m.status === 'running').map((m) => m.key),
  );
  if (outside.length) {
    const rows = await deps.db
      .select({ key: outbox.key })
      .from(outbox)
      .where(and(inArray(outbox.key, outside), inArray(outbox.status, ['pending', 'running'])));
    for (const r of rows) inFlight.add(r.key);
  }
  const outsideBlocks = outside.length
    ? new Map((await deps.db.select().from(calendarBlocks).where(inArray(calendarBlocks.instanceCode, outside))).map((b) => [b.instanceCode, b]))
    : new Map<string, BlockRow>();

  const verifiedCalendars = new Set<string>();
  const googleByCode = new Map<string, GoogleEventSummary & { calendarId: string }>();
  for (const { calendarId, result } of listed) {
    if (!result.ok) continue;
    verifiedCalendars.add(calendarId);
    for (const ev of result.value) {
      if (ev.status === 'cancelled') {
        if (ev.instanceCode) googleByCode.set(ev.instanceCode, { ...ev, calendarId });
        continue;
      }
      const leave = ev.instanceCode ? known.get(ev.instanceCode) : undefined;
      const owner = leave ? (blockByCode.get(leave.instanceCode) ?? outsideBlocks.get(leave.instanceCode))?.calendarId ?? emailOf(leave.employeeId) : null;
      let why: string | null = null;
      if (ev.instanceCode && inFlight.has(ev.instanceCode)) continue;
      if (!ev.instanceCode) why = 'it carries our marker but no instance code';
      else if (!leave) why = `no leave ${ev.instanceCode} is known here`;
      else if (leave.status !== 'approved') why = `leave ${ev.instanceCode} is ${leave.status}`;
      else if (owner && owner !== calendarId) why = `leave ${ev.instanceCode} belongs on ${owner}`;
      if (why) {
        items.push({
          category: 'google_orphan',
          instance_code: ev.instanceCode,
          employee_id: leave?.employeeId ?? calendars.get(calendarId) ?? null,
          detail: `event ${ev.eventId} on ${calendarId} (${fmt(ev.start)} → ${fmt(ev.end)}) is ours but ${why}`,
          action: `Delete event ${ev.eventId} from ${calendarId}: the person shows as out of office for a leave that does not exist.` +
            (leave && leave.status !== 'approved' ? ' Re-delivering the revert queues the delete.' : ''),
          severity: 'error',
          data: { calendar_id: calendarId, event_id: ev.eventId, start: ev.start?.toISOString() ?? null, end: ev.end?.toISOString() ?? null },
        });
      } else if (ev.instanceCode) {
        googleByCode.set(ev.instanceCode, { ...ev, calendarId });
      }
    }
  }

  for (const leave of scope) {
    const cal = calendarOf(leave);
    if (!cal || !verifiedCalendars.has(cal)) continue;
    const block = blockByCode.get(leave.instanceCode);
    if (inFlight.has(leave.instanceCode)) continue;
    let ev: (GoogleEventSummary & { calendarId?: string }) | null | undefined = googleByCode.get(leave.instanceCode);
    if (block?.state === 'present') {
      if (!ev) {
        // Not in the window's listing: ask for it by id (it may have been moved far away).
        const got = await verifier.call(`reading event ${block.eventId}`, { instance_code: leave.instanceCode, employee_id: leave.employeeId }, () =>
          calendar.getBlock(block.calendarId, leave.instanceCode),
        );
        if (!got.ok) continue;
        ev = got.value;
      }
      const problems: string[] = [];
      if (!ev) problems.push('missing in Google');
      else if (ev.status === 'cancelled') problems.push('cancelled (deleted) in Google');
      else {
        if (!sameInstant(ev.start, block.startAt) || !sameInstant(ev.end, block.endAt)) {
          problems.push(`times differ: Google ${fmt(ev.start)} → ${fmt(ev.end)}, we wrote ${fmt(block.startAt)} → ${fmt(block.endAt)}`);
        }
        if (ev.eventType !== block.eventType) problems.push(`type differs: Google ${ev.eventType}, we wrote ${block.eventType}`);
      }
      if (problems.length && leave.status === 'approved') {
        items.push({
          category: 'google_mismatch',
          instance_code: leave.instanceCode,
          employee_id: leave.employeeId,
          detail: `block ${block.eventId} on ${block.calendarId}: ${problems.join('; ')}`,
          action: 'Someone changed the event in Google. Re-queue the calendar upsert for this leave (re-deliver the approval or run backfill) to put it back.',
          severity: 'error',
          data: { calendar_id: block.calendarId, event_id: block.eventId, google: ev ? { status: ev.status, start: ev.start?.toISOString() ?? null, end: ev.end?.toISOString() ?? null, event_type: ev.eventType } : null },
        });
      }
    } else if (leave.status === 'approved' && ev && ev.status !== 'cancelled') {
      items.push({
        category: 'google_mismatch',
        instance_code: leave.instanceCode,
        employee_id: leave.employeeId,
        detail: `event ${ev.eventId} on ${cal} exists in Google (${fmt(ev.start)} → ${fmt(ev.end)}) but we record ${block ? `the block as ${block.state}` : 'no block'}`,
        action: 'Our record is behind Google: re-queue the calendar upsert for this leave so the record is written again.',
        severity: 'warning',
        data: { calendar_id: cal, event_id: ev.eventId },
      });
    }
  }
  verifier.finish();
}

async function verifyFeishu(deps: Pick<Deps, 'feishu'>, scope: LeaveRow[], items: DriftItem[]): Promise<void> {
  const feishu = deps.feishu;
  if (!feishu) {
    items.push({
      category: 'verify_failed',
      instance_code: null,
      employee_id: null,
      detail: 'verify=feishu asked for, but the Feishu Open API is not configured',
      action: 'Set FEISHU_APP_ID and FEISHU_APP_SECRET.',
      severity: 'warning',
      data: { service: 'feishu' },
    });
    return;
  }
  const verifier = new Verifier('feishu', items);
  await mapLimit(scope, VERIFY_CONCURRENCY, async (leave) => {
    const got = await verifier.call(`reading approval instance ${leave.instanceCode}`, { instance_code: leave.instanceCode, employee_id: leave.employeeId }, () =>
      feishu.getInstance(leave.instanceCode),
    );
    if (!got.ok) return;
    const inst = got.value;
    // An approved-then-reverted instance keeps status APPROVED and sets `reverted` (approval
    // instance get API); CANCELED/DELETED/REJECTED never pay either.
    const feishuApproved = inst !== null && inst.status === 'APPROVED' && !inst.reverted;
    const ours = leave.status === 'approved';
    if (feishuApproved === ours) return;
    const theirs = inst === null ? 'no such instance' : `status ${inst.status}${inst.reverted ? ', reverted' : ''}`;
    items.push({
      category: 'feishu_status_mismatch',
      instance_code: leave.instanceCode,
      employee_id: leave.employeeId,
      detail: `Feishu says ${theirs}; we have it ${leave.status}`,
      action: ours
        ? 'The revert never reached us: run `leave-bridge backfill` for this approval and period (or re-deliver the revert) so attendance and the calendar block are withdrawn.'
        : 'We have it reverted but Feishu shows it approved: check the instance in Feishu; if it was approved again, it needs a new approval instance (a reverted instance is never resurrected).',
      severity: 'error',
      data: { feishu_status: inst?.status ?? null, feishu_reverted: inst?.reverted ?? null, our_status: leave.status },
    });
  });
  verifier.finish();
}

const sameInstant = (a: Date | null | undefined, b: Date | null | undefined) => (a?.getTime() ?? null) === (b?.getTime() ?? null);
const fmt = (d: Date | null | undefined) => (d ? d.toISOString() : '?');
