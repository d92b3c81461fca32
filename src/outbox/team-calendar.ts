import { eq, sql } from 'drizzle-orm';
import { leaves, teamCalendarEvents } from '../db/schema.js';
import { employeeNames } from '../employees.js';
import { absenceTitle, absencesOf, recordOfOutboxKey, teamCalendarOn, wholeDays, type Absence } from '../leave/team.js';
import { visibilitiesOf } from '../leave/visibility.js';
import { ExternalError } from '../ports.js';
import { toInstant } from '../shared/local-time.js';
import type { HandlerDeps, HandlerOutcome, HandlerResult } from './handler-types.js';

type TeamRow = typeof teamCalendarEvents.$inferSelect;

/**
 * team_calendar.sync: bring the shared team calendar to the record's CURRENT state, like the
 * personal blocks: one event per absent person of an approved leave, out or trip whose policy does
 * not hide it, titled per visibility, all-day when it covers whole local days; none otherwise
 * (reverted, rejected, pending, hidden). Event ids are deterministic (the record's block id under
 * the key `team` / `team@<employee_id>`), so a retry after a lost answer finds its event instead of
 * making a second one, and a removal needs no record. What Google now holds is recorded in
 * team_calendar_events for the reconciliation.
 */
export async function syncTeamCalendar(deps: HandlerDeps, key: string): Promise<HandlerOutcome> {
  const instanceCode = recordOfOutboxKey(key);
  const calendarId = deps.config.GOOGLE_TEAM_CALENDAR_ID;
  const subject = deps.config.GOOGLE_TEAM_CALENDAR_OWNER;
  if (!teamCalendarOn(deps.config) || calendarId === undefined || subject === undefined) {
    return { result: { action: 'nothing', detail: 'no team calendar configured (GOOGLE_TEAM_CALENDAR_ID)' }, record: null };
  }
  const calendar = deps.calendar;
  if (!calendar) {
    throw new ExternalError('configuration', 'the team calendar needs a Google service account (GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE)');
  }
  const [leave] = await deps.db.select().from(leaves).where(eq(leaves.instanceCode, instanceCode)).limit(1);
  const recorded = await deps.db.select().from(teamCalendarEvents).where(eq(teamCalendarEvents.instanceCode, instanceCode));
  const plan = leave ? absencesOf(leave) : [];
  const [visibility] = leave ? await visibilitiesOf(deps, [leave]) : ['hidden' as const];
  const show = leave?.status === 'approved' && visibility !== 'hidden';
  const names = show ? await employeeNames(deps, plan.map((a) => a.employeeId)) : new Map<string, string | null>();
  const wanted = show
    ? plan.map((a) => ({ ...a, title: absenceTitle({ name: names.get(a.employeeId) ?? null, employeeId: a.employeeId }, leave!, visibility!)! }))
    : [];
  const byKey = new Map(recorded.map((r) => [r.teamKey, r]));
  const keys = [...new Set([...plan.map((a) => a.teamKey), ...recorded.map((r) => r.teamKey)])].sort();
  const now = deps.clock.now();
  const results: Array<HandlerResult & { block_key: string; employee_id: string | null }> = [];
  const personOf = (teamKey: string) => plan.find((a) => a.teamKey === teamKey)?.employeeId ?? byKey.get(teamKey)?.employeeId ?? null;
  const writes: Array<Omit<TeamRow, 'syncedAt'>> = [];

  for (const teamKey of keys.filter((k) => !wanted.some((w) => w.teamKey === k))) {
    const row = byKey.get(teamKey);
    if (row?.state === 'deleted' && row.calendarId === calendarId) {
      results.push({ block_key: teamKey, employee_id: personOf(teamKey), action: 'nothing', detail: 'team event already deleted' });
      continue;
    }
    // Without a record the event may still exist (the process can die between Google's answer
    // and the record): its id is deterministic, so deleting it is enough to make sure.
    const outcome = await calendar.deleteTeamEvent(row?.calendarId ?? calendarId, subject, instanceCode, teamKey);
    results.push({ block_key: teamKey, employee_id: personOf(teamKey), action: outcome, calendar_id: row?.calendarId ?? calendarId });
    if (row) writes.push({ ...row, state: 'deleted' });
  }
  for (const want of wanted) {
    const row = byKey.get(want.teamKey);
    const placed = await placeTeamEvent(deps, { calendarId, subject, zone: leave!.timezone ?? deps.config.DEFAULT_TIMEZONE }, instanceCode, want, row);
    results.push({ block_key: want.teamKey, employee_id: want.employeeId, ...placed.result });
    writes.push(placed.row);
  }
  if (writes.length > 0) await recordTeamEvents(deps, writes, now);
  results.sort((a, b) => (a.block_key < b.block_key ? -1 : a.block_key > b.block_key ? 1 : 0));
  if (results.length === 0) return { result: { action: 'nothing', detail: 'no team event wanted or recorded' }, record: null };
  if (results.length === 1) {
    const { block_key: _key, employee_id: _employee, ...only } = results[0]!;
    return { result: only, record: null };
  }
  const actions = results.map((r) => r.action);
  const action = (['created', 'updated', 'deleted', 'already_gone'] as const).find((a) => actions.includes(a)) ?? 'nothing';
  return { result: { action, blocks: results }, record: null };
}

async function placeTeamEvent(
  deps: HandlerDeps,
  where: { calendarId: string; subject: string; zone: string },
  instanceCode: string,
  want: Absence & { title: string },
  row: TeamRow | undefined,
): Promise<{ result: HandlerResult; row: Omit<TeamRow, 'syncedAt'> }> {
  const calendar = deps.calendar!;
  let start: Date;
  let end: Date;
  try {
    start = toInstant(want.startLocal, where.zone);
    end = toInstant(want.endLocal, where.zone);
  } catch (err) {
    throw new ExternalError('permanent', (err as Error).message);
  }
  if (end.getTime() <= start.getTime()) {
    throw new ExternalError('permanent', `absence ${instanceCode} ends (${want.endLocal}) no later than it starts (${want.startLocal}) in ${where.zone}`);
  }
  // the team calendar was changed in the settings: the old calendar's event must not stay behind
  let movedFrom: string | undefined;
  if (row && row.state === 'present' && row.calendarId !== where.calendarId) {
    await calendar.deleteTeamEvent(row.calendarId, where.subject, instanceCode, want.teamKey);
    movedFrom = row.calendarId;
  }
  const dates = wholeDays(want);
  const state = await calendar.upsertTeamEvent({
    instanceCode,
    teamKey: want.teamKey,
    calendarId: where.calendarId,
    subject: where.subject,
    summary: want.title,
    dates,
    start,
    end,
    timeZone: where.zone,
  });
  return {
    result: {
      action: row?.state === 'present' && !movedFrom ? 'updated' : 'created',
      calendar_id: where.calendarId,
      event_id: state.eventId,
      start: start.toISOString(),
      end: end.toISOString(),
      time_zone: where.zone,
      ...(movedFrom ? { moved_from: movedFrom } : {}),
    },
    row: {
      instanceCode,
      teamKey: want.teamKey,
      employeeId: want.employeeId,
      calendarId: where.calendarId,
      eventId: state.eventId,
      title: want.title,
      allDay: dates !== null,
      state: 'present',
      startAt: start,
      endAt: end,
    },
  };
}

async function recordTeamEvents(deps: HandlerDeps, rows: Array<Omit<TeamRow, 'syncedAt'>>, now: Date): Promise<void> {
  await deps.db
    .insert(teamCalendarEvents)
    .values(rows.map((r) => ({ ...r, syncedAt: now })))
    .onConflictDoUpdate({
      target: [teamCalendarEvents.instanceCode, teamCalendarEvents.teamKey],
      set: {
        employeeId: sql`excluded.employee_id`,
        calendarId: sql`excluded.calendar_id`,
        eventId: sql`excluded.event_id`,
        title: sql`excluded.title`,
        allDay: sql`excluded.all_day`,
        state: sql`excluded.state`,
        startAt: sql`excluded.start_at`,
        endAt: sql`excluded.end_at`,
        syncedAt: sql`excluded.synced_at`,
      },
    });
}
