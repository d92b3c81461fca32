import { and, inArray } from 'drizzle-orm';
import { calendarBlocks, leaves, outbox } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { GoogleEventSummary } from '../../ports.js';
import { addDays } from '../../shared/dates.js';
import type { Period } from '../period.js';
import { baseKeyOf, blockPlan, isHoldKey, plainKeyOf } from '../../leave/blocks.js';
import { blockId, type BlockRow, type LeaveRow, type OutboxRow } from './facts.js';
import { VERIFY_CONCURRENCY, type DriftItem } from './types.js';
import { mapLimit, Verifier } from './verifier.js';

/**
 * Compare Google with our records: events we marked that no approved leave explains
 * (google_orphan), and blocks whose times or type differ or that are gone (google_mismatch).
 * Rows with calendar work pending or running are not judged: the drainer is about to change them.
 * Every block is judged on its own: a trip's, one per segment for the requester and each peer,
 * on their own calendars.
 */
export async function verifyGoogle(
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
  const verifier = new Verifier('google', (item) => items.push(item));
  // Every block the period's records describe, and the calendar each belongs on: where we put
  // it, else its owner's address now.
  // A block recorded under its plain key too (a busy or free policy) is judged under that key as well.
  const units = scope.flatMap((leave) =>
    blockPlan(leave).flatMap((p) =>
      [p.blockKey, plainKeyOf(p.blockKey)]
        .filter((k, i) => i === 0 || blockByCode.has(blockId(leave.instanceCode, k)))
        .map((k) => ({ leave, blockKey: k, employeeId: p.employeeId, id: blockId(leave.instanceCode, k) })),
    ),
  );
  const calendarOf = (u: (typeof units)[number]) => blockByCode.get(u.id)?.calendarId ?? emailOf(u.employeeId);
  const calendars = new Map<string, string | null>();
  for (const u of units) {
    const cal = calendarOf(u);
    if (cal && !calendars.has(cal)) calendars.set(cal, u.employeeId);
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
    ? new Map((await deps.db.select().from(calendarBlocks).where(inArray(calendarBlocks.instanceCode, outside))).map((b) => [blockId(b.instanceCode, b.blockKey), b]))
    : new Map<string, BlockRow>();

  const verifiedCalendars = new Set<string>();
  const googleByCode = new Map<string, GoogleEventSummary & { calendarId: string }>();
  for (const { calendarId, result } of listed) {
    if (!result.ok) continue;
    verifiedCalendars.add(calendarId);
    for (const ev of result.value) {
      const key = ev.blockKey ?? '';
      const id = ev.instanceCode ? blockId(ev.instanceCode, key) : null;
      if (ev.status === 'cancelled') {
        if (id) googleByCode.set(id, { ...ev, calendarId });
        continue;
      }
      const leave = ev.instanceCode ? known.get(ev.instanceCode) : undefined;
      // a pending request's tentative hold, or a plain (busy, free) event, stands for its block
      const hold = isHoldKey(key);
      const planned = leave ? blockPlan(leave).find((p) => p.blockKey === baseKeyOf(key)) : undefined;
      const owner = leave && id ? (blockByCode.get(id) ?? outsideBlocks.get(id))?.calendarId ?? emailOf(planned?.employeeId ?? leave.employeeId) : null;
      let why: string | null = null;
      if (ev.instanceCode && inFlight.has(ev.instanceCode)) continue;
      if (!ev.instanceCode) why = 'it carries our marker but no instance code';
      else if (!leave) why = `no leave ${ev.instanceCode} is known here`;
      else if (hold && leave.status === 'pending' && planned) continue;
      else if (leave.status !== 'approved' || hold) why = `leave ${ev.instanceCode} is ${leave.status}${hold ? ' and this is its tentative hold' : ''}`;
      else if (!planned) why = `${leave.kind ?? 'leave'} ${ev.instanceCode} has no block ${JSON.stringify(key)}`;
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
      } else if (id) {
        googleByCode.set(id, { ...ev, calendarId });
      }
    }
  }

  for (const u of units) {
    const { leave } = u;
    const cal = calendarOf(u);
    if (!cal || !verifiedCalendars.has(cal)) continue;
    const block = blockByCode.get(u.id);
    if (inFlight.has(leave.instanceCode)) continue;
    const which = u.blockKey === '' ? {} : { block_key: u.blockKey };
    let ev: (GoogleEventSummary & { calendarId?: string }) | null | undefined = googleByCode.get(u.id);
    if (block?.state === 'present') {
      if (!ev) {
        // Not in the window's listing: ask for it by id (it may have been moved far away).
        const got = await verifier.call(`reading event ${block.eventId}`, { instance_code: leave.instanceCode, employee_id: leave.employeeId }, () =>
          calendar.getBlock(block.calendarId, leave.instanceCode, u.blockKey),
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
          employee_id: u.employeeId,
          detail: `block ${block.eventId} on ${block.calendarId}: ${problems.join('; ')}`,
          action: `Someone changed the event in Google. Queue a sync to put it back: POST /api/approvals/${leave.instanceCode}/sync (or \`leave-bridge outbox sync ${leave.instanceCode}\`).`,
          severity: 'error',
          data: { ...which, calendar_id: block.calendarId, event_id: block.eventId, google: ev ? { status: ev.status, start: ev.start?.toISOString() ?? null, end: ev.end?.toISOString() ?? null, event_type: ev.eventType } : null },
        });
      }
    } else if (leave.status === 'approved' && ev && ev.status !== 'cancelled') {
      items.push({
        category: 'google_mismatch',
        instance_code: leave.instanceCode,
        employee_id: u.employeeId,
        detail: `event ${ev.eventId} on ${cal} exists in Google (${fmt(ev.start)} → ${fmt(ev.end)}) but we record ${block ? `the block as ${block.state}` : 'no block'}`,
        action: `Our record is behind Google: queue a sync so the record is written again: POST /api/approvals/${leave.instanceCode}/sync (or \`leave-bridge outbox sync ${leave.instanceCode}\`).`,
        severity: 'warning',
        data: { ...which, calendar_id: cal, event_id: ev.eventId },
      });
    }
  }
  verifier.finish();
}

const sameInstant = (a: Date | null | undefined, b: Date | null | undefined) => (a?.getTime() ?? null) === (b?.getTime() ?? null);
const fmt = (d: Date | null | undefined) => (d ? d.toISOString() : '?');
