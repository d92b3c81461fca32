import ical, { ICalCalendarMethod, ICalEventStatus, ICalEventTransparency } from 'ical-generator';
import { and, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { employees, leaves } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { blockEventIdFor } from '../google/ids.js';
import { absenceTitle, absencesOf, wholeDays } from '../leave/team.js';
import { BLOCKING_KINDS } from '../leave/types.js';
import { visibilitiesOf } from '../leave/visibility.js';
import { fromWallMs, toInstant } from '../shared/local-time.js';
import type { FeedView } from './tokens.js';

const DAY_MS = 86_400_000;

export type FeedDeps = Pick<Deps, 'db' | 'config' | 'clock'>;

/** A feed's calendar as text, with its ETag (a digest of the text: it changes exactly when the text does). */
export interface FeedCalendar {
  body: string;
  etag: string;
}

/**
 * The iCalendar (RFC 5545) text of a feed: the absences of its scope (everyone, one employee, or
 * the direct members of a department as the contact API last said) that overlap the window
 * (FEED_WINDOW_PAST_DAYS back, FEED_WINDOW_FUTURE_DAYS ahead of now), one VEVENT per absent person
 * per record, as the team calendar shows them (src/leave/team.ts), titled per its policy's
 * visibility; hidden ones are left out.
 *
 * - UID: the absence's team event id (deterministic), so it is stable across fetches and
 *   clients replace rather than duplicate an event.
 * - SEQUENCE: whole seconds between the record's creation and its last change, which only grows;
 *   LAST-MODIFIED and DTSTAMP: its last change, so an unchanged feed is byte-identical (ETag).
 * - A record reverted within the past window is still listed, with STATUS:CANCELLED, so a
 *   subscribed client removes it (RFC 5545 3.8.1.11).
 * - Whole local days are VALUE=DATE (DTEND exclusive); other absences are timed, in UTC.
 */
export async function buildFeed(deps: FeedDeps, feed: FeedView): Promise<FeedCalendar> {
  const now = deps.clock.now();
  const from = new Date(now.getTime() - deps.config.FEED_WINDOW_PAST_DAYS * DAY_MS);
  const to = new Date(now.getTime() + deps.config.FEED_WINDOW_FUTURE_DAYS * DAY_MS);
  // wall-clock bounds a day wider than the window: zones are at most 14 h from UTC, and the exact
  // overlap is decided below on instants
  const fromLocal = fromWallMs(from.getTime() - DAY_MS);
  const toLocal = fromWallMs(to.getTime() + DAY_MS);

  let members: Set<string> | null = null;
  const scoped: SQL[] = [];
  if (feed.scope === 'employee') {
    members = new Set([feed.target_id!]);
    scoped.push(or(sql`${leaves.employeeId} = ${feed.target_id}`, sql`${leaves.peers} @> ${JSON.stringify([feed.target_id])}::jsonb`)!);
  } else if (feed.scope === 'department') {
    const rows = await deps.db
      .select({ id: employees.employeeId })
      .from(employees)
      .where(sql`${employees.departmentIds} @> ${JSON.stringify([feed.target_id])}::jsonb`);
    members = new Set(rows.map((r) => r.id));
    if (members.size === 0) return render(feed, []);
    const ids = [...members];
    scoped.push(or(inArray(leaves.employeeId, ids), sql`${leaves.peers} ?| ${sql`array[${sql.join(ids.map((i) => sql`${i}`), sql`, `)}]::text[]`}`)!);
  }
  const recentlyReverted = new Date(now.getTime() - deps.config.FEED_WINDOW_PAST_DAYS * DAY_MS);
  const records = await deps.db
    .select()
    .from(leaves)
    .where(
      and(
        sql`coalesce(${leaves.kind}, 'leave') in ${[...BLOCKING_KINDS]}`,
        or(sql`${leaves.status} = 'approved'`, and(sql`${leaves.status} = 'reverted'`, gte(leaves.updatedAt, recentlyReverted))),
        sql`${leaves.endLocal} > ${fromLocal}`,
        lt(leaves.startLocal, toLocal),
        ...scoped,
      ),
    );
  const visibility = await visibilitiesOf(deps, records);
  const shown = records.map((r, i) => ({ record: r, visibility: visibility[i]! })).filter((x) => x.visibility !== 'hidden');
  const people = [...new Set(shown.flatMap((x) => absencesOf(x.record).map((a) => a.employeeId)))];
  const names = new Map<string, string | null>();
  if (people.length > 0) {
    for (const e of await deps.db.select({ id: employees.employeeId, name: employees.name }).from(employees).where(inArray(employees.employeeId, people))) {
      names.set(e.id, e.name);
    }
  }
  const entries: FeedEntry[] = [];
  for (const { record, visibility: v } of shown) {
    const zone = record.timezone ?? deps.config.DEFAULT_TIMEZONE;
    for (const a of absencesOf(record)) {
      if (members && !members.has(a.employeeId)) continue;
      let start: Date;
      let end: Date;
      try {
        start = toInstant(a.startLocal, zone);
        end = toInstant(a.endLocal, zone);
      } catch {
        continue; // a record that cannot be placed has no block either; the reconciliation reports it
      }
      if (end <= start || end <= from || start >= to) continue;
      entries.push({
        uid: `${blockEventIdFor(record.instanceCode, a.teamKey)}@leave-bridge`,
        summary: absenceTitle({ name: names.get(a.employeeId) ?? null, employeeId: a.employeeId }, record, v)!,
        dates: wholeDays(a),
        start,
        end,
        cancelled: record.status !== 'approved',
        sequence: Math.max(0, Math.floor((record.updatedAt.getTime() - record.createdAt.getTime()) / 1000)),
        modified: record.updatedAt,
      });
    }
  }
  entries.sort((x, y) => (x.uid < y.uid ? -1 : x.uid > y.uid ? 1 : 0));
  return render(feed, entries);
}

interface FeedEntry {
  uid: string;
  summary: string;
  dates: { first: string; afterLast: string } | null;
  start: Date;
  end: Date;
  cancelled: boolean;
  sequence: number;
  modified: Date;
}

function feedName(feed: FeedView): string {
  if (feed.scope === 'team') return 'Team absences';
  return feed.scope === 'employee' ? `Absences of ${feed.target_id}` : `Absences in department ${feed.target_id}`;
}

async function render(feed: FeedView, entries: FeedEntry[]): Promise<FeedCalendar> {
  const calendar = ical({
    name: feedName(feed),
    prodId: { company: 'leave-bridge', product: 'feeds', language: 'EN' },
    method: ICalCalendarMethod.PUBLISH,
    // how often a client should look again (REFRESH-INTERVAL / X-PUBLISHED-TTL)
    ttl: 60 * 60,
  });
  for (const e of entries) {
    calendar.createEvent({
      id: e.uid,
      summary: e.summary,
      // a whole-day absence's dates as floating dates: ical-generator writes VALUE=DATE from the UTC date
      start: e.dates ? new Date(`${e.dates.first}T00:00:00Z`) : e.start,
      end: e.dates ? new Date(`${e.dates.afterLast}T00:00:00Z`) : e.end,
      allDay: e.dates !== null,
      status: e.cancelled ? ICalEventStatus.CANCELLED : ICalEventStatus.CONFIRMED,
      transparency: ICalEventTransparency.TRANSPARENT,
      sequence: e.sequence,
      stamp: e.modified,
      lastModified: e.modified,
    });
  }
  const body = calendar.toString();
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)));
  const etag = `"${Array.from(digest.slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('')}"`;
  return { body, etag };
}

/** Whether an If-None-Match header names this ETag (a list, weak validators and `*` included; RFC 9110 13.1.2). */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
