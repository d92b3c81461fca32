import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEAVES_PER_CHUNK, type ReconciliationReport } from '../../src/reports/reconciliation/index.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';

/*
 * The checks that look across pages of leaves, whose memory must not grow with the period:
 * duplicate_source pairs are found by the database a page at a time, so one CoreHR leave
 * overlapping more approvals than a page holds must still list each pair exactly once, in the
 * report's order, across pages of the report; unmapped_leave_type keeps a count and the first
 * approvals only. Written straight into the tables.
 */

const FROM = '2038-06-01';
const TO = '2038-06-30';
const MANY = LEAVES_PER_CHUNK + 3;

for (const backend of BACKENDS) {
  describe(`reconciliation checks across pages of leaves (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;

    const report = async (query: string): Promise<ReconciliationReport> => {
      const res = await t.admin(`/api/reconciliation?from=${FROM}&to=${TO}&category=duplicate_source${query}`);
      expect(res.status).toBe(200);
      return (await res.json()) as ReconciliationReport;
    };
    const leave = (code: string, employee: string, start: string, end: string, more: { source?: string; status?: string } = {}) =>
      db.db.execute(sql`insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, source, start_local, end_local)
        values (${code}, 'leave', ${employee}, 'Annual', 'DAY', ${more.status ?? 'approved'}, ${more.source === 'corehr' ? 'corehr' : 'v2'}, ${more.source ?? 'approval'}, ${start}, ${end})`);

    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
      // one CoreHR leave over the whole month and more one-day approvals of the same person than a page holds
      await leave('corehr-1', 'dup_u', '2038-06-01 00:00:00', '2038-07-01 00:00:00', { source: 'corehr' });
      await db.db.execute(sql`
        insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
        select 'AP-' || lpad(((i * 7919) % 100000)::text, 5, '0') || '-' || i, 'leave', 'dup_u', 'Annual', 'DAY', 'approved', 'v2',
               to_char(date '2038-06-01' + (i % 29), 'YYYY-MM-DD') || ' 00:00:00', to_char(date '2038-06-02' + (i % 29), 'YYYY-MM-DD') || ' 00:00:00'
        from generate_series(1, ${MANY}::int) as i`);
      // the edges: ends that touch, a reverted approval, someone else's approval, an approval outside the period
      await leave('corehr-2', 'dup_v', '2038-06-10 00:00:00', '2038-06-11 00:00:00', { source: 'corehr' });
      await leave('AP-touch', 'dup_v', '2038-06-09 00:00:00', '2038-06-10 00:00:00');
      await leave('AP-half', 'dup_v', '2038-06-10 12:00:00', '2038-06-12 00:00:00');
      await leave('AP-reverted', 'dup_v', '2038-06-10 00:00:00', '2038-06-11 00:00:00', { status: 'reverted' });
      await leave('AP-other', 'dup_w', '2038-06-10 00:00:00', '2038-06-11 00:00:00');
      await leave('corehr-3', 'dup_x', '2038-07-02 00:00:00', '2038-07-03 00:00:00', { source: 'corehr' });
      await leave('AP-july', 'dup_x', '2038-07-02 00:00:00', '2038-07-03 00:00:00');
    });
    afterAll(async () => {
      await db?.close();
    });

    it('lists each overlapping pair once, across pages, in CoreHR then approval code order', async () => {
      const whole = await report('&limit=5000');
      expect(whole.summary.duplicate_source).toBe(MANY + 1);
      const pairs = whole.items.map((i) => [i.data?.corehr_instance_code, i.data?.approval_instance_code]);
      expect(pairs).toHaveLength(MANY + 1);
      const approvals = pairs.filter(([c]) => c === 'corehr-1').map(([, a]) => a as string);
      expect(approvals).toEqual([...approvals].sort());
      expect(new Set(approvals).size).toBe(MANY);
      expect(pairs.at(-1)).toEqual(['corehr-2', 'AP-half']);
      expect(whole.items.at(-1)).toMatchObject({
        instance_code: 'corehr-2',
        employee_id: 'dup_v',
        data: { overlap_start: '2038-06-10 12:00:00', overlap_end: '2038-06-11 00:00:00' },
      });

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await report(`&limit=400${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.items.map((i) => JSON.stringify(i.data)));
        expect(page.summary).toEqual(whole.summary);
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen).toEqual(whole.items.map((i) => JSON.stringify(i.data)));
    });

    it('an unmapped type names its first 20 approvals by start, and counts them all', async () => {
      // a policy of another type: policies are in use
      const put = await t.admin('/api/policies/Sick%20leave?kind=leave', {
        method: 'PUT',
        body: JSON.stringify({ calendar: 'busy', visibility: 'name_only', counts_as_leave: true }),
        headers: { 'content-type': 'application/json' },
      });
      expect(put.status).toBe(200);
      // 25 approvals of a type without a policy, their codes in another order than their starts
      await db.db.execute(sql`
        insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
        select 'UN-' || lpad(((i * 7) % 25)::text, 2, '0'), 'leave', 'un_u' || i, 'Sabbatical', 'DAY', 'approved', 'v2',
               to_char(date '2038-06-02' + i, 'YYYY-MM-DD') || ' 00:00:00', to_char(date '2038-06-03' + i, 'YYYY-MM-DD') || ' 00:00:00'
        from generate_series(0, 24) as i`);
      const res = await t.admin(`/api/reconciliation?from=${FROM}&to=${TO}&category=unmapped_leave_type`);
      const { items } = (await res.json()) as ReconciliationReport;
      const sabbatical = items.find((i) => i.data?.leave_type === 'Sabbatical');
      const byStart = Array.from({ length: 25 }, (_, i) => `UN-${String((i * 7) % 25).padStart(2, '0')}`);
      expect(sabbatical).toMatchObject({ instance_code: byStart[0], data: { count: 25, leaves: byStart.slice(0, 20) } });
      expect(sabbatical?.detail).toContain('25 approvals of the period');
    });
  });
}
