/**
 * CalendarPort on Google Calendar through @googleapis/calendar, acting as each employee (domain-wide
 * delegation, subject = calendarId = their email, i.e. their primary calendar).
 *
 * Library behaviour this relies on (googleapis-common 8 / gaxios 7, read from their sources):
 * - With no `auth` client, createAPIRequest sends the request through a bare Gaxios, so the bearer
 *   token goes in per-request `headers`; no OAuth2Client (which would try to refresh near expiry).
 * - `retry` defaults to true there, and gaxios then retries GET/PUT/DELETE on 429/5xx/network by
 *   itself. We set `retry: false`: the outbox retries with its own backoff, and every failure must
 *   reach it classified (docs/architecture.md, failure classes).
 * - gaxios on Node defaults to node-fetch; we hand it the platform fetch (`fetchImplementation`), so
 *   the same code runs on Workers and tests can inject one.
 * - The per-method URL is `options.rootUrl + '/calendar/v3/…'`; a rootUrl set globally is instead
 *   re-resolved with `new URL(path, rootUrl)`, which drops any path prefix. So rootUrl is passed
 *   per call, and a GOOGLE_CALENDAR_BASE_URL behind a path-prefixing proxy works too.
 */
import { calendar as calendarApi } from '@googleapis/calendar';
import {
  ExternalError,
  type BlockState,
  type CalendarPort,
  type WantedBlock,
} from '../ports.js';
import { createServiceAccountAuth, type AccessTokenSource, type ServiceAccountKey } from './auth.js';
import { classify, hasStatus, isEventTypeRefusal, quotaScopeOf, type GoogleApiError, type QuotaScope } from './calendar-errors.js';
import {
  MARKER_KEY,
  MARKER_VALUE,
  defaultLook,
  eventBody,
  fields,
  isWanted,
  isWantedTeam,
  stateOf,
  summaryOf,
  teamFields,
  teamStateOf,
  type BlockType,
  type Event,
} from './calendar-events.js';
import { base32hex, blockEventIdFor } from './ids.js';

export interface GoogleCalendarOptions {
  key: ServiceAccountKey;
  /** GOOGLE_CALENDAR_BASE_URL, e.g. https://www.googleapis.com/ or a fake's url */
  baseUrl: string;
  fetch?: typeof fetch;
  /** per HTTP request (token requests too); a hang beyond it is a transient failure */
  timeoutMs?: number;
  /** share one token cache between adapters; built from `key` when absent */
  auth?: AccessTokenSource;
  /** clock for token expiry (tests) */
  now?: () => number;
  /** paces every Calendar API call to the quota (src/outbox/pacing.ts); none: unpaced */
  pacer?: CallPacer;
}

/**
 * Takes a token of the project's and of the user's quota before each Calendar API call, and hears
 * when Google refused one anyway (another client of the project, or a quota lower than configured).
 */
export interface CallPacer {
  take(subject: string): Promise<void>;
  refused(subject: string, scope: QuotaScope, retryAfterMs: number | undefined): Promise<void>;
}

const MAX_PAGES = 1000;

/** What inserting an out-of-office event showed about an account (`leave-bridge doctor --write-probe`). */
export type OutOfOfficeProbe =
  | { outOfOffice: true; deleted: true }
  /** accepted, but the probe could not be deleted: `eventId` is left on the calendar */
  | { outOfOffice: true; deleted: false; eventId: string; error: string }
  /** Google refused the event type (consumer account, not a primary calendar, policy) */
  | { outOfOffice: false; refusal: string };

export interface GoogleCalendar extends CalendarPort {
  /**
   * Insert an out-of-office event on `calendarId` and delete it again. It lies a month ahead,
   * lasts 30 minutes and declines nothing, so it changes no meeting while it exists.
   */
  probeOutOfOffice(calendarId: string, now?: Date): Promise<OutOfOfficeProbe>;
}

export function createGoogleCalendar(opts: GoogleCalendarOptions): GoogleCalendar {
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const auth = opts.auth ?? createServiceAccountAuth(opts.key, { fetch: doFetch, timeoutMs, now: opts.now });
  const api = calendarApi({ version: 'v3', retry: false, timeout: timeoutMs, fetchImplementation: doFetch });
  const rootUrl = opts.baseUrl;
  const pacer = opts.pacer;

  /**
   * One API call as `subject`. A 401 means our cached token went bad early (revoked, key rotated):
   * drop it and try once more with a fresh one: the request was refused, so repeating it is safe.
   * A second 401 is a setup problem ('configuration').
   */
  async function call<T>(
    subject: string,
    what: string,
    send: (options: { rootUrl: string; headers: Record<string, string> }) => Promise<{ data: T }>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const token = await auth.token(subject);
      await pacer?.take(subject);
      try {
        const res = await send({ rootUrl, headers: { authorization: `Bearer ${token}` } });
        return res.data;
      } catch (err) {
        const failure = classify(err, what);
        if (failure.failure === 'rate_limited' && pacer) await pacer.refused(subject, quotaScopeOf(failure), failure.retryAfterMs);
        if (failure.status === 401) {
          auth.invalidate(subject, token);
          if (attempt === 1) continue;
        }
        throw failure;
      }
    }
  }

  const insert = (block: WantedBlock, id: string, type: BlockType) =>
    call(block.calendarId, `insert ${type} event ${id} on ${block.calendarId}`, (o) =>
      api.events.insert({ calendarId: block.calendarId, requestBody: eventBody(block, id, type) }, o),
    );

  /**
   * The id exists (our earlier attempt committed even if its response was lost, or the leave was
   * reverted and is now approved again: deleted events live on as "cancelled" and keep their id).
   * Bring it to the wanted state with a patch, which also restores a cancelled one.
   *
   * eventType cannot change after creation. An existing default event (an earlier out-of-office
   * refusal) therefore stays default and keeps reporting a fallbackReason, rather than being
   * replaced under a second id: two ids per leave would break the one-leave-one-block guarantee
   * and the idempotency of every retry.
   */
  async function bringExisting(block: WantedBlock, id: string, knownFallback: string | null): Promise<BlockState> {
    let existing: Event;
    try {
      existing = await call(block.calendarId, `get event ${id} on ${block.calendarId}`, (o) =>
        api.events.get({ calendarId: block.calendarId, eventId: id }, o),
      );
    } catch (err) {
      if (hasStatus(err, 404, 410)) {
        throw new ExternalError('transient', `event ${id} on ${block.calendarId} answered 409 duplicate on insert but is not found`, 404);
      }
      throw err;
    }
    const type = existing.eventType ?? 'default';
    if (type !== 'outOfOffice' && type !== 'default') {
      throw new ExternalError(
        'permanent',
        `event ${id} on ${block.calendarId} exists as a ${type} event; an event's type cannot change after creation`,
        409,
        'eventTypeMismatch',
      );
    }
    const fallbackReason =
      type === 'outOfOffice' || defaultLook(block)
        ? null
        : knownFallback ??
          `event ${id} already exists as a default event (Google refused out-of-office earlier); an event's type cannot change after creation`;
    if (isWanted(existing, block, type)) return stateOf(existing, block, fallbackReason);
    const patched = await call(block.calendarId, `patch event ${id} on ${block.calendarId}`, (o) =>
      api.events.patch(
        { calendarId: block.calendarId, eventId: id, requestBody: { ...fields(block, type), status: 'confirmed' } },
        o,
      ),
    );
    return stateOf(patched, block, fallbackReason);
  }

  /** Our events (the private marker) on a calendar between two times, every page, acting as `subject`. */
  async function listMarked(subject: string, calendarId: string, timeMin: Date, timeMax: Date): Promise<Event[]> {
    const out: Event[] = [];
    let pageToken: string | undefined;
    for (let page = 1; ; page++) {
      if (page > MAX_PAGES) throw new ExternalError('permanent', `list events on ${calendarId}: more than ${MAX_PAGES} pages`);
      const data = await call(subject, `list events on ${calendarId}`, (o) =>
        api.events.list(
          {
            calendarId,
            privateExtendedProperty: [`${MARKER_KEY}=${MARKER_VALUE}`],
            timeMin: timeMin.toISOString(),
            timeMax: timeMax.toISOString(),
            singleEvents: true,
            showDeleted: false,
            maxResults: 250,
            pageToken,
          },
          o,
        ),
      );
      out.push(...(data.items ?? []));
      pageToken = data.nextPageToken ?? undefined;
      if (!pageToken) return out;
    }
  }

  return {
    async probeOutOfOffice(calendarId, now = new Date()) {
      // not one of our leave ids (those start with "lb"): reconciliation never takes it for a block
      const id = `doctorprobe${base32hex(crypto.getRandomValues(new Uint8Array(10)))}`;
      const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000 + 30 * 86_400_000);
      const end = new Date(start.getTime() + 30 * 60_000);
      const requestBody: Event = {
        id,
        eventType: 'outOfOffice',
        summary: 'leave-bridge doctor probe (safe to delete)',
        start: { dateTime: start.toISOString(), timeZone: 'UTC' },
        end: { dateTime: end.toISOString(), timeZone: 'UTC' },
        transparency: 'opaque',
        outOfOfficeProperties: { autoDeclineMode: 'declineNone' },
      };
      try {
        await call(calendarId, `insert out-of-office probe ${id} on ${calendarId}`, (o) =>
          api.events.insert({ calendarId, requestBody, sendUpdates: 'none' }, o),
        );
      } catch (err) {
        if (isEventTypeRefusal(err)) return { outOfOffice: false, refusal: `${err.status} ${err.reason ?? ''}: ${err.googleMessage}` };
        throw err;
      }
      try {
        await call(calendarId, `delete out-of-office probe ${id} on ${calendarId}`, (o) =>
          api.events.delete({ calendarId, eventId: id, sendUpdates: 'none' }, o),
        );
        return { outOfOffice: true, deleted: true };
      } catch (err) {
        return { outOfOffice: true, deleted: false, eventId: id, error: (err as Error).message };
      }
    },

    async upsertBlock(block) {
      const id = blockEventIdFor(block.instanceCode, block.blockKey ?? '');
      if (defaultLook(block)) {
        // a hold, or a busy or free block, is a default event from the start: it never declines anything
        try {
          return stateOf(await insert(block, id, 'default'), block, null);
        } catch (err) {
          if (hasStatus(err, 409)) return bringExisting(block, id, null);
          throw err;
        }
      }
      let refusal: GoogleApiError;
      try {
        return stateOf(await insert(block, id, 'outOfOffice'), block, null);
      } catch (err) {
        if (hasStatus(err, 409)) return bringExisting(block, id, null);
        if (!isEventTypeRefusal(err)) throw err;
        refusal = err;
      }
      const fallbackReason = `Google refused an out-of-office event (${refusal.status} ${refusal.reason ?? ''}: ${refusal.googleMessage}); an opaque default event stands in`;
      try {
        return stateOf(await insert(block, id, 'default'), block, fallbackReason);
      } catch (err) {
        if (hasStatus(err, 409)) return bringExisting(block, id, fallbackReason);
        throw err;
      }
    },

    async upsertTeamEvent(event) {
      const id = blockEventIdFor(event.instanceCode, event.teamKey);
      const where = `team event ${id} on ${event.calendarId}`;
      try {
        const created = await call(event.subject, `insert ${where}`, (o) =>
          api.events.insert({ calendarId: event.calendarId, requestBody: { id, eventType: 'default', status: 'confirmed', ...teamFields(event) }, sendUpdates: 'none' }, o),
        );
        return teamStateOf(created, event, id);
      } catch (err) {
        if (!hasStatus(err, 409)) throw err;
      }
      // It exists (an earlier attempt committed, or a reverted absence approved again: a deleted
      // event lives on as cancelled and keeps its id): a patch brings it back to the wanted state.
      let existing: Event;
      try {
        existing = await call(event.subject, `get ${where}`, (o) => api.events.get({ calendarId: event.calendarId, eventId: id }, o));
      } catch (err) {
        if (hasStatus(err, 404, 410)) throw new ExternalError('transient', `${where} answered 409 duplicate on insert but is not found`, 404);
        throw err;
      }
      if (isWantedTeam(existing, event)) return teamStateOf(existing, event, id);
      // all-day and timed are exclusive: a patch must clear the other form, which null does
      const times = event.dates
        ? { start: { date: event.dates.first, dateTime: null, timeZone: null }, end: { date: event.dates.afterLast, dateTime: null, timeZone: null } }
        : { start: { date: null, dateTime: event.start.toISOString(), timeZone: event.timeZone }, end: { date: null, dateTime: event.end.toISOString(), timeZone: event.timeZone } };
      const patched = await call(event.subject, `patch ${where}`, (o) =>
        api.events.patch(
          { calendarId: event.calendarId, eventId: id, sendUpdates: 'none', requestBody: { ...teamFields(event), ...times, status: 'confirmed' } },
          o,
        ),
      );
      return teamStateOf(patched, event, id);
    },

    async deleteTeamEvent(calendarId, subject, instanceCode, teamKey) {
      const id = blockEventIdFor(instanceCode, teamKey);
      try {
        await call(subject, `delete team event ${id} on ${calendarId}`, (o) => api.events.delete({ calendarId, eventId: id, sendUpdates: 'none' }, o));
        return 'deleted';
      } catch (err) {
        if (hasStatus(err, 404, 410)) return 'already_gone';
        throw err;
      }
    },

    async listMarkedEventsAs(subject, calendarId, timeMin, timeMax) {
      const events = await listMarked(subject, calendarId, timeMin, timeMax);
      return events.map((event) => ({ ...summaryOf(event), summary: event.summary ?? '', allDay: typeof event.start?.date === 'string' && !event.start?.dateTime }));
    },

    async deleteBlock(calendarId, instanceCode, blockKey = '') {
      const id = blockEventIdFor(instanceCode, blockKey);
      try {
        await call(calendarId, `delete event ${id} on ${calendarId}`, (o) =>
          api.events.delete({ calendarId, eventId: id }, o),
        );
        return 'deleted';
      } catch (err) {
        // 410: deleted before (it lives on as "cancelled"); 404: never made. Either way: gone.
        if (hasStatus(err, 404, 410)) return 'already_gone';
        throw err;
      }
    },

    async getBlock(calendarId, instanceCode, blockKey = '') {
      const id = blockEventIdFor(instanceCode, blockKey);
      try {
        const event = await call(calendarId, `get event ${id} on ${calendarId}`, (o) =>
          api.events.get({ calendarId, eventId: id }, o),
        );
        return summaryOf(event);
      } catch (err) {
        if (hasStatus(err, 404, 410)) return null;
        throw err;
      }
    },

    async listMarkedEvents(calendarId, timeMin, timeMax) {
      return (await listMarked(calendarId, calendarId, timeMin, timeMax)).map(summaryOf);
    },
  };
}
