/**
 * The CoreHR (Feishu People) part of the fake Feishu Open API (test/fakes/feishu.ts serves it):
 *
 *   GET /open-apis/corehr/v1/leaves/leave_request_history?page_size&page_token&user_id_type
 *       &leave_update_time_min&leave_update_time_max&leave_start_date_max&leave_end_date_min
 *       → {leave_request_list, has_more, page_token}, in the shape of the page's response example
 *       (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history):
 *       requests ordered by (update time, id); the page token is the last one's
 *       `[<update ms>,"<id>"]`, as the documented example token looks; update times are
 *       `yyyy-MM-dd HH:mm:ss` in `zone` (default Asia/Shanghai), bounds inclusive to the second;
 *       `employment_id` (and `submitted_by`) are the people_corehr_id unless user_id_type=user_id,
 *       which gives the mapped Feishu user_id, or "" for a person without one; page_size above 100
 *       → HTTP 400 code 1160016 (invalid param); at most `pageSize` requests a page.
 *
 * Knobs (fake.corehr)
 *   put(request, updatedMs?)          add or replace a request (the documented record's fields;
 *                                     `employment_id` is the CoreHR id) updated at updatedMs (default now)
 *   update(id, patch, updatedMs?)     change a request: a new state and update time, as an approver's step does
 *   mapUser(corehrId, userId)         people_corehr_id → Feishu user_id (unmapped: "")
 *   pageSize                          most requests per page (default 100)
 *   zone                              the zone update times are read in
 *   queries                           every query received (parsed)
 */
import { DateTime } from 'luxon';

export interface CorehrQuery {
  page_size?: string;
  page_token?: string;
  user_id_type?: string;
  leave_update_time_min?: string;
  leave_update_time_max?: string;
  leave_start_date_max?: string;
  leave_end_date_min?: string;
  return_detail?: string;
}

export type FakeLeaveRequest = Record<string, unknown> & { leave_request_id: string; employment_id: string };

export interface FakeCorehr {
  put(request: FakeLeaveRequest, updatedMs?: number): void;
  update(id: string, patch: Record<string, unknown>, updatedMs?: number): void;
  mapUser(corehrId: string, userId: string): void;
  pageSize: number;
  zone: string;
  readonly queries: CorehrQuery[];
  get(id: string): FakeLeaveRequest | undefined;
  /** answer one request of the route: status and body */
  answer(query: CorehrQuery): { status: number; body: unknown };
}

const datePart = (v: unknown): string | null => {
  if (typeof v !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(v.trim());
  return m ? m[1]! : null;
};

export function createFakeCorehr(now: () => number): FakeCorehr {
  const requests = new Map<string, { record: FakeLeaveRequest; updatedMs: number }>();
  const users = new Map<string, string>();
  const queries: CorehrQuery[] = [];
  const fake: FakeCorehr = {
    pageSize: 100,
    zone: 'Asia/Shanghai',
    queries,
    put(record, updatedMs = now()) {
      requests.set(record.leave_request_id, { record: structuredClone(record), updatedMs });
    },
    update(id, patch, updatedMs = now()) {
      const cur = requests.get(id);
      if (!cur) throw new Error(`fake corehr: no request ${id}`);
      requests.set(id, { record: { ...cur.record, ...structuredClone(patch) }, updatedMs: Math.max(updatedMs, cur.updatedMs) });
    },
    mapUser(corehrId, userId) {
      users.set(corehrId, userId);
    },
    get: (id) => requests.get(id)?.record,
    answer(query) {
      queries.push(query);
      const size = Number(query.page_size ?? '');
      if (!Number.isInteger(size) || size < 1 || size > 100) {
        return { status: 400, body: { code: 1160016, msg: 'Invalid param: page_size', data: {} } };
      }
      const wall = (v: string | undefined, edge: 'min' | 'max'): number | null => {
        if (v === undefined) return null;
        const t = DateTime.fromFormat(v, 'yyyy-MM-dd HH:mm:ss', { zone: fake.zone });
        if (!t.isValid) return NaN;
        return edge === 'min' ? t.toMillis() : t.toMillis() + 999;
      };
      const min = wall(query.leave_update_time_min, 'min');
      const max = wall(query.leave_update_time_max, 'max');
      if (Number.isNaN(min) || Number.isNaN(max)) return { status: 400, body: { code: 1160016, msg: 'Invalid param: leave_update_time', data: {} } };
      let after: [number, string] | null = null;
      if (query.page_token) {
        try {
          const t = JSON.parse(query.page_token) as unknown;
          if (!Array.isArray(t) || typeof t[0] !== 'number' || typeof t[1] !== 'string') throw new Error('bad');
          after = [t[0], t[1]];
        } catch {
          return { status: 400, body: { code: 1160016, msg: 'Invalid param: page_token', data: {} } };
        }
      }
      const byUser = query.user_id_type === 'user_id';
      const rows = [...requests.values()]
        .filter(({ record, updatedMs }) => {
          if (min !== null && updatedMs < min!) return false;
          if (max !== null && updatedMs > max!) return false;
          const start = datePart(record.start_time);
          const end = datePart(record.end_time);
          if (query.leave_start_date_max && start !== null && start > query.leave_start_date_max) return false;
          if (query.leave_end_date_min && end !== null && end < query.leave_end_date_min) return false;
          return true;
        })
        .sort((a, b) => a.updatedMs - b.updatedMs || (a.record.leave_request_id < b.record.leave_request_id ? -1 : 1))
        .filter(({ record, updatedMs }) => after === null || updatedMs > after[0] || (updatedMs === after[0] && record.leave_request_id > after[1]));
      const take = Math.min(size, fake.pageSize);
      const page = rows.slice(0, take);
      const more = rows.length > take;
      const last = page[page.length - 1];
      const asUser = (id: unknown) => (typeof id === 'string' ? (users.get(id) ?? '') : id);
      return {
        status: 200,
        body: {
          code: 0,
          msg: 'success',
          data: {
            leave_request_list: page.map(({ record }) =>
              byUser ? { ...record, employment_id: asUser(record.employment_id), ...('submitted_by' in record ? { submitted_by: asUser(record.submitted_by) } : {}) } : record,
            ),
            has_more: more,
            ...(more && last ? { page_token: JSON.stringify([last.updatedMs, last.record.leave_request_id]) } : {}),
          },
        },
      };
    },
  };
  return fake;
}
