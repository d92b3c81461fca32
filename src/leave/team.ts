import type { Config } from '../config.js';
import type { Visibility } from '../policies/body.js';
import { localDate, wallMs, type LocalDateTime } from '../shared/local-time.js';
import { BLOCKING_KINDS, type ApprovalKind } from './types.js';
import type { BlockSource } from './blocks.js';

/**
 * Who is away, as the team absence calendar and the ICS feeds show it: one entry per absent person
 * per record (a leave or an out: its requester; a trip: its requester and each peer, who travel
 * too), spanning the record's whole time away.
 */
export interface Absence {
  /** `team` for the requester, `team@<employee_id>` for a trip's peer: the team event's block key */
  teamKey: string;
  employeeId: string;
  startLocal: LocalDateTime;
  endLocal: LocalDateTime;
}

/** How much of an absence others may see: its leave type's policy (src/policies/resolve.ts). */
export type { Visibility };

/** What absencesOf reads of a record (a leaves row): what blockPlan reads. */
export type AbsenceSource = BlockSource;

export const TEAM_KEY = 'team';
/** The team calendar's outbox rows are keyed apart from the record's own calendar messages. */
export const TEAM_OUTBOX_PREFIX = 'team:';
export const TEAM_OUTBOX_KIND = 'team_calendar.sync';

/** The team calendar is on: both settings are set (config.ts checks they come together). */
export const teamCalendarOn = (config: Pick<Config, 'GOOGLE_TEAM_CALENDAR_ID' | 'GOOGLE_TEAM_CALENDAR_OWNER'>): boolean =>
  config.GOOGLE_TEAM_CALENDAR_ID !== undefined && config.GOOGLE_TEAM_CALENDAR_OWNER !== undefined;

/** The outbox key of a record's team calendar sync, and back. */
export const teamOutboxKey = (instanceCode: string): string => TEAM_OUTBOX_PREFIX + instanceCode;
export const recordOfOutboxKey = (key: string): string => (key.startsWith(TEAM_OUTBOX_PREFIX) ? key.slice(TEAM_OUTBOX_PREFIX.length) : key);

/** Keys a change woke, with their team sync's keys when the team calendar is on. */
export function withTeamKeys(config: Pick<Config, 'GOOGLE_TEAM_CALENDAR_ID' | 'GOOGLE_TEAM_CALENDAR_OWNER'>, keys: string[]): string[] {
  return teamCalendarOn(config) ? [...keys, ...keys.map(teamOutboxKey)] : keys;
}

/**
 * The absences a record describes, whatever its status (a reverted record's are the ones to
 * remove). Other kinds (overtime, remedy, shift) are no absence. A record of unknown kind (only a
 * revert known) is treated as a leave, as its calendar block is.
 */
export function absencesOf(record: AbsenceSource): Absence[] {
  const kind = (record.kind ?? 'leave') as ApprovalKind;
  if (!BLOCKING_KINDS.includes(kind) || record.employeeId === null) return [];
  let start = record.startLocal;
  let end = record.endLocal;
  if (kind === 'trip' && record.segments && record.segments.length > 0) {
    // the whole trip, from its first segment's start to its last segment's end
    start = record.segments.map((s) => s[0]).reduce((a, b) => (wallMs(b) < wallMs(a) ? b : a));
    end = record.segments.map((s) => s[1]).reduce((a, b) => (wallMs(b) > wallMs(a) ? b : a));
  }
  if (start === null || end === null) return [];
  const people = kind === 'trip' ? [record.employeeId, ...(record.peers ?? []).filter((p) => p !== record.employeeId)] : [record.employeeId];
  return [...new Set(people)].map((employeeId, i) => ({
    teamKey: i === 0 ? TEAM_KEY : `${TEAM_KEY}@${employeeId}`,
    employeeId,
    startLocal: start,
    endLocal: end,
  }));
}

const MIDNIGHT = ' 00:00:00';

/**
 * The local dates [first, afterLast) of an absence that covers whole local days (starts and ends
 * at local midnight), else null: it is then shown at its times.
 */
export function wholeDays(a: Pick<Absence, 'startLocal' | 'endLocal'>): { first: string; afterLast: string } | null {
  if (!a.startLocal.endsWith(MIDNIGHT) || !a.endLocal.endsWith(MIDNIGHT)) return null;
  if (wallMs(a.endLocal) <= wallMs(a.startLocal)) return null;
  return { first: localDate(a.startLocal), afterLast: localDate(a.endLocal) };
}

const KIND_LABEL: Record<string, string> = { leave: 'Leave', out: 'Out', trip: 'Business trip' };

/**
 * A team event's or feed entry's title: "Alice — Annual leave" (name_and_type), "Bob — away"
 * (name_only); null when hidden. The name is the contact API's, else the employee id.
 */
export function absenceTitle(
  who: { name: string | null; employeeId: string },
  what: { kind: string | null; leaveType: string | null },
  visibility: Visibility,
): string | null {
  if (visibility === 'hidden') return null;
  const name = who.name?.trim() || who.employeeId;
  if (visibility === 'name_only') return `${name} — away`;
  const type = what.leaveType?.trim() || KIND_LABEL[what.kind ?? 'leave'] || 'Leave';
  return `${name} — ${type}`;
}
