import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FakeLeaveRequest } from '../fakes/corehr.js';
import { DOC_TOKEN } from './feishu.js';
import type { World } from './outbox-world.js';

/** CoreHR test helpers: documented process events, requests shaped as the documented record, draining. */

export const processEvent = JSON.parse(readFileSync(new URL('../fixtures/corehr_process_status_update_v2.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** A documented process event (the token set to the test's Verification Token) for another process. */
export function doorbell(processId: string, type = 'corehr.process.status.update_v2', status = 9): string {
  const header = { ...(processEvent.header as Record<string, unknown>), event_id: randomUUID(), event_type: type, token: DOC_TOKEN };
  return JSON.stringify({ ...processEvent, header, event: { ...(processEvent.event as Record<string, unknown>), process_id: processId, status, biz_type: 'leave' } });
}

let seq = 0;
/** A request shaped as the documented record: whole days from `from` to `to`, 1 day each, paid_type 2. */
export function leaveRequest(p: { id?: string; employment: string; from: string; to: string; status?: number; process?: string; extra?: Record<string, unknown> }): FakeLeaveRequest {
  const id = p.id ?? `73${Date.now()}${++seq}`;
  const dates: string[] = [];
  for (let d = new Date(`${p.from}T00:00:00Z`); d <= new Date(`${p.to}T00:00:00Z`); d = new Date(d.getTime() + 86_400_000)) dates.push(d.toISOString().slice(0, 10));
  return {
    leave_request_id: id,
    employment_id: p.employment,
    employment_name: [{ lang: 'zh-CN', value: '张三' }],
    leave_type_id: '4718803945687580501',
    leave_type_name: [{ lang: 'zh-CN', value: '年假' }, { lang: 'en-US', value: 'Annual leave' }],
    start_time: p.from,
    end_time: p.to,
    leave_duration: String(dates.length),
    leave_duration_unit: 1,
    leave_request_status: p.status ?? 1,
    grant_source: 'manual',
    submitted_at: '1659080476',
    submitted_by: p.employment,
    notes: 'family matters',
    approval_date: p.from,
    details: dates.map((leave_date) => ({ leave_request_id: id, leave_date, leave_duration: '1', leave_duration_unit: 1, paid_type: 2 })),
    time_zone: 'Asia/Shanghai',
    leave_process_id: [p.process ?? `p${id}`],
    ...p.extra,
  };
}

export async function settle(w: World): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const s = await w.drainer.drainOnce({ budgetMs: 10_000 });
    if (s.claimed === 0) return;
  }
}

