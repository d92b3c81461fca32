import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExportArgs, runExport } from '../../src/cli/export.js';
import { PAYROLL_COLUMNS } from '../../src/reports/payroll-types.js';
import { loadDashboard } from '../../src/reports/dashboard/load.js';
import type { ReconciliationReport } from '../../src/reports/reconciliation/index.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { encryptedRequest, leaveApprovalV1, outApproval } from '../support/feishu.js';

/*
 * Policies in the reports: the payroll export's payroll_code column, the reconciliation's
 * unmapped_leave_type, the dashboard's "on leave" figures (counts_as_leave).
 */

let n = 0;
const code = (k: string) => `PR-${k}-${process.pid}-${Date.now()}-${n++}`;
// the fields here hold no comma or quote: a split is enough
const rows = (csv: string) => csv.trimEnd().split('\r\n').map((r) => r.split(','));
const PERIOD = 'from=2041-05-01&to=2041-05-31';

for (const backend of BACKENDS) {
  describe(`policies in the reports (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    const c = { annual: code('annual'), sick: code('sick'), wfh: code('wfh'), out: code('out') };
    // the real clock while events arrive (their signatures are timed), then one inside the
    // period, so the dashboard's "today" is one of its dates
    let now: Date | null = null;
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db, { clock: { now: () => now ?? new Date() } });
      const send = async (body: string) => expect((await t.post(await encryptedRequest(body))).status).toBe(200);
      await send(leaveApprovalV1({ instanceCode: c.annual, employeeId: 'u_a', leaveName: 'Annual leave', start: '2041-05-06 00:00:00', end: '2041-05-07 00:00:00' }));
      await send(leaveApprovalV1({ instanceCode: c.sick, employeeId: 'u_b', leaveName: 'Sick leave', start: '2041-05-06 00:00:00', end: '2041-05-07 00:00:00' }));
      await send(leaveApprovalV1({ instanceCode: c.wfh, employeeId: 'u_c', leaveName: 'Work from home', start: '2041-05-06 00:00:00', end: '2041-05-07 00:00:00' }));
      await send(outApproval({ instanceCode: c.out, employeeId: 'u_d', start: '2041-05-06 09:00:00', end: '2041-05-06 13:00:00', interval: 14400 }));
      now = new Date('2041-05-06T04:00:00Z');
    });
    afterAll(async () => {
      await db?.close();
    });
    const put = async (leaveType: string, body: Record<string, unknown>) => {
      const res = await t.admin(`/api/policies/${encodeURIComponent(leaveType)}`, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(200);
    };
    const csv = async (query: string, adjustments = false) => {
      const res = await t.admin(`/api/payroll/export?${PERIOD}&adjustments=${adjustments}${query}`);
      expect(res.status).toBe(200);
      return rows(await res.text());
    };
    const reconciliation = async () => (await (await t.admin(`/api/reconciliation?${PERIOD}`)).json()) as ReconciliationReport;

    it('without policies: the columns of always, no unmapped types, leaves count as leave and outs do not', async () => {
      expect((await csv(''))[0]).toEqual([...PAYROLL_COLUMNS]);
      const r = await reconciliation();
      expect(r.summary.unmapped_leave_type).toBe(0);
      const d = await loadDashboard(t.deps, { period: { from: '2041-05-01', to: '2041-05-31' } });
      expect(d.figures).toMatchObject({ days: '3', hours: '0', peopleToday: 3, peopleTodayNames: ['u_a', 'u_b', 'u_c'] });
    });

    it('columns=payroll_code asks for the column before any policy sets a code: appended last, empty', async () => {
      const r = await csv('&columns=payroll_code&kinds=leave,out');
      expect(r[0]).toEqual([...PAYROLL_COLUMNS, 'kind', 'payroll_code']);
      expect(r.slice(1).map((x) => x[9])).toEqual(['', '', '', '']);
      // the command line's --columns is the same
      const args = parseExportArgs(['--from', '2041-05-01', '--to', '2041-05-31', '--columns', 'payroll_code', '--no-adjustments']);
      if ('error' in args) throw new Error(args.error);
      let out = '';
      expect(await runExport(t.deps, args, { out: (chunk) => (out += chunk), err: () => {} })).toBe(0);
      expect(rows(out)[0]).toEqual([...PAYROLL_COLUMNS, 'payroll_code']);
      expect(parseExportArgs(['--from', '2041-05-01', '--to', '2041-05-31', '--columns', 'salary'])).toEqual({ error: expect.stringContaining('--columns: unknown column "salary"') });
      const bad = await t.admin(`/api/payroll/export?${PERIOD}&columns=payroll_code,salary`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^columns: unknown column "salary"/);
    });

    it('a policy with a payroll code adds the column to every export, CSV and JSON, after the adjustment columns too', async () => {
      await put('Sick leave', { calendar: 'outOfOffice', title: 'Away', visibility: 'name_only', payroll_code: 'SICK-01' });
      await put('*', { calendar: 'outOfOffice', visibility: 'name_only', payroll_code: 'LV' });
      const r = await csv('');
      expect(r[0]).toEqual([...PAYROLL_COLUMNS, 'payroll_code']);
      const byCode = Object.fromEntries(r.slice(1).map((x) => [x[7], x[8]]));
      expect(byCode).toEqual({ [c.annual]: 'LV', [c.sick]: 'SICK-01', [c.wfh]: 'LV' });

      const json = (await (await t.admin(`/api/payroll/export?${PERIOD}&format=json&adjustments=true`)).json()) as { columns: string[]; lines: Array<Record<string, unknown>> };
      expect(json.columns).toEqual(['payroll_code']);
      expect(json.lines.find((l) => l.instance_code === c.sick)).toMatchObject({ leave_type: 'Sick leave', payroll_code: 'SICK-01' });
      const withAdjustments = await csv('', true);
      expect(withAdjustments[0]).toEqual([...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason', 'payroll_code']);
    });

    it('once policies exist, every type of the period without one of its own is unmapped_leave_type (a warning)', async () => {
      const r = await reconciliation();
      const unmapped = r.items.filter((i) => i.category === 'unmapped_leave_type');
      // Sick leave has its own; `*` is a default, not a mapping of Annual leave, Work from home or the out's type
      expect(unmapped.map((i) => [i.data?.kind, i.data?.leave_type, i.severity]).sort()).toEqual([
        ['leave', 'Annual leave', 'warning'],
        ['leave', 'Work from home', 'warning'],
        ['out', 'Client visit', 'warning'],
      ]);
      expect(unmapped.find((i) => i.data?.leave_type === 'Annual leave')).toMatchObject({
        instance_code: c.annual,
        data: { leaves: [c.annual], count: 1, policy: { kind: '*', leave_type: '*' } },
      });
      expect(r.summary.unmapped_leave_type).toBe(3);
    });

    it("counts_as_leave decides the dashboard's on-leave figures", async () => {
      await put('Work from home', { calendar: 'free', visibility: 'hidden', counts_as_leave: false });
      const clientVisit = await t.admin('/api/policies/Client%20visit?kind=out', {
        method: 'PUT',
        body: JSON.stringify({ calendar: 'busy', visibility: 'name_only', counts_as_leave: true }),
        headers: { 'content-type': 'application/json' },
      });
      expect(clientVisit.status).toBe(200);
      const d = await loadDashboard(t.deps, { period: { from: '2041-05-01', to: '2041-05-31' } });
      expect(d.figures).toMatchObject({ days: '2', hours: '4', peopleToday: 3, peopleTodayNames: ['u_a', 'u_b', 'u_d'] });
      expect(d.chart.series.map((s) => s.label).sort()).toEqual(['Annual leave', 'Client visit', 'Sick leave']);
    });
  });
}
