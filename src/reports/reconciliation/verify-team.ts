import { and, inArray } from 'drizzle-orm';
import type { Config } from '../../config.js';
import { employees, leaves, outbox, teamCalendarEvents } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import { absenceTitle, absencesOf, teamCalendarOn, teamOutboxKey, wholeDays } from '../../leave/team.js';
import { visibilitiesOf } from '../../leave/visibility.js';
import type { GoogleTeamEventSummary } from '../../ports.js';
import { addDays } from '../../shared/dates.js';
import type { Period } from '../period.js';
import type { LeaveRow } from './facts.js';
import type { DriftItem } from './types.js';
import { Verifier } from './verifier.js';

type TeamRow = typeof teamCalendarEvents.$inferSelect;

/** One team event an approved, visible absence calls for. */
interface WantedEvent {
  leave: LeaveRow;
  teamKey: string;
  employeeId: string;
  title: string;
  allDay: boolean;
}

const idOf = (instanceCode: string, teamKey: string) => `${instanceCode}\u0000${teamKey}`;
const syncAction = (code: string) =>
  `Queue a sync to write the team calendar again: POST /api/approvals/${code}/sync (or \`leave-bridge outbox sync ${code}\`).`;

/**
 * The team absence calendar against our records, like the personal blocks (verify-google.ts):
 * an approved, visible absence of the period without its team event (team_calendar_missing: not
 * recorded, or with verify=google gone from Google), an event on the team calendar that no
 * approved, visible absence explains (team_calendar_orphan), and one whose title, times or
 * all-day form differ from what we wrote (team_calendar_mismatch). Records with a team sync
 * pending or running are not judged: the drainer is about to change them. Nothing happens
 * unless GOOGLE_TEAM_CALENDAR_ID is set.
 */
export async function verifyTeamCalendar(
  deps: Pick<Deps, 'db' | 'calendar'> & { config?: Config },
  period: Period,
  scope: LeaveRow[],
  google: boolean,
  items: DriftItem[],
): Promise<void> {
  const config = deps.config;
  if (!config || !teamCalendarOn(config)) return;
  const calendarId = config.GOOGLE_TEAM_CALENDAR_ID!;
  const owner = config.GOOGLE_TEAM_CALENDAR_OWNER!;

  // Google first, so the records its events name outside the period are judged too
  let listed: GoogleTeamEventSummary[] | null = null;
  const verifier = new Verifier('google', (item) => items.push(item));
  if (google && deps.calendar) {
    const calendar = deps.calendar;
    const timeMin = new Date(Date.parse(`${period.from}T00:00:00Z`) - 86_400_000);
    const timeMax = new Date(Date.parse(`${addDays(period.to, 1)}T00:00:00Z`) + 86_400_000);
    const r = await verifier.call(`listing the team calendar ${calendarId}`, {}, () => calendar.listMarkedEventsAs(owner, calendarId, timeMin, timeMax));
    if (r.ok) listed = r.value;
  }
  const records = new Map(scope.map((l) => [l.instanceCode, l]));
  const outside = [...new Set((listed ?? []).map((e) => e.instanceCode).filter((c): c is string => c !== null && !records.has(c)))];
  if (outside.length > 0) for (const l of await deps.db.select().from(leaves).where(inArray(leaves.instanceCode, outside))) records.set(l.instanceCode, l);
  const codes = [...records.keys()];
  if (codes.length === 0 && (listed ?? []).length === 0) return;

  const [recorded, busy] = codes.length
    ? await Promise.all([
        deps.db.select().from(teamCalendarEvents).where(inArray(teamCalendarEvents.instanceCode, codes)),
        deps.db
          .select({ key: outbox.key })
          .from(outbox)
          .where(and(inArray(outbox.key, codes.map(teamOutboxKey)), inArray(outbox.status, ['pending', 'running']))),
      ])
    : [[] as TeamRow[], [] as Array<{ key: string }>];
  const inFlight = new Set(busy.map((b) => b.key.slice('team:'.length)));
  const recordOf = new Map(recorded.map((r) => [idOf(r.instanceCode, r.teamKey), r]));

  const all = [...records.values()];
  const visibility = await visibilitiesOf({ db: deps.db, config }, all);
  const people = [...new Set(all.flatMap((l) => absencesOf(l).map((a) => a.employeeId)))];
  const names = new Map<string, string | null>();
  if (people.length) for (const e of await deps.db.select({ id: employees.employeeId, name: employees.name }).from(employees).where(inArray(employees.employeeId, people))) names.set(e.id, e.name);
  const wanted = new Map<string, WantedEvent>();
  all.forEach((leave, i) => {
    const v = visibility[i]!;
    if (leave.status !== 'approved' || v === 'hidden') return;
    for (const a of absencesOf(leave)) {
      const title = absenceTitle({ name: names.get(a.employeeId) ?? null, employeeId: a.employeeId }, leave, v)!;
      wanted.set(idOf(leave.instanceCode, a.teamKey), { leave, teamKey: a.teamKey, employeeId: a.employeeId, title, allDay: wholeDays(a) !== null });
    }
  });

  const seen = new Set<string>();
  for (const ev of listed ?? []) {
    if (ev.status === 'cancelled') continue;
    const id = ev.instanceCode ? idOf(ev.instanceCode, ev.blockKey ?? '') : null;
    if (ev.instanceCode && inFlight.has(ev.instanceCode)) continue;
    const want = id ? wanted.get(id) : undefined;
    if (!want) {
      const leave = ev.instanceCode ? records.get(ev.instanceCode) : undefined;
      const why = !leave ? `no record ${ev.instanceCode ?? '(none)'} is known here` : leave.status !== 'approved' ? `${leave.kind ?? 'leave'} ${leave.instanceCode} is ${leave.status}` : `its policy hides it, or it has no absence ${JSON.stringify(ev.blockKey ?? '')}`;
      items.push({
        category: 'team_calendar_orphan',
        instance_code: ev.instanceCode,
        employee_id: leave?.employeeId ?? null,
        detail: `event ${ev.eventId} "${ev.summary}" on the team calendar is ours but ${why}`,
        action: ev.instanceCode && leave ? syncAction(ev.instanceCode) + ' The sync removes it.' : `Delete event ${ev.eventId} from ${calendarId}.`,
        severity: 'error',
        data: { calendar_id: calendarId, event_id: ev.eventId },
      });
      continue;
    }
    seen.add(id!);
    const row = recordOf.get(id!);
    const problems: string[] = [];
    if (ev.summary !== want.title) problems.push(`title differs: Google "${ev.summary}", wanted "${want.title}"`);
    if (ev.allDay !== want.allDay) problems.push(want.allDay ? 'Google has it timed, it covers whole days' : 'Google has it all-day, it is timed');
    if (row && row.state === 'present' && !want.allDay && ((ev.start?.getTime() ?? null) !== (row.startAt?.getTime() ?? null) || (ev.end?.getTime() ?? null) !== (row.endAt?.getTime() ?? null))) {
      problems.push(`times differ: Google ${ev.start?.toISOString() ?? '?'} → ${ev.end?.toISOString() ?? '?'}, we wrote ${row.startAt?.toISOString() ?? '?'} → ${row.endAt?.toISOString() ?? '?'}`);
    }
    if (problems.length > 0) {
      items.push({
        category: 'team_calendar_mismatch',
        instance_code: want.leave.instanceCode,
        employee_id: want.employeeId,
        detail: `team event ${ev.eventId}: ${problems.join('; ')}`,
        action: syncAction(want.leave.instanceCode),
        severity: 'warning',
        data: { calendar_id: calendarId, event_id: ev.eventId, team_key: want.teamKey },
      });
    }
  }

  const inPeriod = new Set(scope.map((l) => l.instanceCode));
  for (const [id, want] of wanted) {
    if (!inPeriod.has(want.leave.instanceCode) || inFlight.has(want.leave.instanceCode)) continue;
    const row = recordOf.get(id);
    const notRecorded = !row || row.state !== 'present' || row.calendarId !== calendarId;
    const goneFromGoogle = listed !== null && !seen.has(id);
    if (!notRecorded && !goneFromGoogle) continue;
    items.push({
      category: 'team_calendar_missing',
      instance_code: want.leave.instanceCode,
      employee_id: want.employeeId,
      detail: notRecorded
        ? `approved ${want.leave.kind ?? 'leave'} ${want.leave.startLocal} → ${want.leave.endLocal} has no team calendar event ("${want.title}")`
        : `team event of ${want.leave.instanceCode} ("${want.title}") is recorded but missing or deleted in Google`,
      action: syncAction(want.leave.instanceCode),
      severity: 'error',
      data: { calendar_id: calendarId, team_key: want.teamKey },
    });
  }
  verifier.finish();
}
