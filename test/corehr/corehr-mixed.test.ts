import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaves } from '../../src/db/schema.js';
import { syncCorehr } from '../../src/feishu/corehr-sync.js';
import { doorbell, leaveRequest, settle } from '../support/corehr.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2 } from '../support/feishu.js';
import { eventIdFor, startWorld, type World } from '../support/outbox-world.js';

interface Drift {
  summary: Record<string, number>;
  items: Array<{ category: string; instance_code: string | null; employee_id: string | null; severity: string; data?: Record<string, unknown> }>;
}

for (const backend of BACKENDS) {
  describe(`a tenant on Approval and CoreHR at once (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db, { env: { COREHR_ENABLED: 'true' } });
      w.feishu.addUser({ user_id: 'u_ann', open_id: 'ou_ann', name: 'Ann', email: 'ann@example.com' });
      w.feishu.addUser({ user_id: 'u_cho', open_id: 'ou_cho', name: 'Cho', email: 'cho@example.com' });
      w.feishu.corehr.mapUser('c_cho', 'u_cho');
      w.feishu.corehr.mapUser('c_ann', 'u_ann');
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });

    it('exports, reconciles and blocks calendars as one: Ann through Approval, Cho through CoreHR', async () => {
      // Ann: an Approval leave (V1 + V2), one day
      const ann = 'MIX-APPROVAL-ANN';
      for (const body of [
        leaveApprovalV1({ instanceCode: ann, employeeId: 'u_ann', openId: 'ou_ann', start: '2026-09-07 00:00:00', end: '2026-09-08 00:00:00' }),
        leaveApprovalV2({ instanceCode: ann, employeeId: 'u_ann', openId: 'ou_ann', start: '2026-09-07 00:00:00', end: '2026-09-08 00:00:00' }),
      ]) {
        expect((await w.send(body)).status).toBe(200);
      }
      // Cho: a CoreHR request over two days, the second afternoon only
      const cho = leaveRequest({ employment: 'c_cho', from: '2026-09-07', to: '2026-09-08', process: 'p-mix-cho', extra: {
        end_time: '2026-09-08 morning',
        leave_duration: '1.5',
        details: [
          { leave_date: '2026-09-07', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
          { leave_date: '2026-09-08', leave_duration: '0.5', leave_duration_unit: 1, paid_type: 3 },
        ],
      } });
      w.feishu.corehr.put(cho);
      await w.send(doorbell('p-mix-cho'));
      await settle(w);
      const choCode = `corehr-${cho.leave_request_id}`;

      // calendars: one block each, on each one's own calendar
      expect(w.confirmed('ann@example.com').filter((e) => e.id === eventIdFor(ann))).toHaveLength(1);
      expect(w.confirmed('cho@example.com').filter((e) => e.id === eventIdFor(choCode))).toHaveLength(1);

      // the export: both, sorted together; paid_type on CoreHR's lines only; the CSV keeps its columns.
      // (Cho's open_id comes from the contact API, read when the block was written.)
      const json = (await (await w.t.admin('/api/payroll/export?from=2026-09-01&to=2026-09-30&format=json')).json()) as { lines: Array<Record<string, unknown>> };
      expect(json.lines).toEqual([
        { employee_id: 'u_ann', open_id: 'ou_ann', email: 'ann@example.com', leave_type: 'Annual leave', date: '2026-09-07', quantity: '1', unit: 'day', instance_code: ann },
        { employee_id: 'u_cho', open_id: 'ou_cho', email: 'cho@example.com', leave_type: '年假', date: '2026-09-07', quantity: '1', unit: 'day', instance_code: choCode, paid_type: 2 },
        { employee_id: 'u_cho', open_id: 'ou_cho', email: 'cho@example.com', leave_type: '年假', date: '2026-09-08', quantity: '0.5', unit: 'day', instance_code: choCode, paid_type: 3 },
      ]);
      const csv = await (await w.t.admin('/api/payroll/export?from=2026-09-01&to=2026-09-30&format=csv&adjustments=false')).text();
      expect(csv.split('\r\n')[0]).toBe('employee_id,open_id,email,leave_type,date,quantity,unit,instance_code');
      expect(csv).toContain(`u_cho,ou_cho,cho@example.com,年假,2026-09-08,0.5,day,${choCode}`);

      // the reconciliation: nothing wrong with either
      const drift = (await (await w.t.admin('/api/reconciliation?from=2026-09-01&to=2026-09-30')).json()) as Drift;
      expect(drift.items).toEqual([]);
      expect(drift.summary).toMatchObject({ leaves_checked: 2, duplicate_source: 0, total: 0 });

      // the API and the dashboard say where each comes from
      const listed = (await (await w.t.admin('/api/leaves?from=2026-09-01&to=2026-09-30')).json()) as { items: Array<{ instance_code: string; source: string }> };
      expect(Object.fromEntries(listed.items.map((i) => [i.instance_code, i.source]))).toEqual({ [ann]: 'approval', [choCode]: 'corehr' });
      const approvals = (await (await w.t.admin('/api/approvals?kind=leave')).json()) as { items: Array<{ instance_code: string; source: string }> };
      expect(approvals.items.find((i) => i.instance_code === choCode)?.source).toBe('corehr');
      const detail = (await (await w.t.admin(`/api/leaves/${choCode}`)).json()) as { days: Array<{ date: string; paid_type: number | null }> };
      expect(detail.days.map((d) => [d.date, d.paid_type])).toEqual([
        ['2026-09-07', 2],
        ['2026-09-08', 3],
      ]);
      const page = await (await w.t.admin(`/dashboard/leaves/${choCode}`)).text();
      expect(page).toContain('Feishu People (CoreHR)');
      expect(page).toContain('3 · does not affect pay');
      const annPage = await (await w.t.admin(`/dashboard/leaves/${ann}`)).text();
      expect(annPage).toMatch(/<dd data-testid="leave-source">Feishu Approval<\/dd>/);
      const list = await (await w.t.admin('/dashboard/approvals?kind=leave')).text();
      expect(list).toContain('data-source="corehr"');
      expect(list).toContain('data-source="approval"');
    });

    it('the same time off in both apps for one person is reported as duplicate_source, and both stay recorded', async () => {
      const dup = 'MIX-APPROVAL-ANN-DUP';
      await w.send(leaveApprovalV2({ instanceCode: dup, employeeId: 'u_ann', openId: 'ou_ann', start: '2026-10-12 00:00:00', end: '2026-10-13 00:00:00' }));
      const twin = leaveRequest({ employment: 'c_ann', from: '2026-10-12', to: '2026-10-12' });
      w.feishu.corehr.put(twin);
      await syncCorehr(w.t.deps, { mode: 'period', from: '2026-10-01', to: '2026-10-31' });
      await settle(w);
      const drift = (await (await w.t.admin('/api/reconciliation?from=2026-10-01&to=2026-10-31')).json()) as Drift;
      expect(drift.summary.duplicate_source).toBe(1);
      expect(drift.items.find((i) => i.category === 'duplicate_source')).toMatchObject({
        instance_code: `corehr-${twin.leave_request_id}`,
        employee_id: 'u_ann',
        severity: 'error',
        data: { approval_instance_code: dup, corehr_instance_code: `corehr-${twin.leave_request_id}`, overlap_start: '2026-10-12 00:00:00', overlap_end: '2026-10-13 00:00:00' },
      });
      const both = await db.db.select().from(leaves).where(eq(leaves.employeeId, 'u_ann'));
      expect(both.filter((l) => l.startLocal === '2026-10-12 00:00:00').map((l) => l.source).sort()).toEqual(['approval', 'corehr']);
      // the next day for one of them is no duplicate
      const after = leaveRequest({ employment: 'c_ann', from: '2026-10-13', to: '2026-10-13' });
      w.feishu.corehr.put(after);
      await syncCorehr(w.t.deps, { mode: 'period', from: '2026-10-01', to: '2026-10-31' });
      await settle(w);
      const again = (await (await w.t.admin('/api/reconciliation?from=2026-10-01&to=2026-10-31')).json()) as Drift;
      expect(again.summary.duplicate_source).toBe(1);
    });
  });

  describe(`CoreHR requests still pending, with tentative holds on (${backend.name})`, () => {
    let db: TestDatabase;
    let w: World;
    beforeAll(async () => {
      db = await backend.create();
      w = await startWorld(db, { env: { COREHR_ENABLED: 'true', CALENDAR_TENTATIVE_HOLDS: 'true' } });
      w.feishu.addUser({ user_id: 'u_dee', open_id: 'ou_dee', name: 'Dee', email: 'dee@example.com' });
      w.feishu.corehr.mapUser('c_dee', 'u_dee');
    });
    afterAll(async () => {
      await w?.close();
      await db?.close();
    });
    const holds = () => w.confirmed('dee@example.com').filter((e) => e.transparency === 'transparent');
    const blocks = () => w.confirmed('dee@example.com').filter((e) => e.eventType === 'outOfOffice');

    it('a pending request is held on the calendar; approved, the hold becomes the block; a withdrawn one loses its hold', async () => {
      const r = leaveRequest({ employment: 'c_dee', from: '2026-11-02', to: '2026-11-03', status: 2, process: 'p-hold-1' });
      w.feishu.corehr.put(r);
      await w.send(doorbell('p-hold-1', 'corehr.process.updated_v2', 1));
      await settle(w);
      const code = `corehr-${r.leave_request_id}`;
      expect((await db.db.select().from(leaves).where(eq(leaves.instanceCode, code)))[0]).toMatchObject({ status: 'pending', source: 'corehr', detailSource: 'corehr' });
      expect(holds()).toHaveLength(1);
      expect(blocks()).toHaveLength(0);

      w.feishu.corehr.update(r.leave_request_id, { leave_request_status: 1 });
      await w.send(doorbell('p-hold-1'));
      await settle(w);
      expect((await db.db.select().from(leaves).where(eq(leaves.instanceCode, code)))[0]).toMatchObject({ status: 'approved' });
      expect(holds()).toHaveLength(0);
      expect(blocks().filter((e) => e.id === eventIdFor(code))).toHaveLength(1);

      const withdrawn = leaveRequest({ employment: 'c_dee', from: '2026-11-16', to: '2026-11-16', status: 2, process: 'p-hold-2' });
      w.feishu.corehr.put(withdrawn);
      await w.send(doorbell('p-hold-2', 'corehr.process.updated_v2', 1));
      await settle(w);
      expect(holds()).toHaveLength(1);
      w.feishu.corehr.update(withdrawn.leave_request_id, { leave_request_status: 9 });
      await w.send(doorbell('p-hold-2', 'corehr.process.status.update_v2', 4));
      await settle(w);
      expect(holds()).toHaveLength(0);
      expect((await db.db.select().from(leaves).where(eq(leaves.instanceCode, `corehr-${withdrawn.leave_request_id}`)))[0]).toMatchObject({ status: 'reverted' });
    });
  });
}
