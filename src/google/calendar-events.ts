/** Our events as Google stores them: request bodies, the wanted-state checks, and what a stored event reads back as. */
import type { calendar_v3 } from '@googleapis/calendar';
import type { BlockState, GoogleEventSummary, TeamEventState, WantedBlock, WantedTeamEvent } from '../ports.js';
import { blockEventIdFor, blockFromEventId } from './ids.js';

export type Event = calendar_v3.Schema$Event;

/** Our private marker: listMarkedEvents filters on it, reconciliation reads instanceCode back. */
export const MARKER_KEY = 'leaveBridge';
export const MARKER_VALUE = '1';

export type BlockType = BlockState['eventType'];

/** A hold or a plain (busy, free) block: a default event from the start, with this look. */
export const defaultLook = (block: WantedBlock) => block.hold ?? block.plain;

export function eventBody(block: WantedBlock, id: string, type: BlockType): Event {
  const event: Event = {
    id,
    eventType: type,
    status: 'confirmed',
    ...fields(block, type),
  };
  // A stand-in default event would otherwise ring the user's default reminders before their leave.
  if (type === 'default') event.reminders = { useDefault: false, overrides: [] };
  return event;
}

/** The fields we own on an existing event (a patch leaves anything else a user added alone). */
export function fields(block: WantedBlock, type: BlockType): Event {
  const event: Event = {
    summary: block.summary,
    start: { dateTime: block.start.toISOString(), timeZone: block.timeZone },
    end: { dateTime: block.end.toISOString(), timeZone: block.timeZone },
    transparency: defaultLook(block)?.transparency ?? 'opaque',
    extendedProperties: { private: markerOf(block) },
  };
  if (type === 'outOfOffice') {
    event.outOfOfficeProperties = { autoDeclineMode: block.declineMode, declineMessage: block.declineMessage };
  }
  return event;
}

/** Our private properties: the marker, the record, and the block's key when it has one. */
function markerOf(block: WantedBlock): Record<string, string> {
  const marker: Record<string, string> = { [MARKER_KEY]: MARKER_VALUE, instanceCode: block.instanceCode };
  if (block.blockKey) marker.blockKey = block.blockKey;
  return marker;
}

function instant(t: calendar_v3.Schema$EventDateTime | undefined): Date | null {
  const text = t?.dateTime ?? t?.date;
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

export function isWanted(event: Event, block: WantedBlock, type: BlockType): boolean {
  const priv = event.extendedProperties?.private ?? {};
  return (
    event.status === 'confirmed' &&
    instant(event.start)?.getTime() === block.start.getTime() &&
    instant(event.end)?.getTime() === block.end.getTime() &&
    event.start?.timeZone === block.timeZone &&
    event.end?.timeZone === block.timeZone &&
    (event.summary ?? '') === block.summary &&
    // Google leaves transparency out of responses when it is the default, "opaque".
    (event.transparency ?? 'opaque') === (defaultLook(block)?.transparency ?? 'opaque') &&
    priv[MARKER_KEY] === MARKER_VALUE &&
    priv.instanceCode === block.instanceCode &&
    (priv.blockKey ?? '') === (block.blockKey ?? '') &&
    (type !== 'outOfOffice' ||
      (event.outOfOfficeProperties?.autoDeclineMode === block.declineMode &&
        (event.outOfOfficeProperties?.declineMessage ?? '') === block.declineMessage))
  );
}

export function stateOf(event: Event, block: WantedBlock, fallbackReason: string | null): BlockState {
  const eventType: BlockType = event.eventType === 'outOfOffice' ? 'outOfOffice' : 'default';
  return {
    eventId: event.id ?? blockEventIdFor(block.instanceCode, block.blockKey ?? ''),
    eventType,
    fallbackReason:
      eventType === 'default' && !defaultLook(block)
        ? fallbackReason ?? 'Google stored a default event although an out-of-office event was requested'
        : null,
    start: instant(event.start) ?? block.start,
    end: instant(event.end) ?? block.end,
  };
}

export function summaryOf(event: Event): GoogleEventSummary {
  const id = event.id ?? '';
  const fromId = blockFromEventId(id);
  const priv = event.extendedProperties?.private;
  return {
    eventId: id,
    instanceCode: priv?.instanceCode ?? fromId?.instanceCode ?? null,
    ...blockKeyOf(priv?.blockKey ?? fromId?.blockKey ?? ''),
    status: event.status ?? 'confirmed',
    eventType: event.eventType ?? 'default',
    start: instant(event.start),
    end: instant(event.end),
  };
}

/**
 * A team calendar event: default and transparent (the calendar's owner is not the one away), no
 * reminders, all-day dates or times in the absence's zone, and our marker with the record and key.
 */
export function teamFields(event: WantedTeamEvent): Event {
  return {
    summary: event.summary,
    start: event.dates ? { date: event.dates.first } : { dateTime: event.start.toISOString(), timeZone: event.timeZone },
    end: event.dates ? { date: event.dates.afterLast } : { dateTime: event.end.toISOString(), timeZone: event.timeZone },
    transparency: 'transparent',
    reminders: { useDefault: false, overrides: [] },
    extendedProperties: { private: { [MARKER_KEY]: MARKER_VALUE, instanceCode: event.instanceCode, blockKey: event.teamKey } },
  };
}

export function isWantedTeam(existing: Event, event: WantedTeamEvent): boolean {
  const priv = existing.extendedProperties?.private ?? {};
  const sameTimes = event.dates
    ? existing.start?.date === event.dates.first && existing.end?.date === event.dates.afterLast && !existing.start?.dateTime
    : instant(existing.start)?.getTime() === event.start.getTime() &&
      instant(existing.end)?.getTime() === event.end.getTime() &&
      existing.start?.timeZone === event.timeZone &&
      !existing.start?.date;
  return (
    existing.status === 'confirmed' &&
    sameTimes &&
    (existing.summary ?? '') === event.summary &&
    existing.transparency === 'transparent' &&
    priv[MARKER_KEY] === MARKER_VALUE &&
    priv.instanceCode === event.instanceCode &&
    priv.blockKey === event.teamKey
  );
}

export const teamStateOf = (existing: Event, event: WantedTeamEvent, id: string): TeamEventState => ({
  eventId: existing.id ?? id,
  start: instant(existing.start) ?? event.start,
  end: instant(existing.end) ?? event.end,
});

/** A record's single block has no key worth saying. */
const blockKeyOf = (key: string): { blockKey?: string } => (key === '' ? {} : { blockKey: key });
