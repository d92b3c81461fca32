import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../src/db/node-client.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { createDrainer } from '../../src/outbox/drain.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { testApp } from '../support/app.js';
import { ADMIN_URL, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { FAST_DRAINER } from '../support/outbox-world.js';

/**
 * The plans Postgres picks for the drainer's statements (claim, the claimed leaves' state, the
 * batched completion with its calendar_blocks records) when the tables were analyzed while they
 * were small: a new install, or a backlog that arrived after the last autovacuum. The planner then
 * believes calendar_blocks and employees hold a row or two, and it guesses 100 rows for any
 * jsonb_to_recordset. With plain joins it hashed the whole employees table for every claim and the
 * whole calendar_blocks table for every completion (even with no block to mark deleted), so a
 * drain slowed down as the tables grew. Every statement must find its rows by key instead.
 *
 * The plans come from auto_explain, loaded into each of the drainer's own connections and sent
 * back to it as notices.
 */
const LEAVES = 3_000;
const PENDING_UPSERTS = 24;
const PENDING_DELETES = 8;

for (const mode of ['auto', 'force_custom_plan', 'force_generic_plan'] as const) {
  describe(`drainer plans on tables analyzed while small (Postgres, plan_cache_mode=${mode})`, () => {
    let db: TestDatabase;
    let google: FakeGoogle;
    let drained: { db: ReturnType<typeof connectPostgres>; notices: string[] };

    beforeAll(async () => {
      db = await createPostgresDatabase();
      google = await startFakeGoogle();
      const sql = postgres(db.url!, { max: 1, onnotice: () => {} });
      const tables = ['outbox', 'calendar_blocks', 'employees', 'leaves'];
      // statistics of the empty tables, and no autovacuum to correct them during the test
      await sql.unsafe(`analyze ${tables.join(', ')}`);
      for (const t of tables) await sql.unsafe(`alter table ${t} set (autovacuum_enabled = false)`);
      // Then the install grows: employees, leaves with their blocks, and the rows drained before.
      await sql`insert into employees (employee_id, email, updated_at)
                select 'emp' || i, 'emp' || i || '@example.com', now() from generate_series(1, ${LEAVES}) i`;
      await sql`insert into leaves (instance_code, employee_id, leave_type, unit, interval_seconds, start_local, end_local,
                  segments_source, timezone, status, detail_source, has_v1, has_v2, approved_at, revision)
                select 'L' || i, 'emp' || i, 'Annual leave', 'DAY', 86400, '2030-03-04 09:00:00', '2030-03-04 18:00:00',
                  'start_end', 'Asia/Shanghai', case when i <= ${PENDING_DELETES} then 'reverted' else 'approved' end,
                  'v2', true, true, now(), 1
                from generate_series(1, ${LEAVES}) i`;
      await sql`insert into calendar_blocks (instance_code, calendar_id, event_id, event_type, state, start_at, end_at, synced_at)
                select 'L' || i, 'emp' || i || '@example.com', 'lb' || i, 'outOfOffice', 'present',
                  timestamptz '2030-03-04 01:00:00Z', timestamptz '2030-03-04 10:00:00Z', now()
                from generate_series(1, ${LEAVES}) i`;
      await sql`insert into outbox (key, kind, status, done_at, leased_by)
                select 'L' || i, 'calendar.upsert', 'done', now(), 'earlier' from generate_series(1, ${LEAVES}) i`;
      // What is due now: deletes of reverted leaves (their blocks get marked deleted) and upserts.
      await sql`insert into outbox (key, kind, run_after)
                select 'L' || i, case when i <= ${PENDING_DELETES} then 'calendar.delete' else 'calendar.upsert' end,
                  now() - interval '1 second'
                from generate_series(1, ${PENDING_DELETES + PENDING_UPSERTS}) i`;
      await sql.end();

      // auto_explain in every new connection to this database, plans as notices to that connection
      const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      for (const setting of [
        `session_preload_libraries = 'auto_explain'`,
        `auto_explain.log_min_duration = 0`,
        `auto_explain.log_level = notice`,
        ...(mode === 'auto' ? [] : [`plan_cache_mode = ${mode}`]),
      ]) {
        await admin.unsafe(`alter database "${db.name}" set ${setting}`);
      }
      await admin.end();
      const notices: string[] = [];
      drained = { db: connectPostgres(db.url!, { max: 4, onNotice: (m) => notices.push(m) }), notices };
    });
    afterAll(async () => {
      await drained?.db.close();
      await google?.close();
      await db?.close();
    });

    it('claims, reads the claimed leaves and completes them through keys, never a whole table', async () => {
      const calendar = createGoogleCalendar({ key: google.serviceAccountKey, baseUrl: google.url, timeoutMs: 5_000 });
      const t = testApp(drained.db, { calendar });
      // small claims, so statements repeat (plpgsql and postgres.js switch to generic plans after five)
      const drainer = createDrainer(t.deps, { ...FAST_DRAINER, batchSize: 4, concurrency: 4 });
      const summary = await drainer.drainOnce();
      expect(summary.done).toBe(PENDING_UPSERTS + PENDING_DELETES);

      const plans = drained.notices.filter((n) => /\b(outbox|calendar_blocks|employees|leaves)\b/.test(n));
      const claims = plans.filter((p) => /Update on outbox/.test(p) && /SKIP LOCKED|LockRows/i.test(p));
      const reads = plans.filter((p) => /Scan[^\n]* on leaves/.test(p) && /calendar_blocks/.test(p) && /employees/.test(p));
      const completions = plans.filter((p) => /Update on outbox/.test(p) && /jsonb_to_recordset/.test(p));
      expect(claims.length).toBeGreaterThan(5);
      expect(reads.length).toBeGreaterThan(5);
      expect(completions.length).toBeGreaterThan(1);
      // both kinds of block record were written with a completion
      expect(completions.some((p) => /Insert on calendar_blocks/.test(p))).toBe(true);
      expect(completions.some((p) => /Update on calendar_blocks/.test(p))).toBe(true);
      for (const p of plans) {
        expect(p).not.toMatch(/Seq Scan on (outbox|calendar_blocks|employees|leaves)\b/);
      }

      const sql = postgres(db.url!, { max: 1, onnotice: () => {} });
      const [blocks] = await sql<{ deleted: number; present: number }[]>`
        select count(*) filter (where state = 'deleted')::int as deleted, count(*) filter (where state = 'present')::int as present
        from calendar_blocks`;
      await sql.end();
      expect(blocks).toEqual({ deleted: PENDING_DELETES, present: LEAVES - PENDING_DELETES });
    });
  });
}
