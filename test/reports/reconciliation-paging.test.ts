import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAVES_PER_CHUNK, type DriftItem, type ReconciliationReport } from '../../src/reports/reconciliation/index.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';

/*
 * Paging of the reconciliation report: more leaves than one chunk of the report reads at a time,
 * drift of several categories (leaves with no block and nothing queued, queued and dead calendar
 * work, people without an address, quarantined events), written straight into the tables.
 */

const FROM = '2038-06-01';
const TO = '2038-06-30';
const LEAVES = LEAVES_PER_CHUNK + 137;

async function seed(db: TestDatabase, from: number, count: number, prefix = 'PG'): Promise<void> {
  // codes in an order unrelated to the start dates, so the chunks (by start) and the report (by code) differ
  await db.db.execute(sql`
    insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
    select ${prefix} || '-' || lpad(((i * 7919) % 100000)::text, 5, '0') || '-' || i, 'leave', 'pg_u' || (i % 40), 'Annual', 'DAY', 'approved', 'v2',
           to_char(date '2038-06-01' + (i % 29), 'YYYY-MM-DD') || ' 00:00:00', to_char(date '2038-06-02' + (i % 29), 'YYYY-MM-DD') || ' 00:00:00'
    from generate_series(${from}::int, ${from + count - 1}::int) as i`);
}

for (const backend of BACKENDS) {
  describe(`reconciliation paging (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;

    const report = async (query: string): Promise<ReconciliationReport> => {
      const res = await t.admin(`/api/reconciliation?from=${FROM}&to=${TO}${query}`);
      expect(res.status).toBe(200);
      return (await res.json()) as ReconciliationReport;
    };
    /** Every page from the first, `limit` items each (and `between` run after each page). */
    const allPages = async (query: string, limit: number, between?: (page: number) => Promise<void>) => {
      const pages: ReconciliationReport[] = [];
      let cursor: string | null = null;
      do {
        const page = await report(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(page);
        expect(page.items.length).toBeLessThanOrEqual(limit);
        cursor = page.next_cursor;
        if (cursor) expect(page.items.length).toBe(limit);
        await between?.(pages.length);
      } while (cursor);
      return pages;
    };
    // an item, without what changes as time passes (a pending message's age)
    const id = (i: DriftItem) => {
      const { age_seconds: _age, ...data } = i.data ?? {};
      return JSON.stringify([i.category, i.instance_code, i.employee_id, data]);
    };

    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
      await seed(db, 1, LEAVES);
      // everyone has an address but pg_u7
      await db.db.execute(sql`insert into employees (employee_id, email, fetched_at) select 'pg_u' || i, case when i = 7 then null else 'pg' || i || '@example.com' end, now() from generate_series(0, 39) as i`);
      // queued work on some leaves, dead work on others (each also has no block: calendar_missing too)
      await db.db.execute(sql`insert into outbox (key, kind, status, attempts, last_error)
        select instance_code, 'calendar.upsert', case when n % 2 = 0 then 'pending' else 'dead' end, 3, 'boom'
        from (select instance_code, row_number() over (order by instance_code) as n from leaves where instance_code like 'PG-%') l where n % 11 = 0`);
      for (let i = 0; i < 5; i++) {
        await db.db.execute(sql`insert into inbox_events (event_key, event_type, source, instance_code, status, reason)
          values (${`q-${i}`}, 'leave_approvalV2', 'webhook', ${i % 2 ? null : `PG-Q-${i}`}, 'quarantined', 'unusable')`);
      }
    });
    afterAll(async () => {
      await db?.close();
    });

    it('pages return every item exactly once, in the report’s order, with the complete summary on every page', async () => {
      const whole = await report(`&limit=5000`);
      expect(whole.next_cursor).toBeNull();
      expect(whole.summary.leaves_checked).toBe(LEAVES);
      expect(whole.summary.total).toBe(whole.items.length);
      // every leave lacks its block; those with work still queued are pending, not missing
      expect(whole.summary.calendar_missing).toBe(LEAVES - whole.summary.calendar_pending);
      expect(whole.summary.calendar_pending).toBeGreaterThan(0);
      expect(whole.summary.calendar_dead).toBeGreaterThan(0);
      expect(whole.summary.employee_without_email).toBe(1);
      expect(whole.summary.quarantined_event).toBe(5);
      expect(whole.by_severity.error + whole.by_severity.warning + whole.by_severity.info).toBe(whole.summary.total);

      const pages = await allPages('', 97);
      const items = pages.flatMap((p) => p.items);
      expect(items.map(id)).toEqual(whole.items.map(id));
      expect(new Set(items.map(id)).size).toBe(items.length);
      for (const p of pages) expect(p.summary).toEqual(whole.summary);

      // the default page
      const first = await report('');
      expect(first.items).toHaveLength(500);
      expect(first.next_cursor).not.toBeNull();
    });

    it('a category filter pages that category only; the summary still counts everything', async () => {
      const whole = await report(`&limit=5000`);
      for (const category of ['calendar_dead', 'quarantined_event', 'employee_without_email'] as const) {
        const pages = await allPages(`&category=${category}`, 3);
        expect(pages.flatMap((p) => p.items).map(id)).toEqual(whole.items.filter((i) => i.category === category).map(id));
        expect(pages[0]!.summary).toEqual(whole.summary);
      }
    });

    it('items that appear between pages: each old item still exactly once, a new one once when after the cursor', async () => {
      const before = (await report(`&limit=5000&category=calendar_missing`)).items.map((i) => i.instance_code!);
      let added: string[] = [];
      const pages = await allPages('&category=calendar_missing', 400, async (n) => {
        if (n !== 1) return;
        // new leaves whose codes sort before, among and after what the first page listed
        await db.db.execute(sql`insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
          values ('PG-00000-new', 'leave', 'pg_u1', 'Annual', 'DAY', 'approved', 'v2', '2038-06-03 00:00:00', '2038-06-04 00:00:00'),
                 ('PG-zzzzz-new', 'leave', 'pg_u1', 'Annual', 'DAY', 'approved', 'v2', '2038-06-03 00:00:00', '2038-06-04 00:00:00')`);
        added = ['PG-00000-new', 'PG-zzzzz-new'];
      });
      const seen = pages.flatMap((p) => p.items.map((i) => i.instance_code!));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((c) => !added.includes(c))).toEqual(before);
      // before the first page's cursor: not listed (it was not there when that page was read); after it: listed once
      expect(seen).not.toContain('PG-00000-new');
      expect(seen.filter((c) => c === 'PG-zzzzz-new')).toHaveLength(1);
      expect(pages.at(-1)!.summary.calendar_missing).toBe(before.length + 2);
      await db.db.execute(sql`delete from leaves where instance_code like 'PG-%-new'`);
    });

    it('a bad limit, cursor or category is a 400 naming the field', async () => {
      for (const [query, field] of [
        ['&limit=0', 'limit'],
        ['&limit=5001', 'limit'],
        ['&limit=ten', 'limit'],
        ['&cursor=not-a-cursor', 'cursor'],
        [`&cursor=${Buffer.from('[99,null,0,0]').toString('base64url')}`, 'cursor'],
        ['&category=calendar_lost', 'category'],
      ]) {
        const res = await t.admin(`/api/reconciliation?from=${FROM}&to=${TO}${query}`);
        expect(res.status, query).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toBe('invalid_query');
        expect(body.error.message).toMatch(new RegExp(`^${field}`));
      }
    });

    it('the dashboard: counts per category, the first items of each, and a page per category from there', async () => {
      const whole = await report(`&limit=5000`);
      const page = await t.admin(`/dashboard?from=${FROM}&to=${TO}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain(`data-testid="count-calendar_missing" href="/dashboard/drift?from=${FROM}&amp;to=${TO}&amp;category=calendar_missing"`);
      expect(html.match(/<tr class="drift-row" data-category="calendar_missing"/g)).toHaveLength(10);
      expect(html.match(/<tr class="drift-row" data-category="quarantined_event"/g)).toHaveLength(5);
      const more = /href="(\/dashboard\/drift\?[^"]*category=calendar_missing[^"]*cursor=[^"]+)" data-testid="more-calendar_missing">(\d+) more/.exec(html);
      expect(more).not.toBeNull();
      expect(Number(more![2])).toBe(whole.summary.calendar_missing - 10);
      expect(html).not.toContain('data-testid="more-quarantined_event"');

      // the rest of the category, a page at a time, from the dashboard's link on
      const missing = whole.items.filter((i) => i.category === 'calendar_missing').map((i) => i.instance_code);
      const listed: string[] = [];
      let next: string | null = more![1]!.replace(/&amp;/g, '&');
      while (next) {
        const res = await t.admin(next);
        expect(res.status).toBe(200);
        const body = await res.text();
        listed.push(...[...body.matchAll(/<tr class="drift-row" data-category="calendar_missing" data-instance="([^"]+)"/g)].map((m) => m[1]!));
        next = /href="([^"]+)" data-testid="drift-next"/.exec(body)?.[1]?.replace(/&amp;/g, '&') ?? null;
      }
      expect(listed).toEqual(missing.slice(10));
    });
  });
}
