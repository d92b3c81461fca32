import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCorehrEvent, readLeaveRequest, requestEventKey } from '../../src/feishu/corehr.js';
import { UnusableEventError } from '../../src/feishu/unusable-event-error.js';
import { planDelivery } from '../../src/feishu/inbound.js';
import { daysOf } from '../../src/leave/days.js';
import type { LeaveApproval } from '../../src/leave/types.js';

/** The page's response example, as published (test/fixtures/README.md). */
const documented = JSON.parse(readFileSync(new URL('../fixtures/corehr_leave_request_history.json', import.meta.url), 'utf8')) as {
  data: { leave_request_list: Array<Record<string, unknown>> };
};
const example = documented.data.leave_request_list[0]!;

/** The documented record, made consistent (its example gives a 2-hour request a 1-day detail) and changed by `patch`. */
const request = (patch: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...example,
  employment_id: 'u_alice',
  start_time: '2022-07-06',
  end_time: '2022-07-07',
  leave_duration: '2',
  leave_duration_unit: 1,
  leave_request_status: 1,
  details: [
    { leave_request_id: '4718803945687580505', leave_date: '2022-07-06', leave_duration: '1', leave_duration_unit: 1, paid_type: 2 },
    { leave_request_id: '4718803945687580505', leave_date: '2022-07-07', leave_duration: '1', leave_duration_unit: 1, paid_type: 3 },
  ],
  ...patch,
});
const approve = (raw: unknown) => readLeaveRequest(raw) as LeaveApproval;
const reason = (raw: unknown) => {
  try {
    readLeaveRequest(raw);
  } catch (err) {
    if (err instanceof UnusableEventError) return err.message;
    throw err;
  }
  return null;
};

describe('a CoreHR leave request as the canonical leave', () => {
  it('quarantines the documented example as published: its 2-hour request has a detail in days', () => {
    expect(reason(example)).toBe("corehr.leave_request: details[0].leave_duration_unit 1 differs from the request's 2");
  });

  it('reads an approved request: kind leave, source corehr, the Feishu user_id, the i18n name, days from details with paid_type', () => {
    const e = approve(request({ leave_type_name: [{ lang: 'en-US', value: 'Annual' }, { lang: 'zh-CN', value: '年假' }] }));
    expect(e).toMatchObject({
      kind: 'approve',
      approvalKind: 'leave',
      variant: 'corehr',
      source: 'corehr',
      instanceCode: 'corehr-4718803945687580505',
      employeeId: 'u_alice',
      leaveType: '年假',
      leaveTypeKey: '0',
      unit: 'DAY',
      intervalSeconds: 172_800,
      startLocal: '2022-07-06 00:00:00',
      endLocal: '2022-07-08 00:00:00',
      timezone: 'Asia/Shanghai',
      givenDays: [
        { date: '2022-07-06', quantity: '1', paidType: 2 },
        { date: '2022-07-07', quantity: '1', paidType: 3 },
      ],
    });
    expect(e.pending).toBeUndefined();
    expect(e.extra).toMatchObject({ corehr: { leave_request_id: '4718803945687580505', leave_process_id: ['7304865941202929196'] } });
    expect(daysOf(e)).toEqual(e.givenDays);
  });

  it('reads half days: a morning ends at noon, an afternoon starts at noon', () => {
    const e = approve(request({ start_time: '2022-07-06 afternoon', end_time: '2022-07-07 morning', leave_duration: '1', details: [
      { leave_date: '2022-07-06', leave_duration: '0.5', leave_duration_unit: 1, paid_type: 2 },
      { leave_date: '2022-07-07', leave_duration: '0.5', leave_duration_unit: 1, paid_type: 2 },
    ] }));
    expect(e).toMatchObject({ unit: 'DAY', intervalSeconds: 86_400, startLocal: '2022-07-06 12:00:00', endLocal: '2022-07-07 12:00:00' });
    expect(daysOf(e)).toEqual([
      { date: '2022-07-06', quantity: '0.5', paidType: 2 },
      { date: '2022-07-07', quantity: '0.5', paidType: 2 },
    ]);
    const morning = approve(request({ start_time: '2022-07-06 morning', end_time: '2022-07-06 morning', leave_duration: '0.5', details: undefined }));
    expect(morning).toMatchObject({ unit: 'HALF_DAY', intervalSeconds: 43_200, startLocal: '2022-07-06 00:00:00', endLocal: '2022-07-06 12:00:00' });
    // without details the days are allocated as an Approval leave's are
    expect(daysOf(morning)).toEqual([{ date: '2022-07-06', quantity: '0.5' }]);
  });

  it('reads hour requests, with dates only or with precise times', () => {
    const e = approve(request({ start_time: '2022-07-06', end_time: '2022-07-06', leave_duration: '2.5', leave_duration_unit: 2, details: [
      { leave_date: '2022-07-06', leave_duration: '2.5', leave_duration_unit: 2, paid_type: 3 },
    ] }));
    expect(e).toMatchObject({ unit: 'HALF_HOUR', intervalSeconds: 9_000 });
    expect(daysOf(e)).toEqual([{ date: '2022-07-06', quantity: '2.5', paidType: 3 }]);
    const precise = approve(request({ start_time: '2022-07-06 14:00:00', end_time: '2022-07-06 16:00:00', leave_duration: '2', leave_duration_unit: 2, details: [] }));
    expect(precise).toMatchObject({ unit: 'HOUR', intervalSeconds: 7_200, startLocal: '2022-07-06 14:00:00', endLocal: '2022-07-06 16:00:00' });
    expect(daysOf(precise)).toEqual([{ date: '2022-07-06', quantity: '2' }]);
  });

  it('maps the statuses: 1 and 3–5 active, 2 pending, 6–9 not active', () => {
    for (const s of [1, 3, 4, 5]) expect(approve(request({ leave_request_status: s })).pending).toBeUndefined();
    expect(approve(request({ leave_request_status: 2 })).pending).toBe(true);
    expect(daysOf(approve(request({ leave_request_status: 2 })))).toEqual([]);
    for (const s of [6, 7, 8, 9]) {
      expect(readLeaveRequest(request({ leave_request_status: s }))).toMatchObject({ kind: 'revert', via: 'corehr', status: 'CANCELED', instanceCode: 'corehr-4718803945687580505' });
    }
  });

  it('says why a request cannot be used', () => {
    expect(reason(request({ leave_request_status: 12 }))).toBe('corehr.leave_request: leave_request_status 12 is not one CoreHR documents (1–9)');
    expect(reason(request({ leave_request_status: 'approved' }))).toMatch(/^corehr.leave_request: leave_request_status: /);
    expect(reason(request({ start_time: undefined }))).toBe('corehr.leave_request: the request has no start_time');
    expect(reason(request({ end_time: '' }))).toBe('corehr.leave_request: the request has no end_time');
    expect(reason(request({ leave_duration: '3' }))).toBe('corehr.leave_request: leave_duration 3 does not match its details, which add up to 2');
    expect(reason(request({ employment_id: '' }))).toMatch(/employment_id is empty: the employee has no Feishu user_id/);
    expect(reason(request({ start_time: 'next monday' }))).toMatch(/start_time "next monday" is not YYYY-MM-DD/);
    expect(reason(request({ end_time: '2022-07-05' }))).toMatch(/end_time 2022-07-05 is not after start_time 2022-07-06/);
    expect(reason(request({ time_zone: 'Asia/Shangai' }))).toBe('corehr.leave_request: time_zone "Asia/Shangai" is not a zone');
    expect(reason(request({ leave_duration_unit: 3 }))).toBe('corehr.leave_request: leave_duration_unit 3 is neither 1 (day) nor 2 (hour)');
    // a cancelled request needs no employee: nothing is created for it
    expect(readLeaveRequest(request({ leave_request_status: 8, employment_id: '' }))).toMatchObject({ kind: 'revert' });
  });

  it('plans an unusable request into quarantine, named by its record, without the notes', () => {
    const planned = planDelivery({ eventType: 'corehr.leave_request', event: request({ leave_duration: '5' }), problem: null });
    expect(planned).toMatchObject({ status: 'quarantined', instanceCode: 'corehr-4718803945687580505' });
    const ok = planDelivery({ eventType: 'corehr.leave_request', event: request(), problem: null });
    expect(ok.status === 'applied' && ok.event.kind === 'approve' ? ok.event.reason : 'x').toBeNull();
  });

  it('reads both documented process events as doorbells', () => {
    for (const name of ['corehr_process_status_update_v2', 'corehr_process_updated_v2']) {
      const body = JSON.parse(readFileSync(new URL(`../fixtures/${name}.json`, import.meta.url), 'utf8')) as { header: { event_type: string }; event: unknown };
      expect(readCorehrEvent(body.header.event_type, body.event)).toEqual({
        kind: 'doorbell',
        processId: '7072306364927985196',
        status: 1,
        bizType: 'renewal_record',
        instanceCode: null,
      });
    }
    expect(() => readCorehrEvent('corehr.process.updated_v2', { status: 1 })).toThrow(/process_id/);
  });

  it('keys a request state by its content: the same state is the same delivery, a change is a new one', async () => {
    const a = await requestEventKey(request());
    expect(await requestEventKey({ ...request() })).toBe(a);
    expect(await requestEventKey(request({ leave_request_status: 8 }))).not.toBe(a);
    expect(a.startsWith('4718803945687580505:')).toBe(true);
  });
});
