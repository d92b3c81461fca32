import { describe, expect, it } from 'vitest';
import { planDelivery } from '../../src/feishu/inbound.js';
import { KIND_FIXTURES } from '../support/feishu.js';

/** What the envelope hands on: the 2.0 schema's header.event_type, else the v1 event's type. */
function delivery(text: string) {
  const body = JSON.parse(text) as { header?: { event_type: string }; event: { type?: string } };
  return { eventType: body.header?.event_type ?? body.event.type!, event: body.event, problem: null };
}

describe("the special approvals' documented examples, normalised", () => {
  it('out_approval: 3 hours of 中文文案 on 2020-05-15, its unit and name resolved from a list of JSON strings', () => {
    const planned = planDelivery(delivery(KIND_FIXTURES.out));
    expect(planned).toMatchObject({
      status: 'applied',
      event: { kind: 'approve', approvalKind: 'out', employeeId: 'g6964gd3', leaveType: '中文文案', unit: 'HOUR', startLocal: '2020-05-15 15:00:00', endLocal: '2020-05-15 18:00:00' },
      days: [{ date: '2020-05-15', quantity: '3' }],
    });
  });

  it('out_approval_revert and work_approval_revert: reverts that name their kind', () => {
    expect(planDelivery(delivery(KIND_FIXTURES.outRevert))).toMatchObject({ status: 'applied', event: { kind: 'revert', approvalKind: 'out', via: 'out_approval_revert' } });
    expect(planDelivery(delivery(KIND_FIXTURES.workRevert))).toMatchObject({ status: 'applied', event: { kind: 'revert', approvalKind: 'overtime', via: 'work_approval_revert' } });
  });

  it('work_approval: the hours of work_detail on its date (12 h on 2018-12-01), not work_interval spread over time_range', () => {
    const planned = planDelivery(delivery(KIND_FIXTURES.work));
    expect(planned).toMatchObject({
      status: 'applied',
      event: { approvalKind: 'overtime', employeeId: 'xxx', unit: 'HOUR', intervalSeconds: 43200, segmentsSource: 'work_detail', extra: { work_interval: 7200 } },
      days: [{ date: '2018-12-01', quantity: '12' }],
    });
  });

  it('work_approval without work_detail: work_interval over time_range, in hours per local date', () => {
    const body = JSON.parse(KIND_FIXTURES.work) as { event: Record<string, unknown> };
    delete body.event.work_detail;
    body.event.work_interval = 10800;
    body.event.time_range = [{ work_start_time: '2018-12-01 22:00:00', work_end_time: '2018-12-02 01:00:00' }];
    expect(planDelivery({ eventType: 'work_approval', event: body.event, problem: null })).toMatchObject({
      status: 'applied',
      days: [
        { date: '2018-12-01', quantity: '2' },
        { date: '2018-12-02', quantity: '1' },
      ],
    });
  });

  it('shift_approval: recorded with its two times, no days', () => {
    expect(planDelivery(delivery(KIND_FIXTURES.shift))).toMatchObject({
      status: 'applied',
      event: { approvalKind: 'shift', unit: null, extra: { shift_time: '2018-12-01 12:00:00', return_time: '2018-12-02 12:00:00' } },
      days: [],
    });
  });

  it('remedy (2.0 schema): remedy_time documented as ms but sent as seconds reads as the same instant either way', () => {
    const planned = planDelivery(delivery(KIND_FIXTURES.remedy));
    expect(planned).toMatchObject({ status: 'applied', event: { approvalKind: 'remedy', employeeId: 'g12xxxxg', extra: { remedy_time: '2022-08-24T09:23:39.000Z' } }, days: [] });
    const ms = JSON.parse(KIND_FIXTURES.remedy) as { event: { object: Record<string, unknown> } };
    ms.event.object.remedy_time = 1661333019000;
    expect(planDelivery({ eventType: 'approval.instance.remedy_group_update_v4', event: ms.event, problem: null })).toMatchObject({
      event: { extra: { remedy_time: '2022-08-24T09:23:39.000Z' } },
    });
  });

  it('legacy remedy_approval (remedy_time a string) parses too', () => {
    const event = { type: 'remedy_approval', instance_code: 'R-1', employee_id: 'id', open_id: 'openid', start_time: 1564590532, end_time: 1564590533, remedy_reason: 'reason', remedy_time: '1564590532' };
    expect(planDelivery({ eventType: 'remedy_approval', event, problem: null })).toMatchObject({ status: 'applied', event: { approvalKind: 'remedy', variant: 'v1' } });
  });

  it('trip (2.0 schema, repaired JSON): one segment, 6.5 days over 2022-08-25..31, for the requester and the peer', () => {
    const planned = planDelivery(delivery(KIND_FIXTURES.trip));
    expect(planned.status).toBe('applied');
    if (planned.status !== 'applied') return;
    expect(planned.event).toMatchObject({ approvalKind: 'trip', employeeId: 'abc456', peers: ['abc123'], unit: 'HALF_DAY', segments: [['2022-08-25 12:00:00', '2022-09-01 00:00:00']], segmentSeconds: [561600] });
    const own = ['2022-08-25', '2022-08-26', '2022-08-27', '2022-08-28', '2022-08-29', '2022-08-30', '2022-08-31'].map((date, i) => ({ date, quantity: i === 0 ? '0.5' : '1' }));
    expect(planned.days).toEqual([...own, ...own.map((d) => ({ ...d, employeeId: 'abc123' }))]);
  });

  it('legacy trip_approval (the SDK mock): each schedule its own interval; peers as plain ids', () => {
    const event = {
      type: 'trip_approval', app_id: 'xxx', tenant_key: 'tk', instance_code: 'code', open_id: 'openid', start_time: 1564590532, end_time: 1564590533, employee_id: 'id',
      trip_interval: 12121, trip_reason: 'reason', trip_peers: ['a', 'b'],
      schedules: [{ trip_start_time: '2018-12-01 12:00:00', trip_end_time: '2018-12-02 12:00:00', trip_interval: 3600, departure: 'xxx', destination: 'x', transportation: 'xxxx', trip_type: '单程', remark: '备注' }],
    };
    const planned = planDelivery({ eventType: 'trip_approval', event, problem: null });
    expect(planned).toMatchObject({ status: 'applied', event: { approvalKind: 'trip', variant: 'v1', peers: ['a', 'b'], unit: 'HOUR' } });
    if (planned.status === 'applied') expect(planned.days).toEqual(['id', 'a', 'b'].map((e) => ({ date: '2018-12-01', quantity: '1', ...(e === 'id' ? {} : { employeeId: e }) })));
  });

  it('approval_task: a step with its approver, status and time; extra read from its JSON string', () => {
    expect(planDelivery(delivery(KIND_FIXTURES.task))).toMatchObject({
      status: 'applied',
      event: { kind: 'task', instanceCode: '81D31358-93AF-92D6-7425-01A5D67C4E71', taskId: '12345', userId: 'b613t51g', openId: 'ou_123456', status: 'PENDING', operateTime: new Date(1502199207000), extra: { rollback_node_ids: ['nodeid'] } },
    });
  });
});
