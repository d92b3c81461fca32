import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYROLL_COLUMNS } from '../../src/reports/payroll-types.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { approvalInstance, encryptedRequest, leaveApprovalV1, outApproval, specialRevert, tripApproval, workApproval } from '../support/feishu.js';

let n = 0;
const code = (k: string) => `PK-${k}-${process.pid}-${Date.now()}-${n++}`;
// the fields here hold no comma or quote: a split is enough
const rows = (csv: string) => csv.trimEnd().split('\r\n').map((r) => r.split(','));

for (const backend of BACKENDS) {
  describe(`payroll export of several kinds (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    const c = { leave: code('leave'), work: code('work'), out: code('out'), trip: code('trip'), shift: code('shift') };
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db);
      const send = async (body: string) => expect((await t.post(await encryptedRequest(body))).status).toBe(200);
      await send(leaveApprovalV1({ instanceCode: c.leave, employeeId: 'u_a', start: '2041-03-04 00:00:00', end: '2041-03-05 00:00:00' }));
      await send(workApproval({ instanceCode: c.work, employeeId: 'u_a', start: '2041-03-04 19:00:00', end: '2041-03-04 21:30:00', interval: 9000 }));
      await send(outApproval({ instanceCode: c.out, employeeId: 'u_b', start: '2041-03-05 09:00:00', end: '2041-03-05 13:00:00', interval: 14400 }));
      await send(tripApproval({ instanceCode: c.trip, employeeId: 'u_b', peers: ['u_c'], schedules: [{ start: '2041-03-06 00:00:00', end: '2041-03-07 00:00:00', interval: 86400 }] }));
    });
    afterAll(async () => {
      await db?.close();
    });
    const csv = async (query: string) => {
      const res = await t.admin(`/api/payroll/export?from=2041-03-01&to=2041-03-31${query}`);
      expect(res.status).toBe(200);
      return rows(await res.text());
    };

    it('without kinds: leaves only, the columns of always', async () => {
      const r = await csv('&adjustments=false');
      expect(r[0]).toEqual([...PAYROLL_COLUMNS]);
      expect(r.slice(1).map((x) => x[7])).toEqual([c.leave]);
    });

    it('kinds=leave,overtime,out,trip: every line with its kind appended, overtime in hours, trip peers included', async () => {
      const r = await csv('&kinds=leave,overtime,out,trip&adjustments=false');
      expect(r[0]).toEqual([...PAYROLL_COLUMNS, 'kind']);
      const lines = r.slice(1).map((x) => [x[0], x[4], x[5], x[6], x[7] === c.leave ? 'L' : x[7] === c.work ? 'W' : x[7] === c.out ? 'O' : 'T', x[8]]);
      expect(lines).toEqual([
        ['u_a', '2041-03-04', '1', 'day', 'L', 'leave'],
        ['u_a', '2041-03-04', '2.5', 'hour', 'W', 'overtime'],
        ['u_b', '2041-03-05', '4', 'hour', 'O', 'out'],
        ['u_b', '2041-03-06', '1', 'day', 'T', 'trip'],
        ['u_c', '2041-03-06', '1', 'day', 'T', 'trip'],
      ]);
      const json = (await (await t.admin('/api/payroll/export?from=2041-03-01&to=2041-03-31&kinds=overtime&format=json&adjustments=false')).json()) as { kinds: string[]; lines: Array<{ kind: string; unit: string }> };
      expect(json.kinds).toEqual(['overtime']);
      expect(json.lines).toEqual([expect.objectContaining({ kind: 'overtime', unit: 'hour', quantity: '2.5' })]);
    });

    it('an unknown kind is a 400 in the one error shape', async () => {
      const res = await t.admin('/api/payroll/export?from=2041-03-01&to=2041-03-31&kinds=leave,shift');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.stringContaining('unknown kind "shift"') } });
    });

    it('adjustments across kinds: a reverted overtime and a cancelled trip after an export of those kinds; a leave-only export is no baseline for them', async () => {
      await csv('&kinds=leave,overtime,trip');
      await csv('');
      await t.post(await encryptedRequest(specialRevert('work_approval_revert', c.work)));
      await t.post(await encryptedRequest(approvalInstance(c.trip, 'CANCELED')));
      const r = await csv('&kinds=leave,overtime,trip&adjustments=true');
      expect(r[0]).toEqual([...PAYROLL_COLUMNS, 'line_type', 'adjustment_reason', 'kind']);
      const adjustments = r.filter((x) => x[8] === 'adjustment').map((x) => [x[0], x[4], x[5], x[6], x[9], x[10]]);
      expect(adjustments).toEqual([
        ['u_a', '2041-03-04', '-2.5', 'hour', 'reverted', 'overtime'],
        ['u_b', '2041-03-06', '-1', 'day', 'reverted', 'trip'],
        ['u_c', '2041-03-06', '-1', 'day', 'reverted', 'trip'],
      ]);
      // the leave-only export made after the first one changes nothing for the leave either
      expect(r.filter((x) => x[8] === 'line').map((x) => x[10])).toEqual(['leave']);
    });
  });
}

describe('leave-bridge export --kinds', () => {
  it('parses the kinds, refuses an unknown one', async () => {
    const { parseExportArgs } = await import('../../src/cli/export.js');
    expect(parseExportArgs(['--from', '2041-03-01', '--to', '2041-03-31', '--kinds', 'leave,overtime'])).toMatchObject({ kinds: ['leave', 'overtime'] });
    expect(parseExportArgs(['--from', '2041-03-01', '--to', '2041-03-31'])).not.toHaveProperty('kinds');
    expect(parseExportArgs(['--from', '2041-03-01', '--to', '2041-03-31', '--kinds', 'remedy'])).toEqual({ error: expect.stringContaining('--kinds: unknown kind "remedy"') });
  });
});
