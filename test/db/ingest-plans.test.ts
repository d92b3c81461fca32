import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDelivery as plan } from '../../src/feishu/inbound.js';
import { UNIT_INFO } from '../../src/leave/types.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';

/**
 * The plans Postgres picks for the statements inside leave_bridge_apply, on tables autovacuum has
 * not analyzed yet: a new install, or the first minute of a backfill. With no statistics the
 * planner once ANDed attendance_days' active-date index into the lookup of one leave's active days,
 * reading every active day of every leave, per event (ingest slowed down as the table grew). The
 * plans are read from auto_explain, sent back to this connection as notices.
 */
describe('ingest plans on tables never analyzed (Postgres)', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const notices: string[] = [];

  beforeAll(async () => {
    db = await createPostgresDatabase();
    sql = postgres(db.url!, { max: 1, onnotice: (n) => notices.push(String(n.message)) });
    for (const table of ['attendance_days', 'leaves', 'outbox', 'employees', 'inbox_events']) {
      await sql.unsafe(`alter table ${table} set (autovacuum_enabled = false)`);
    }
    // Other leaves' active days, 20,000 of them, over a year of dates.
    await sql`
      insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status)
      select 'OTHER-' || (i / 2), 'u_other', date '2030-01-01' + (i % 365), 1, 'day', 1, 'active'
      from generate_series(1, 20000) i`;
    // and 20,000 deliveries stored before, of 10,000 leaves of 2,000 employees
    await sql`
      insert into inbox_events (event_key, event_type, source, instance_code, status, payload, received_at)
      select 'other-' || i, 'leave_approvalV2', 'webhook', 'OTHER-' || i, 'applied', '{}'::jsonb, now()
      from generate_series(1, 20000) i`;
    await sql`insert into employees (employee_id, updated_at) select 'u_other' || i, now() from generate_series(1, 2000) i`;
    await sql`
      insert into leaves (instance_code, employee_id, status, detail_source, revision)
      select 'OTHER-' || i, 'u_other' || (i % 2000), 'approved', 'v2', 1 from generate_series(1, 10000) i`;
    await sql`load 'auto_explain'`;
    await sql`set auto_explain.log_min_duration = 0`;
    await sql`set auto_explain.log_nested_statements = on`;
    await sql`set auto_explain.log_level = notice`;
  });
  afterAll(async () => {
    await sql?.end();
    await db?.close();
  });

  /** leave_bridge_apply, as ingest and replay call it; returns the plans of its statements */
  const apply = async (body: string): Promise<string[]> => {
    const { event } = JSON.parse(body) as { event: { type: string } };
    const planned = plan({ eventType: event.type, event });
    if (planned.status !== 'applied') throw new Error(`not applicable: ${JSON.stringify(planned)}`);
    const ev = planned.event;
    notices.length = 0;
    await sql`select leave_bridge_apply(${JSON.stringify(ev)}::text::jsonb, ${JSON.stringify(planned.days ?? [])}::text::jsonb,
      ${ev.kind === 'approve' ? UNIT_INFO[ev.unit!].base : null}::text, now(), 'Asia/Shanghai')`;
    return notices.filter((n) => n.includes('attendance_days'));
  };

  // plpgsql plans a statement for its arguments the first few times, then settles on a generic plan
  for (const mode of ['force_custom_plan', 'force_generic_plan']) {
    it(`re-allocation and revert read and write only the leave's own active days (${mode})`, async () => {
      await sql.unsafe(`set plan_cache_mode = ${mode}`);
      const instanceCode = `PLAN-${process.pid}-${mode}`;
      const created = await apply(
        leaveApprovalV1({ instanceCode, unit: 'HALF_DAY', start: '2024-09-05 00:00:00', end: '2024-09-06 00:00:00', interval: 86_400 }),
      );
      expect(created.length).toBeGreaterThan(0);
      // V2, same unit, other days: the active days are compared, superseded and replaced
      const reallocated = await apply(
        leaveApprovalV2({
          instanceCode,
          unit: 'HALF_DAY',
          start: '2024-09-05 00:00:00',
          end: '2024-09-07 00:00:00',
          interval: 129_600,
          range: [
            ['2024-09-05 13:30:00', '2024-09-05 18:00:00'],
            ['2024-09-06 09:00:00', '2024-09-06 18:00:00'],
          ],
        }),
      );
      const reverted = await apply(leaveRevert({ instanceCode }));

      const reads = [...reallocated, ...reverted].filter((p) => /Scan[^\n]* on attendance_days/.test(p));
      // the comparison, the superseding UPDATE and the reverting UPDATE
      expect(reads).toHaveLength(3);
      for (const p of reads) {
        expect(p).toContain('attendance_days_active_instance_idx');
        expect(p).not.toContain('attendance_days_active_date_idx');
        expect(p).not.toMatch(/Seq Scan on attendance_days/);
      }
      const [counts] = await sql<{ active: number; superseded: number; reverted: number }[]>`
        select count(*) filter (where status = 'active')::int as active,
               count(*) filter (where status = 'superseded')::int as superseded,
               count(*) filter (where status = 'reverted')::int as reverted
        from attendance_days where instance_code = ${instanceCode}`;
      expect(counts).toEqual({ active: 0, superseded: 1, reverted: 2 });
    });
  }

  for (const mode of ['force_custom_plan', 'force_generic_plan']) {
    it(`a batch looks up its deliveries, leaves and employees by key, never a whole table (${mode})`, async () => {
      await sql.unsafe(`set plan_cache_mode = ${mode}`);
      const instanceCode = `BATCH-${process.pid}-${mode}`;
      const bodies = [leaveApprovalV1({ instanceCode }), leaveApprovalV2({ instanceCode })];
      const items = bodies.map((body, i) => {
        const { event } = JSON.parse(body) as { event: { type: string } };
        const planned = plan({ eventType: event.type, event });
        if (planned.status !== 'applied' || planned.event.kind !== 'approve') throw new Error('not an approval');
        return {
          inbox: { eventKey: `${instanceCode}-${i}`, eventType: event.type, source: 'webhook', instanceCode, status: 'applied', reason: null, payload: {} },
          ev: planned.event,
          days: planned.days,
          baseUnit: UNIT_INFO[planned.event.unit!].base,
          now: new Date().toISOString(),
          defaultTz: 'Asia/Shanghai',
        };
      });
      // the second copy of the V1 delivery, in the same batch: a duplicate
      const batch = [...items, items[0]!];
      notices.length = 0;
      const [row] = await sql<{ r: Record<string, { status: string }> }[]>`select leave_bridge_ingest_batch(${JSON.stringify(batch)}::text::jsonb) as r`;
      expect(Object.values(row!.r).map((r) => r.status).sort()).toEqual(['applied', 'applied', 'duplicate']);
      const reads = notices.filter((n) => /Scan[^\n]* on inbox_events/.test(n));
      expect(reads.length).toBeGreaterThan(0);
      for (const p of reads) {
        expect(p).toContain('inbox_events_key_uq');
        expect(p).not.toMatch(/Seq Scan on inbox_events/);
      }
      // whether each leave is stored, and its employee's zone (for the leaves the batch creates)
      const known = notices.filter((n) => /Scan[^\n]* on leaves/.test(n) && /Scan[^\n]* on employees/.test(n));
      expect(known.length).toBeGreaterThan(0);
      for (const p of notices) expect(p).not.toMatch(/Seq Scan on (leaves|employees)\b/);
      // sent again as a whole: every delivery is found stored
      const [again] = await sql<{ r: Record<string, { status: string }> }[]>`select leave_bridge_ingest_batch(${JSON.stringify(batch)}::text::jsonb) as r`;
      expect(Object.values(again!.r).map((r) => r.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    });
  }
});
