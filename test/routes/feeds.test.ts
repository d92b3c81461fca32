import ICAL from 'ical.js';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { employees, feeds } from '../../src/db/schema.js';
import { authenticateFeed, tokenDigest, type FeedAuthProbe } from '../../src/feeds/tokens.js';
import { DateTime } from 'luxon';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1, leaveRevert, tripApproval } from '../support/feishu.js';

/** What an independent parser (ical.js, as in Thunderbird) reads from a feed. */
interface Parsed {
  uid: string;
  summary: string;
  status: string | null;
  sequence: number;
  allDay: boolean;
  start: ICAL.Time;
  end: ICAL.Time;
}

function parse(text: string): { name: unknown; events: Parsed[] } {
  const cal = new ICAL.Component(ICAL.parse(text));
  return {
    name: cal.getFirstPropertyValue('x-wr-calname'),
    events: cal.getAllSubcomponents('vevent').map((v) => {
      const e = new ICAL.Event(v);
      return {
        uid: e.uid,
        summary: e.summary,
        status: (v.getFirstPropertyValue('status') as string | null) ?? null,
        sequence: e.sequence,
        allDay: e.startDate.isDate,
        start: e.startDate,
        end: e.endDate,
      };
    }),
  };
}

const localDateIn = (t: ICAL.Time, zone: string) => DateTime.fromJSDate(t.toJSDate(), { zone }).toFormat('yyyy-MM-dd HH:mm');

for (const backend of BACKENDS) {
  describe(`ICS feeds (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    let now = Date.parse('2026-12-01T00:00:00Z');
    const clock = { now: () => new Date(now) };
    const c = {
      days: `FEED-DAYS-${process.pid}`,
      hours: `FEED-HOURS-${process.pid}`,
      sick: `FEED-SICK-${process.pid}`,
      bob: `FEED-BOB-${process.pid}`,
      far: `FEED-FAR-${process.pid}`,
      reverted: `FEED-REV-${process.pid}`,
      trip: `FEED-TRIP-${process.pid}`,
    };
    // signed at the test clock's time: the webhook checks timestamps against it
    const send = async (body: string) => expect((await t.post(await encryptedRequest(body, { timestamp: Math.floor(now / 1000) }))).status).toBe(200);
    const create = async (body: unknown) => {
      const res = await t.admin('/api/feeds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, string> };
    };
    const fetchFeed = (url: string, headers: Record<string, string> = {}) => t.app.request(url.replace(/^https?:\/\/[^/]+/, ''), { headers });

    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db, { clock, env: { PUBLIC_URL: 'https://leave.example.com' } });
      // Alice works in Tokyo: her leave is placed there, whatever the service's default zone
      await t.admin('/api/employees/u_alice', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ timezone: 'Asia/Tokyo' }) });
      await t.admin('/api/policies/Annual%20leave', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ calendar: 'outOfOffice', visibility: 'name_and_type' }),
      });
      await t.admin('/api/policies/Sick%20leave', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ calendar: 'outOfOffice', visibility: 'hidden' }) });
      await send(leaveApprovalV1({ instanceCode: c.days, employeeId: 'u_alice', start: '2026-12-10 00:00:00', end: '2026-12-12 00:00:00', unit: 'DAY', interval: 2 * 86400 }));
      await send(leaveApprovalV1({ instanceCode: c.hours, employeeId: 'u_alice', start: '2026-12-15 01:00:00', end: '2026-12-15 05:00:00', unit: 'HOUR', interval: 4 * 3600 }));
      await send(leaveApprovalV1({ instanceCode: c.sick, employeeId: 'u_alice', leaveName: 'Sick leave', start: '2026-12-03 00:00:00', end: '2026-12-04 00:00:00' }));
      await send(leaveApprovalV1({ instanceCode: c.bob, employeeId: 'u_bob', openId: 'ou_bob', leaveName: 'Home office', start: '2026-12-07 09:00:00', end: '2026-12-07 18:00:00', unit: 'HOUR', interval: 9 * 3600 }));
      await send(leaveApprovalV1({ instanceCode: c.far, employeeId: 'u_bob', openId: 'ou_bob', start: '2028-06-01 00:00:00', end: '2028-06-02 00:00:00' }));
      await send(leaveApprovalV1({ instanceCode: c.reverted, employeeId: 'u_bob', openId: 'ou_bob', start: '2026-12-20 00:00:00', end: '2026-12-21 00:00:00' }));
      await send(
        tripApproval({
          instanceCode: c.trip,
          employeeId: 'u_dan',
          peers: ['u_carol'],
          schedules: [{ start: '2026-12-22 09:00:00', end: '2026-12-23 18:00:00', interval: '172800' }],
        }),
      );
      // names and departments as the contact API gave them
      await db.db.update(employees).set({ name: 'Alice' }).where(eq(employees.employeeId, 'u_alice'));
      await db.db.update(employees).set({ name: 'Bob', departmentIds: ['od_eng'] }).where(eq(employees.employeeId, 'u_bob'));
    });
    afterAll(async () => {
      await db?.close();
    });

    it('the team feed: whole days as dates, hours at their instants, hidden types left out, the window applied', async () => {
      const made = await create({ scope: 'team' });
      expect(made.status).toBe(201);
      expect(made.json.url).toMatch(/^https:\/\/leave\.example\.com\/feeds\/team\.ics\?token=[A-Za-z0-9_-]{43}$/);
      const res = await fetchFeed(made.json.url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
      const { name, events } = parse(await res.text());
      expect(name).toBe('Team absences');
      // two of Alice's, two of Bob's (home office has no policy: name only), the trip of Dan and his peer
      // Carol (no names known: their ids); not the sick leave, not 2028
      expect(events.map((e) => e.summary).sort()).toEqual(['Alice — Annual leave', 'Alice — Annual leave', 'Bob — Annual leave', 'Bob — away', 'u_carol — away', 'u_dan — away']);

      const days = events.find((e) => e.allDay)!;
      expect(days.summary).toBe('Alice — Annual leave');
      expect(days.start.toString()).toBe('2026-12-10');
      expect(days.end.toString()).toBe('2026-12-12');

      // 01:00–05:00 in Tokyo is 16:00–20:00 UTC the day before: the instants are right, and a
      // reader in Tokyo sees the 15th, one in UTC the 14th
      const hours = events.find((e) => e.summary === 'Alice — Annual leave' && !e.allDay)!;
      expect(hours.start.toJSDate().toISOString()).toBe('2026-12-14T16:00:00.000Z');
      expect(hours.end.toJSDate().toISOString()).toBe('2026-12-14T20:00:00.000Z');
      expect(localDateIn(hours.start, 'Asia/Tokyo')).toBe('2026-12-15 01:00');
      expect(localDateIn(hours.start, 'America/New_York')).toBe('2026-12-14 11:00');

      // UIDs are stable: the same feed fetched again names the same events
      const again = parse(await (await fetchFeed(made.json.url!)).text());
      expect(again.events.map((e) => e.uid).sort()).toEqual(events.map((e) => e.uid).sort());
      expect(new Set(events.map((e) => e.uid)).size).toBe(events.length);
    });

    it('a revert becomes STATUS:CANCELLED with a higher SEQUENCE; an unchanged feed answers 304', async () => {
      const made = await create({ scope: 'employee', id: 'u_bob' });
      const first = await fetchFeed(made.json.url!);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      const before = parse(await first.text()).events;
      expect(before.map((e) => e.summary).sort()).toEqual(['Bob — Annual leave', 'Bob — away']);
      const was = before.find((e) => e.allDay)!;
      expect(was.status).toBe('CONFIRMED');

      const unchanged = await fetchFeed(made.json.url!, { 'if-none-match': etag });
      expect(unchanged.status).toBe(304);
      expect(await unchanged.text()).toBe('');

      now += 3_600_000;
      await send(leaveRevert({ instanceCode: c.reverted }));
      const changed = await fetchFeed(made.json.url!, { 'if-none-match': etag });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(etag);
      const after = parse(await changed.text()).events;
      const cancelled = after.find((e) => e.uid === was.uid)!;
      expect(cancelled.status).toBe('CANCELLED');
      expect(cancelled.sequence).toBeGreaterThan(was.sequence);

      // long after the revert it is no longer listed
      now += 40 * 86_400_000;
      const later = parse(await (await fetchFeed(made.json.url!)).text()).events;
      expect(later.find((e) => e.uid === was.uid)).toBeUndefined();
      now -= 40 * 86_400_000;
    });

    it('a department feed lists its members only; an employee feed only that employee', async () => {
      const dept = await create({ scope: 'department', id: 'od_eng' });
      const events = parse(await (await fetchFeed(dept.json.url!)).text()).events;
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.summary.startsWith('Bob'))).toBe(true);
      // a trip's peer travels too: the trip is in her feed, as her absence
      const carol = await create({ scope: 'employee', id: 'u_carol' });
      const hers = parse(await (await fetchFeed(carol.json.url!)).text()).events;
      expect(hers.map((e) => [e.summary, e.start.toJSDate().toISOString()])).toEqual([['u_carol — away', '2026-12-22T01:00:00.000Z']]);
      const alice = await create({ scope: 'employee', id: 'u_alice' });
      expect(parse(await (await fetchFeed(alice.json.url!)).text()).events.every((e) => e.summary.startsWith('Alice'))).toBe(true);
    });

    it('revoked → 404; a wrong token or another feed’s token → 404; odd characters → 400 naming the token', async () => {
      const made = await create({ scope: 'team' });
      const url = made.json.url!;
      expect((await fetchFeed(url)).status).toBe(200);
      const token = new URL(url).searchParams.get('token')!;
      // another feed's path with this token
      const other = await fetchFeed(`/feeds/employees/u_alice.ics?token=${token}`);
      expect(other.status).toBe(404);
      const wrong = await fetchFeed(`/feeds/team.ics?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`);
      expect(wrong.status).toBe(404);
      expect(await wrong.json()).toMatchObject({ error: { code: 'feed_not_found' } });
      const odd = await fetchFeed(`/feeds/team.ics?token=${encodeURIComponent('abc<script>')}`);
      expect(odd.status).toBe(400);
      expect(await odd.json()).toMatchObject({ error: { code: 'invalid_query', message: expect.stringContaining('token') } });
      expect((await fetchFeed('/feeds/team.ics')).status).toBe(400);
      // the admin token opens no feed
      expect((await t.admin('/feeds/team.ics')).status).toBe(400);

      const del = await t.admin(`/api/feeds/${made.json.id}`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toMatchObject({ id: made.json.id, revoked_at: expect.any(String) });
      expect((await fetchFeed(url)).status).toBe(404);
      expect((await t.admin('/api/feeds/00000000-0000-4000-8000-000000000000', { method: 'DELETE' })).status).toBe(404);
    });

    it('a wrong token does the same work as a right one: one digest, one lookup, one comparison', async () => {
      const made = await create({ scope: 'team' });
      const token = new URL(made.json.url!).searchParams.get('token')!;
      const work = () => {
        const steps: string[] = [];
        const probe: FeedAuthProbe = { digest: () => steps.push('digest'), lookup: () => steps.push('lookup'), compare: () => steps.push('compare') };
        return { steps, probe };
      };
      const right = work();
      const wrong = work();
      expect(await authenticateFeed(db.db, { scope: 'team', targetId: null, token }, right.probe)).not.toBeNull();
      expect(await authenticateFeed(db.db, { scope: 'team', targetId: null, token: `${token.startsWith('x') ? 'y' : 'x'}${token.slice(1)}` }, wrong.probe)).toBeNull();
      expect(wrong.steps).toEqual(['digest', 'lookup', 'compare']);
      expect(right.steps).toEqual(wrong.steps);
      // only the digest is stored
      const stored = await db.db.select().from(feeds).where(eq(feeds.id, made.json.id!));
      expect(stored[0]!.tokenHash).toBe(await tokenDigest(token));
      expect(JSON.stringify(stored)).not.toContain(token);
    });

    it('GET /api/feeds lists feeds without their tokens; bad bodies get 400 naming the field', async () => {
      const made = await create({ scope: 'employee', id: 'u_alice' });
      const token = new URL(made.json.url!).searchParams.get('token')!;
      const list = await (await t.admin('/api/feeds')).text();
      expect(list).toContain(made.json.id);
      expect(list).not.toContain(token);
      expect(JSON.parse(list).items[0]).not.toHaveProperty('url');
      expect(await create({ scope: 'team', id: 'x' })).toMatchObject({ status: 400, json: { error: { code: 'invalid_body', message: expect.stringContaining('id') } } });
      expect(await create({ scope: 'employee' })).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('id') } } });
      expect(await create({ scope: 'company' })).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('scope') } } });
      expect(await create({ scope: 'employee', id: 'a b' })).toMatchObject({ status: 400, json: { error: { message: expect.stringContaining('id') } } });
      // audited
      const audit = (await (await t.admin('/api/audit?action=feed.create')).json()) as { items: Array<{ target: string }> };
      expect(audit.items.map((i) => i.target)).toContain(made.json.id);
    });
  });
}
