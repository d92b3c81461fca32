import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseServiceAccountKey } from '../../src/google/auth.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { eventIdFor, instanceCodeFromEventId } from '../../src/google/ids.js';
import { nodeFetch } from '../../src/google/node-fetch.js';
import type { CalendarPort, WantedBlock } from '../../src/ports.js';
import { googleError, startFakeGoogle, type FakeGoogle, type FaultKind } from '../fakes/google.js';
import { rejection } from '../support/errors.js';

let google: FakeGoogle;
let port: CalendarPort;
let n = 0;
let calendarId: string;

const newCalendar = () => `employee-${++n}@example.com`;
const code = () => `81D31358-93AF-92D6-7425-${String(++n).padStart(12, '0')}`;

function block(overrides: Partial<WantedBlock> = {}): WantedBlock {
  return {
    instanceCode: code(),
    calendarId,
    start: new Date('2024-09-05T01:00:00Z'),
    end: new Date('2024-09-05T10:00:00Z'),
    timeZone: 'Asia/Shanghai',
    summary: 'Out of office',
    declineMode: 'declineOnlyNewConflictingInvitations',
    declineMessage: 'On leave',
    ...overrides,
  };
}

const callsOn = (cal: string) => google.calls.filter((c) => c.calendarId === cal);
const live = (cal: string) => google.events(cal).filter((e) => e.status !== 'cancelled');

/**
 * Every test runs over both transports the adapter is given: the platform fetch (Workers, and
 * where no transport is passed) and undici's request API, which `serve` uses on Node.
 */
const TRANSPORTS: Array<[string, typeof fetch | undefined]> = [
  ['platform fetch', undefined],
  ['undici request (Node)', nodeFetch],
];

for (const [transportName, transport] of TRANSPORTS) {
  describe(`Google Calendar adapter over ${transportName}`, () => {
    const calendarOn = (g: FakeGoogle, timeoutMs: number) =>
      createGoogleCalendar({ key: parseServiceAccountKey(g.serviceAccountJson), baseUrl: g.url, timeoutMs, ...(transport ? { fetch: transport } : {}) });

    beforeAll(async () => {
      google = await startFakeGoogle({ pageSize: 2 });
      port = calendarOn(google, 10_000);
    });
    afterAll(() => google.close());
    beforeEach(() => {
      google.faults.clear();
      calendarId = newCalendar();
    });

    describe('event ids', () => {
      it('are base32hex, 5..1024 chars, deterministic, distinct and reversible', () => {
        const a = eventIdFor('81D31358-93AF-92D6-7425-01A5D67C4E71');
        expect(a).toMatch(/^[a-v0-9]{5,1024}$/);
        expect(eventIdFor('81D31358-93AF-92D6-7425-01A5D67C4E71')).toBe(a);
        expect(eventIdFor('81d31358-93af-92d6-7425-01a5d67c4e71')).not.toBe(a);
        expect(instanceCodeFromEventId(a)).toBe('81D31358-93AF-92D6-7425-01A5D67C4E71');
        expect(instanceCodeFromEventId(eventIdFor('事假-1'))).toBe('事假-1');
        expect(instanceCodeFromEventId('abcdefgh')).toBeNull();
        expect(() => eventIdFor('x'.repeat(700))).toThrow(RangeError);
      });
    });

    describe('upsertBlock', () => {
      it('inserts an out-of-office event under the deterministic id, acting as the employee', async () => {
        const b = block();
        const state = await port.upsertBlock(b);
        expect(state).toEqual({ eventId: eventIdFor(b.instanceCode), eventType: 'outOfOffice', fallbackReason: null, start: b.start, end: b.end });
        const [event, ...others] = google.events(calendarId);
        expect(others).toEqual([]);
        expect(event).toMatchObject({
          id: eventIdFor(b.instanceCode),
          status: 'confirmed',
          eventType: 'outOfOffice',
          transparency: 'opaque',
          summary: 'Out of office',
          start: { dateTime: '2024-09-05T01:00:00.000Z', timeZone: 'Asia/Shanghai' },
          end: { dateTime: '2024-09-05T10:00:00.000Z', timeZone: 'Asia/Shanghai' },
          outOfOfficeProperties: { autoDeclineMode: 'declineOnlyNewConflictingInvitations', declineMessage: 'On leave' },
          extendedProperties: { private: { leaveBridge: '1', instanceCode: b.instanceCode } },
        });
        expect(callsOn(calendarId)).toMatchObject([{ op: 'insert', status: 200, subject: calendarId }]);
      });

      it('repeating the same block writes nothing more (409 → get → already as wanted)', async () => {
        const b = block();
        const first = await port.upsertBlock(b);
        const before = callsOn(calendarId).length;
        expect(await port.upsertBlock(b)).toEqual(first);
        expect(google.events(calendarId)).toHaveLength(1);
        expect(callsOn(calendarId).slice(before).map((c) => `${c.op} ${c.status}`)).toEqual(['insert 409', 'get 200']);
      });

      it('changed times update the same event', async () => {
        const b = block();
        await port.upsertBlock(b);
        const later = { ...b, start: new Date('2024-09-06T01:00:00Z'), end: new Date('2024-09-06T05:30:00Z'), declineMessage: 'Back Monday' };
        const state = await port.upsertBlock(later);
        expect(state).toMatchObject({ eventType: 'outOfOffice', start: later.start, end: later.end, fallbackReason: null });
        const events = google.events(calendarId);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          start: { dateTime: '2024-09-06T01:00:00.000Z' },
          end: { dateTime: '2024-09-06T05:30:00.000Z' },
          outOfOfficeProperties: { declineMessage: 'Back Monday' },
          sequence: 1,
        });
      });

      it('a cancelled event (reverted, then approved again) is restored under the same id', async () => {
        const b = block();
        await port.upsertBlock(b);
        expect(await port.deleteBlock(calendarId, b.instanceCode)).toBe('deleted');
        expect(google.events(calendarId)[0]?.status).toBe('cancelled');
        const state = await port.upsertBlock(b);
        expect(state.eventType).toBe('outOfOffice');
        const events = google.events(calendarId);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ status: 'confirmed', eventType: 'outOfOffice' });
      });

      it('edits and deletions made behind our back are undone', async () => {
        const b = block();
        await port.upsertBlock(b);
        const id = eventIdFor(b.instanceCode);
        google.alterEvent(calendarId, id, { summary: 'Holiday!', outOfOfficeProperties: { autoDeclineMode: 'declineNone' } });
        await port.upsertBlock(b);
        expect(google.event(calendarId, id)).toMatchObject({ summary: 'Out of office', outOfOfficeProperties: { autoDeclineMode: 'declineOnlyNewConflictingInvitations' } });
        google.cancelEvent(calendarId, id);
        await port.upsertBlock(b);
        expect(google.event(calendarId, id)?.status).toBe('confirmed');
      });

      it('where Google refuses out-of-office, an opaque default event stands in and says why', async () => {
        google.refuseOutOfOffice(calendarId);
        const b = block();
        const state = await port.upsertBlock(b);
        expect(state.eventType).toBe('default');
        expect(state.fallbackReason).toMatch(/400 eventTypeRestriction: Out of office events can only be created/);
        const events = google.events(calendarId);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ id: eventIdFor(b.instanceCode), eventType: 'default', transparency: 'opaque', status: 'confirmed' });
        expect(events[0]).not.toHaveProperty('outOfOfficeProperties');
        expect(callsOn(calendarId).map((c) => `${c.op} ${c.status}`)).toEqual(['insert 400', 'insert 200']);

        // A retry finds the default event (409) and keeps it: still one event, still a fallback.
        const again = await port.upsertBlock(b);
        expect(again.eventType).toBe('default');
        expect(again.fallbackReason).not.toBeNull();
        expect(google.events(calendarId)).toHaveLength(1);
      });

      it('a default stand-in stays default after the refusal is lifted (eventType never changes), but follows the leave', async () => {
        google.refuseOutOfOffice(calendarId);
        const b = block();
        await port.upsertBlock(b);
        google.refuseOutOfOffice(calendarId, false);
        const moved = { ...b, end: new Date('2024-09-05T12:00:00Z') };
        const state = await port.upsertBlock(moved);
        expect(state).toMatchObject({ eventType: 'default', end: moved.end });
        expect(state.fallbackReason).toMatch(/type cannot change/);
        const events = google.events(calendarId);
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ eventType: 'default', end: { dateTime: '2024-09-05T12:00:00.000Z' } });
      });

      it('an event of another type under our id is a permanent failure, not a silent change', async () => {
        const b = block();
        google.putEvent(calendarId, {
          id: eventIdFor(b.instanceCode),
          eventType: 'focusTime',
          start: { dateTime: b.start.toISOString() },
          end: { dateTime: b.end.toISOString() },
        });
        const err = await rejection(port.upsertBlock(b));
        expect(err.failure).toBe('permanent');
        expect(err.message).toContain('focusTime');
      });
    });

    describe('deleteBlock / getBlock', () => {
      it('delete cancels; a second delete (410) and an unknown one (404) are already_gone', async () => {
        const b = block();
        await port.upsertBlock(b);
        expect(await port.deleteBlock(calendarId, b.instanceCode)).toBe('deleted');
        expect(await port.deleteBlock(calendarId, b.instanceCode)).toBe('already_gone');
        expect(await port.deleteBlock(calendarId, code())).toBe('already_gone');
        expect(callsOn(calendarId).filter((c) => c.op === 'delete').map((c) => c.status)).toEqual([204, 410, 404]);
        expect(google.events(calendarId).map((e) => e.status)).toEqual(['cancelled']);
      });

      it('getBlock reads our event back, cancelled ones included; unknown → null', async () => {
        const b = block();
        await port.upsertBlock(b);
        expect(await port.getBlock(calendarId, b.instanceCode)).toEqual({
          eventId: eventIdFor(b.instanceCode),
          instanceCode: b.instanceCode,
          status: 'confirmed',
          eventType: 'outOfOffice',
          start: b.start,
          end: b.end,
        });
        await port.deleteBlock(calendarId, b.instanceCode);
        expect(await port.getBlock(calendarId, b.instanceCode)).toMatchObject({ status: 'cancelled' });
        expect(await port.getBlock(calendarId, code())).toBeNull();
      });
    });

    describe('listMarkedEvents', () => {
      it('pages through every marked event overlapping the window, skipping cancelled and foreign ones', async () => {
        const day = (d: number, h0: number, h1: number) => ({
          start: new Date(Date.UTC(2024, 8, d, h0)),
          end: new Date(Date.UTC(2024, 8, d, h1)),
        });
        const inside = [day(2, 1, 10), day(3, 1, 10), day(4, 1, 10), day(5, 1, 10), day(6, 22, 30)].map((t) => block(t));
        for (const b of inside) await port.upsertBlock(b);
        const outside = block(day(20, 1, 10));
        await port.upsertBlock(outside);
        const reverted = block(day(4, 1, 3));
        await port.upsertBlock(reverted);
        await port.deleteBlock(calendarId, reverted.instanceCode);
        google.putEvent(calendarId, {
          id: 'someoneelses1',
          summary: 'Dentist',
          start: { dateTime: '2024-09-03T02:00:00Z' },
          end: { dateTime: '2024-09-03T03:00:00Z' },
        });
        const before = callsOn(calendarId).length;

        const found = await port.listMarkedEvents(calendarId, new Date('2024-09-01T00:00:00Z'), new Date('2024-09-07T00:00:00Z'));

        expect(found.map((e) => e.instanceCode).sort()).toEqual(inside.map((b) => b.instanceCode).sort());
        expect(found.every((e) => e.status === 'confirmed' && e.eventType === 'outOfOffice')).toBe(true);
        expect(found.find((e) => e.instanceCode === inside[4]!.instanceCode)).toMatchObject({ start: inside[4]!.start, end: inside[4]!.end });
        // pageSize 2 on the fake → five events take three pages.
        expect(callsOn(calendarId).slice(before).map((c) => `${c.op} ${c.status}`)).toEqual(['list 200', 'list 200', 'list 200']);
      });
    });

    describe('failure classification', () => {
      const transientKinds: FaultKind[] = ['http500', 'http503', 'reset'];

      it.each(transientKinds)('%s → transient, with no retry hidden inside the library', async (kind) => {
        google.faults.add({ op: 'insert', calendarId, fault: kind });
        const err = await rejection(port.upsertBlock(block()));
        expect(err.failure).toBe('transient');
        expect(callsOn(calendarId).map((c) => c.op)).toEqual(['insert']);
      });

      it.each(['http429', 'rateLimitExceeded', 'userRateLimitExceeded'] as const)('%s → rate_limited, with no retry hidden inside the library', async (kind) => {
        google.faults.add({ op: 'insert', calendarId, fault: kind });
        const err = await rejection(port.upsertBlock(block()));
        expect(err.failure).toBe('rate_limited');
        expect(err.retryAfterMs).toBeUndefined();
        expect(callsOn(calendarId).map((c) => c.op)).toEqual(['insert']);
      });

      it('Retry-After in seconds or as an HTTP date → retryAfterMs', async () => {
        google.faults.add({ op: 'insert', calendarId, fault: { ...googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'), headers: { 'retry-after': '7' } } });
        expect(await rejection(port.upsertBlock(block()))).toMatchObject({ failure: 'rate_limited', status: 429, retryAfterMs: 7000 });
        const at = new Date(Date.now() + 30_000).toUTCString();
        google.faults.add({ op: 'insert', calendarId, fault: { ...googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded', 'usageLimits'), headers: { 'retry-after': at } } });
        const err = await rejection(port.upsertBlock(block()));
        expect(err).toMatchObject({ failure: 'rate_limited', status: 403, reason: 'userRateLimitExceeded' });
        expect(err.retryAfterMs).toBeGreaterThan(25_000);
        expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
      });

      it('quotaExceeded (Calendar usage limits, hours long) stays transient', async () => {
        google.faults.add({ op: 'insert', calendarId, fault: googleError(403, 'quotaExceeded', 'Calendar usage limits exceeded.', 'usageLimits') });
        expect(await rejection(port.upsertBlock(block()))).toMatchObject({ failure: 'transient', status: 403 });
      });

      it('503 on a GET (which gaxios would retry by default) is one request and transient', async () => {
        google.faults.add({ op: 'get', calendarId, fault: 'http503' });
        const err = await rejection(port.getBlock(calendarId, code()));
        expect(err).toMatchObject({ failure: 'transient', status: 503 });
        expect(callsOn(calendarId)).toHaveLength(1);
      });

      it('a hang longer than the client timeout → transient', async () => {
        const impatient = calendarOn(google, 300);
        google.faults.add({ op: 'insert', calendarId, fault: 'hang' });
        const err = await rejection(impatient.upsertBlock(block()));
        expect(err.failure).toBe('transient');
        expect(err.message).toContain('timed out');
      });

      it('other 4xx → permanent, naming status and Google’s reason', async () => {
        google.faults.add({ op: 'insert', calendarId, fault: googleError(400, 'invalid', 'Invalid start time.'), times: Infinity });
        const err = await rejection(port.upsertBlock(block()));
        expect(err).toMatchObject({ failure: 'permanent', status: 400, reason: 'invalid' });
        expect(err.message).toMatch(/400 invalid: Invalid start time\./);

        google.faults.clear();
        google.faults.add({ op: 'delete', calendarId, fault: googleError(403, 'forbiddenForNonOrganizer', 'Shared properties can only be changed by the organizer of the event.') });
        const forbidden = await rejection(port.deleteBlock(calendarId, code()));
        expect(forbidden).toMatchObject({ failure: 'permanent', status: 403 });
      });

      it('a 403 saying the Calendar API is disabled → configuration', async () => {
        google.faults.add({ op: 'list', calendarId, fault: googleError(403, 'accessNotConfigured', 'Google Calendar API has not been used in project 1 before or it is disabled.', 'usageLimits') });
        const err = await rejection(port.listMarkedEvents(calendarId, new Date('2024-09-01'), new Date('2024-09-02')));
        expect(err.failure).toBe('configuration');
      });

      it('a revoked token is replaced once, transparently', async () => {
        await port.getBlock(calendarId, code());
        google.revokeTokens();
        const b = block();
        await port.upsertBlock(b);
        expect(live(calendarId)).toHaveLength(1);
        const ops = google.calls.filter((c) => c.calendarId === calendarId || (c.op === 'token' && c.subject === calendarId));
        expect(ops.map((c) => `${c.op} ${c.status}`)).toEqual(['token 200', 'get 404', 'insert 401', 'token 200', 'insert 200']);
      });

      it('401 that persists with a fresh token → configuration', async () => {
        google.faults.add({ op: 'insert', calendarId, fault: googleError(401, 'authError', 'Invalid Credentials'), times: 2 });
        const err = await rejection(port.upsertBlock(block()));
        expect(err).toMatchObject({ failure: 'configuration', status: 401 });
        expect(callsOn(calendarId).map((c) => c.op)).toEqual(['insert', 'insert']);
      });

      it('a refused token (user outside the domain) → configuration, before any calendar call', async () => {
        google.denySubject(calendarId);
        const err = await rejection(port.upsertBlock(block()));
        expect(err).toMatchObject({ failure: 'configuration', reason: 'invalid_grant' });
        expect(callsOn(calendarId)).toEqual([]);
      });
    });

    describe('writes whose response was lost after Google committed them', () => {
      it.each(['http500', 'reset', 'hang'] as const)('insert committed, answer %s, retried → exactly one event', async (kind) => {
        const impatient = calendarOn(google, 400);
        const b = block();
        google.faults.add({ op: 'insert', calendarId, fault: kind, when: 'after' });
        const err = await rejection(impatient.upsertBlock(b));
        expect(err.failure).toBe('transient');
        expect(google.events(calendarId)).toHaveLength(1); // Google has it; we did not hear

        const state = await impatient.upsertBlock(b);
        expect(state).toMatchObject({ eventType: 'outOfOffice', fallbackReason: null });
        expect(google.events(calendarId)).toHaveLength(1);
        expect(callsOn(calendarId).map((c) => `${c.op} ${c.status}`)).toEqual([`insert ${kind === 'http500' ? 500 : kind}`, 'insert 409', 'get 200']);
        expect(callsOn(calendarId).map((c) => c.committed)).toEqual([true, false, true]);
      });

      it('delete committed, answer 503, retried → already_gone, event cancelled once', async () => {
        const b = block();
        await port.upsertBlock(b);
        google.faults.add({ op: 'delete', calendarId, fault: 'http503', when: 'after' });
        expect((await rejection(port.deleteBlock(calendarId, b.instanceCode))).failure).toBe('transient');
        expect(await port.deleteBlock(calendarId, b.instanceCode)).toBe('already_gone');
        expect(google.events(calendarId).map((e) => e.status)).toEqual(['cancelled']);
      });

      it('under random faults (seeded), retrying until success leaves exactly the wanted events', async () => {
        const chaos = await startFakeGoogle({ seed: 42, pageSize: 3 });
        try {
          const adapter = calendarOn(chaos, 400);
          chaos.faults.random({ rate: 0.4 });
          const calendars = [newCalendar(), newCalendar()];
          const blocks = Array.from({ length: 8 }, (_, i) =>
            block({ calendarId: calendars[i % 2]!, start: new Date(Date.UTC(2024, 8, 2 + i, 1)), end: new Date(Date.UTC(2024, 8, 2 + i, 10)) }),
          );
          const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
            for (let attempt = 1; ; attempt++) {
              try {
                return await fn();
              } catch (err) {
                // Only transient failures and rate limits may come out of injected faults.
                expect(['transient', 'rate_limited']).toContain((err as { failure?: string }).failure);
                if (attempt >= 40) throw err;
              }
            }
          };
          for (const b of blocks) await retry(() => adapter.upsertBlock(b));
          // Move two, delete two: the same ids must carry every change.
          for (const b of blocks.slice(0, 2)) await retry(() => adapter.upsertBlock({ ...b, end: new Date(b.end.getTime() + 3_600_000) }));
          for (const b of blocks.slice(6)) await retry(() => adapter.deleteBlock(b.calendarId, b.instanceCode));
          const listed = await retry(() => adapter.listMarkedEvents(calendars[0]!, new Date('2024-09-01'), new Date('2024-10-01')));

          expect(chaos.calls.some((c) => c.fault !== undefined && c.committed)).toBe(true);
          chaos.faults.clear();
          for (const cal of calendars) {
            const mine = blocks.filter((b) => b.calendarId === cal);
            const events = chaos.events(cal);
            expect(events.map((e) => e.id).sort()).toEqual(mine.map((b) => eventIdFor(b.instanceCode)).sort());
            for (const b of mine) {
              const e = chaos.event(cal, eventIdFor(b.instanceCode))!;
              const i = blocks.indexOf(b);
              expect(e.status).toBe(i >= 6 ? 'cancelled' : 'confirmed');
              expect(e.eventType).toBe('outOfOffice');
              const end = i < 2 ? new Date(b.end.getTime() + 3_600_000) : b.end;
              expect(e.end).toMatchObject({ dateTime: end.toISOString() });
            }
          }
          expect(listed.map((e) => e.instanceCode).sort()).toEqual(
            blocks.filter((b, i) => b.calendarId === calendars[0] && i < 6).map((b) => b.instanceCode).sort(),
          );
        } finally {
          await chaos.close();
        }
      });
    });
  });
}
