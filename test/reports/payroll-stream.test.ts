import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/client.js';
import type { Clock } from '../../src/deps.js';
import type { ApprovalKind } from '../../src/leave/types.js';
import { payrollCsv } from '../../src/reports/payroll-csv.js';
import { payrollJson } from '../../src/reports/payroll-json.js';
import { recordExport } from '../../src/reports/payroll-record.js';
import type { AdjustmentsMode, PayrollExport } from '../../src/reports/payroll-types.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { bufferedCsv, bufferedExport } from '../support/payroll-buffered.js';

/*
 * The export streams (recorded rows read back in keyset chunks, rendered chunk by chunk); the
 * buffered implementation it replaced (test/support/payroll-buffered.ts) is the oracle. Data are
 * written straight into the tables so that every awkward value can be there: ids that sort
 * differently by collation, text needing CSV quoting and formula neutralising, every unit and
 * kind, superseded and reverted days, days outside the period.
 */

const PERIOD = { from: '2037-03-01', to: '2037-03-31' };
const clock: Clock = { now: () => new Date('2037-04-01T09:00:00Z') };

const PEOPLE: Array<[id: string, email: string | null, override: string | null]> = [
  ['a1', 'a1@example.com', null],
  ['A1', null, null],
  ['b"quote', 'b@example.com', 'b.override@example.com'],
  ['c,comma', 'c@example.com', null],
  ['Z9', null, 'z9@example.com'],
  ['é-1', 'e@example.com', null],
  ['=1+2', '=cmd@example.com', null],
  ['_under', 'u@example.com', null],
];
const TYPES: Array<string | null> = ['Annual, paid', 'say "hi"', 'line\r\nbreak', '=HYPERLINK("http://x")', '-3', '@at', '\ttab', '事假', null, 'plain'];
const KINDS: ApprovalKind[] = ['leave', 'leave', 'overtime', 'out', 'trip', 'leave'];
const UNITS = ['day', 'hour', 'minute'] as const;
const QUANTITIES = ['1', '0.5', '2.25', '0.333333', '7.5', '120'];

async function seed(db: TestDatabase): Promise<string[]> {
  for (const [id, email, override] of PEOPLE) {
    await db.db.execute(sql`insert into employees (employee_id, open_id, email, email_override) values (${id}, ${`ou_${id}`}, ${email}, ${override})`);
  }
  const codes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const code = i % 7 === 0 ? `stream-${String(i).padStart(2, '0')}` : `Stream-${String(i).padStart(2, '0')}`;
    codes.push(code);
    const person = PEOPLE[i % PEOPLE.length]![0];
    const kind = KINDS[i % KINDS.length]!;
    const type = TYPES[i % TYPES.length]!;
    const unit = UNITS[i % UNITS.length]!;
    const firstDay = 1 + ((i * 3) % 33) - 2; // some start in February, some run into April
    await db.db.execute(sql`insert into leaves (instance_code, kind, employee_id, open_id, leave_type, leave_type_key, unit, status, detail_source, start_local, end_local)
      values (${code}, ${kind}, ${person}, ${i % 3 === 0 ? null : `ou_leave_${i}`}, ${type}, ${type === null ? `key_${i}` : null}, ${unit.toUpperCase()}, 'approved', 'v2', '2037-03-01 00:00:00', '2037-03-02 00:00:00')`);
    for (let d = 0; d < 1 + (i % 4); d++) {
      const date = new Date(Date.UTC(2037, 2, firstDay + d)).toISOString().slice(0, 10);
      const quantity = QUANTITIES[(i + d) % QUANTITIES.length]!;
      // a superseded revision first: never exported
      await db.db.execute(sql`insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status) values (${code}, ${person}, ${date}, '9', ${unit}, 0, 'superseded')`);
      await db.db.execute(sql`insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status) values (${code}, ${person}, ${date}, ${quantity}, ${unit}, 1, 'active')`);
      // a trip's peer travels too: the same record on the same dates for someone else
      if (kind === 'trip') {
        const peer = PEOPLE[(i + 3) % PEOPLE.length]![0];
        await db.db.execute(sql`insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status) values (${code}, ${peer}, ${date}, ${quantity}, ${unit}, 1, 'active')`);
      }
    }
  }
  return codes;
}

const collect = async (pieces: AsyncGenerator<string>) => {
  let out = '';
  for await (const p of pieces) out += p;
  return out;
};

for (const backend of BACKENDS) {
  describe(`payroll export, streamed (${backend.name})`, () => {
    let db: TestDatabase;
    let codes: string[];

    beforeAll(async () => {
      db = await backend.create();
      codes = await seed(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    /** Record an export; its CSV and JSON (compact, as the API; indented, as the CLI) read in chunks of `chunk` rows equal the buffered rendering. */
    const check = async (input: { adjustments?: AdjustmentsMode; kinds?: ApprovalKind[] }, chunk: number): Promise<PayrollExport> => {
      const exp = await recordExport({ db: db.db, clock }, { ...PERIOD, format: 'csv', ...input });
      const oracle = await bufferedExport(db.db, { ...PERIOD, ...input }, exp);
      expect(await collect(payrollCsv(db.db, exp, chunk))).toBe(bufferedCsv(oracle));
      expect(await collect(payrollJson(db.db, exp, 0, chunk))).toBe(JSON.stringify(oracle));
      expect(await collect(payrollJson(db.db, exp, 2, chunk))).toBe(JSON.stringify(oracle, null, 2));
      return oracle;
    };

    it('CSV and JSON are byte for byte the buffered export: chunk boundaries, kinds, quoting, formulas, adjustments of every reason', async () => {
      const first = await check({}, 3);
      expect(first.lines.length).toBeGreaterThan(20);
      expect(first.adjustments).toBeUndefined();
      // the awkward values made it into the export
      const csv = bufferedCsv(first);
      expect(csv).toContain('"line\r\nbreak"');
      expect(csv).toContain(`"'=HYPERLINK(""http://x"")"`);
      expect(csv).toContain('b.override@example.com');

      const everyKind = await check({ kinds: ['leave', 'overtime', 'out', 'trip'], adjustments: 'include' }, 4);
      expect(new Set(everyKind.lines.map((l) => l.kind))).toEqual(new Set(['leave', 'overtime', 'out', 'trip']));
      expect(everyKind.adjustments).toEqual([]);

      // after the exports: a revert, a re-allocation, a late approval, a new address
      const [reverted, changed] = codes.filter((_, i) => KINDS[i % KINDS.length] === 'leave' && i % 4 > 0);
      await db.db.execute(sql`update leaves set status = 'reverted' where instance_code = ${reverted!}`);
      await db.db.execute(sql`update attendance_days set status = 'reverted' where instance_code = ${changed === reverted ? '' : reverted!}`);
      await db.db.execute(sql`update attendance_days set status = 'superseded' where instance_code = ${changed!} and status = 'active'`);
      const [day] = await queryRows<{ employee_id: string; date: string; unit: string }>(
        db.db,
        sql`select employee_id, date::text as date, unit from attendance_days where instance_code = ${changed!} and revision = 1 order by date limit 1`,
      );
      await db.db.execute(sql`insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status) values (${changed!}, ${day!.employee_id}, ${day!.date}, '0.25', ${day!.unit}, 2, 'active')`);
      await db.db.execute(sql`insert into leaves (instance_code, kind, employee_id, leave_type, unit, status, detail_source, start_local, end_local)
        values ('late-1', 'leave', 'a1', 'Late, approved', 'DAY', 'approved', 'v2', '2037-03-09 00:00:00', '2037-03-10 00:00:00')`);
      await db.db.execute(sql`insert into attendance_days (instance_code, employee_id, date, quantity, unit, revision, status) values ('late-1', 'a1', '2037-03-09', '1', 'day', 1, 'active')`);
      await db.db.execute(sql`update employees set email_override = 'new,"addr"@example.com' where employee_id = 'a1'`);

      const corrected = await check({}, 5);
      expect(new Set(corrected.adjustments!.map((a) => a.reason))).toEqual(new Set(['reverted', 'changed', 'added']));
      expect(corrected.baseline!.map((b) => b.export_id)).toEqual([everyKind.export_id]);
      // asked for kinds, with adjustments of kinds an earlier export did cover and did not
      await check({ kinds: ['leave', 'overtime'], adjustments: 'include' }, 1000);
      await check({ kinds: ['trip', 'out'] }, 2);
      await check({ adjustments: 'omit' }, 7);
      // nothing changed since the export before: a baseline, no adjustments
      const same = await check({}, 6);
      expect(same.adjustments).toBeUndefined();
      expect(same.baseline).not.toEqual([]);
    });

    it('through the route: the body streamed by GET /api/payroll/export is the buffered document', async () => {
      const t = testApp(db, { clock, env: { FEISHU_ENCRYPT_KEY: undefined } });
      for (const extra of ['format=csv', 'format=json&adjustments=true', 'format=csv&kinds=trip,leave']) {
        const res = await t.admin(`/api/payroll/export?from=${PERIOD.from}&to=${PERIOD.to}&${extra}`);
        expect(res.status).toBe(200);
        const id = Number(res.headers.get('x-payroll-export-id'));
        const kinds = extra.includes('kinds') ? (['trip', 'leave'] as ApprovalKind[]) : undefined;
        const oracle = await bufferedExport(db.db, { ...PERIOD, adjustments: extra.includes('adjustments=true') ? 'include' : 'auto', ...(kinds ? { kinds } : {}) }, { export_id: id, exported_at: clock.now().toISOString() });
        expect(await res.text()).toBe(extra.includes('json') ? JSON.stringify(oracle) : bufferedCsv(oracle));
      }
    });
  });
}
