import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileCommand } from '../../src/cli/reconcile.js';
import type { ReconciliationReport } from '../../src/reports/reconciliation/index.js';
import { testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';

/** `leave-bridge reconcile` against Postgres: the API's pages on the command line. */
describe('leave-bridge reconcile (postgres)', () => {
  let db: TestDatabase;
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await reconcileCommand(testConfig({ DATABASE_URL: db.url!, LOG_LEVEL: 'silent' }), args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  beforeAll(async () => {
    db = await createPostgresDatabase();
    // five approved leaves without their calendar block and nothing queued: calendar_missing each
    await db.db.execute(sql`insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
      select 'CLI-' || i, 'leave', 'cli_u', 'Annual', 'DAY', 'approved', 'v2', '2039-02-0' || i || ' 00:00:00', '2039-02-0' || (i + 1) || ' 00:00:00'
      from generate_series(1, 5) as i`);
    await db.db.execute(sql`insert into employees (employee_id, email) values ('cli_u', 'cli@example.com')`);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('prints a page as JSON and follows the cursor to the end', async () => {
    const codes: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await run(['--from', '2039-02-01', '--to', '2039-02-28', '--limit', '2', '--category', 'calendar_missing', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(r).toMatchObject({ code: 0, err: '' });
      const page = JSON.parse(r.out) as ReconciliationReport;
      expect(page.summary.calendar_missing).toBe(5);
      codes.push(...page.items.map((i) => i.instance_code!));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(codes).toEqual(['CLI-1', 'CLI-2', 'CLI-3', 'CLI-4', 'CLI-5']);
  });

  it('bad arguments exit 2 naming the option, before anything is read', async () => {
    expect(await run(['--from', '2039-02-01'])).toMatchObject({ code: 2, err: expect.stringContaining('--to: required') });
    expect(await run(['--from', '2039-02-01', '--to', '2039-02-28', '--limit', '0'])).toMatchObject({ code: 2, err: expect.stringContaining('--limit:') });
    expect(await run(['--from', '2039-02-01', '--to', '2039-02-28', '--cursor', 'nope'])).toMatchObject({ code: 2, err: expect.stringContaining('--cursor: not a cursor') });
    expect(await run(['--from', '2039-02-01', '--to', '2039-02-28', '--category', 'lost'])).toMatchObject({ code: 2, err: expect.stringContaining('--category:') });
    expect(await run(['--bogus'])).toMatchObject({ code: 2, err: expect.stringContaining('usage: leave-bridge reconcile') });
  });
});
