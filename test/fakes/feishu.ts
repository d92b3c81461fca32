/**
 * A fake Feishu Open API: a real HTTP server on 127.0.0.1 (port 0) that the real SDK client
 * (src/feishu/client.ts) talks to. Shapes follow open.feishu.cn's API pages.
 *
 *   const fake = await startFakeFeishu({ pageSize: 2 });
 *   const client = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger });
 *   …
 *   await fake.close();
 *
 * Routes
 *   POST /open-apis/auth/v3/tenant_access_token/internal   {app_id, app_secret} → {code 0, tenant_access_token, expire}
 *        wrong credentials → code 10014 "app secret invalid" (HTTP `opts.tokenFailureStatus`, default 200)
 *   every other route needs `Authorization: Bearer <issued token>`: missing → HTTP 400 code 99991661,
 *        unknown or revoked → HTTP 400 code 99991663
 *   GET  /open-apis/contact/v3/users/:user_id?user_id_type=user_id|open_id
 *        → {data: {user: {user_id, open_id, name, email, enterprise_email}}}; unknown → HTTP 400 code 41012
 *   POST /open-apis/approval/v4/approvals/:approval_code/subscribe
 *        → code 0 the first time, code 1390007 "subscription existed" (HTTP 200) afterwards;
 *        an approval code never added → HTTP 400 code 1390002
 *   GET  /open-apis/approval/v4/instances?approval_code&start_time&end_time&page_size&page_token
 *        → {instance_code_list, page_token, has_more}: instances whose creation time (`start_time`,
 *        ms) is in [start_time, end_time], oldest first; a range wider than 10 h → HTTP 400 code
 *        1390001 (Feishu's documented limit); page size = min(page_size, opts.pageSize)
 *   GET  /open-apis/approval/v4/instances/:instance_id
 *        → {approval_code, instance_code, status, reverted, user_id, open_id, start_time, end_time,
 *        form (a JSON *string* of widgets), task_list, timeline, …}; unknown → HTTP 400 code 1390003
 *
 * Knobs
 *   addUser({user_id, open_id?, name?, email?, enterprise_email?})
 *   addApproval(code)                          (addInstance adds its approval code too)
 *   addInstance({instance_code, approval_code, status, user_id, createdMs, form, reverted?, …})
 *   updateInstance(code, patch)                e.g. {status: 'APPROVED', reverted: true} for
 *                                              reconciliation (verify=feishu)
 *   fail(route, failure, times = 1)            the next `times` calls of `route` answer `failure`
 *                                              instead: {status: 429} (with x-ogw-ratelimit-reset),
 *                                              {code: 99991400} (HTTP 200), {status: 500},
 *                                              {status: 400, code: 1390001, msg}, … (Infinity = always)
 *   clearFailures(route?)                      forget injected failures
 *   revokeTokens()                             issued tokens become invalid (code 99991663)
 *   calls(route)                               how many requests reached `route` (failed ones too)
 *   requests                                   every request: {route, method, path, query}
 *   subscriptions                              approval codes subscribed
 *
 * Routes for fail()/calls(): 'token' | 'user.get' | 'approval.subscribe' | 'instance.list' | 'instance.get'
 *
 * leaveGroupV2Form(...) / leaveGroupForm(...) build a realistic instance `form` string with the
 * leave widget (see src/feishu/form.ts for the shapes accepted).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeRoute = 'token' | 'user.get' | 'approval.subscribe' | 'instance.list' | 'instance.get';

export interface FakeUser {
  user_id: string;
  open_id?: string;
  name?: string;
  email?: string;
  enterprise_email?: string;
}

export interface FakeInstance {
  instance_code: string;
  approval_code: string;
  /** PENDING | APPROVED | REJECTED | CANCELED | DELETED | REVERTED */
  status: string;
  reverted?: boolean;
  user_id: string;
  open_id?: string;
  /** creation time (ms): what the list API filters on, returned as `start_time` */
  createdMs: number;
  /** completion time (ms), 0 while pending */
  endMs?: number;
  /** a JSON string (as Feishu returns it) or widgets to be stringified */
  form: string | unknown[];
  approval_name?: string;
}

export interface Failure {
  /** HTTP status; default 200 (a business failure in a 200, as Feishu does) */
  status?: number;
  code?: number;
  msg?: string;
  headers?: Record<string, string>;
}

export interface FakeFeishuOptions {
  appId?: string;
  appSecret?: string;
  /** upper bound on the instance list page size */
  pageSize?: number;
  /** HTTP status of a refused token request (Feishu has answered both 200 and 400) */
  tokenFailureStatus?: number;
  /** widest accepted list range; default 10 h like Feishu */
  maxListRangeMs?: number;
}

export interface FakeRequest {
  route: FakeRoute | 'unknown';
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface FakeFeishu {
  url: string;
  appId: string;
  appSecret: string;
  addUser(user: FakeUser): void;
  addApproval(code: string): void;
  addInstance(instance: FakeInstance): void;
  updateInstance(code: string, patch: Partial<FakeInstance>): void;
  fail(route: FakeRoute, failure: Failure, times?: number): void;
  /** forget injected failures (of one route, or all) */
  clearFailures(route?: FakeRoute): void;
  revokeTokens(): void;
  calls(route: FakeRoute): number;
  readonly requests: FakeRequest[];
  readonly subscriptions: Set<string>;
  readonly tokensIssued: number;
  close(): Promise<void>;
}

const TEN_HOURS = 10 * 3_600_000;

export async function startFakeFeishu(opts: FakeFeishuOptions = {}): Promise<FakeFeishu> {
  const appId = opts.appId ?? 'cli_fake_app';
  const appSecret = opts.appSecret ?? 'fake-app-secret-0123456789';
  const maxPage = opts.pageSize ?? 100;
  const maxRange = opts.maxListRangeMs ?? TEN_HOURS;
  const users = new Map<string, FakeUser>();
  const approvals = new Set<string>();
  const instances = new Map<string, FakeInstance>();
  const subscriptions = new Set<string>();
  const tokens = new Set<string>();
  const failures = new Map<FakeRoute, Array<{ failure: Failure; left: number }>>();
  const counts = new Map<FakeRoute, number>();
  const requests: FakeRequest[] = [];
  let tokenSeq = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const takeFailure = (route: FakeRoute): Failure | null => {
    const queue = failures.get(route);
    const head = queue?.[0];
    if (!queue || !head) return null;
    head.left -= 1;
    if (head.left <= 0) queue.shift();
    return head.failure;
  };

  const sendFailure = (res: ServerResponse, f: Failure) => {
    const status = f.status ?? 200;
    const code = f.code ?? (status === 429 ? 99991400 : status >= 500 ? 1395001 : 1390001);
    const msg = f.msg ?? (code === 99991400 ? 'request trigger frequency limit' : 'injected failure');
    const headers = { ...(status === 429 ? { 'x-ogw-ratelimit-reset': '0' } : {}), ...f.headers };
    send(res, status, { code, msg, data: {} }, headers);
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  };

  const routeOf = (method: string, path: string): { route: FakeRoute; params: string[] } | null => {
    if (method === 'POST' && path === '/open-apis/auth/v3/tenant_access_token/internal') return { route: 'token', params: [] };
    let m = /^\/open-apis\/contact\/v3\/users\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) return { route: 'user.get', params: [decodeURIComponent(m[1]!)] };
    m = /^\/open-apis\/approval\/v4\/approvals\/([^/]+)\/subscribe$/.exec(path);
    if (method === 'POST' && m) return { route: 'approval.subscribe', params: [decodeURIComponent(m[1]!)] };
    if (method === 'GET' && path === '/open-apis/approval/v4/instances') return { route: 'instance.list', params: [] };
    m = /^\/open-apis\/approval\/v4\/instances\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) return { route: 'instance.get', params: [decodeURIComponent(m[1]!)] };
    return null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams.entries());
    const matched = routeOf(method, url.pathname);
    requests.push({ route: matched?.route ?? 'unknown', method, path: url.pathname, query });
    if (!matched) return send(res, 404, { code: 404, msg: `no route ${method} ${url.pathname}` });
    const { route, params } = matched;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    const body = method === 'POST' ? await readBody(req) : {};

    const injected = takeFailure(route);
    if (injected) return sendFailure(res, injected);

    if (route === 'token') {
      const b = (body ?? {}) as { app_id?: unknown; app_secret?: unknown };
      if (b.app_id !== appId || b.app_secret !== appSecret) {
        return send(res, opts.tokenFailureStatus ?? 200, { code: 10014, msg: 'app secret invalid' });
      }
      const token = `t-fake-${++tokenSeq}-${Math.random().toString(36).slice(2, 10)}`;
      tokens.add(token);
      return send(res, 200, { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 });
    }

    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('Bearer ')) {
      return send(res, 400, { code: 99991661, msg: 'Missing access token for authorization. Please make a request with token attached.' });
    }
    if (!tokens.has(auth.slice('Bearer '.length))) {
      return send(res, 400, { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' });
    }

    switch (route) {
      case 'user.get': {
        const id = params[0]!;
        const byOpenId = query.user_id_type === 'open_id';
        const user = byOpenId ? [...users.values()].find((u) => u.open_id === id) : users.get(id);
        if (!user) return send(res, 400, { code: 41012, msg: 'user id invalid error' });
        return send(res, 200, {
          code: 0,
          msg: 'success',
          data: {
            user: {
              union_id: `on_${user.user_id}`,
              user_id: user.user_id,
              open_id: user.open_id ?? `ou_${user.user_id}`,
              name: user.name ?? user.user_id,
              ...(user.email !== undefined ? { email: user.email } : {}),
              ...(user.enterprise_email !== undefined ? { enterprise_email: user.enterprise_email } : {}),
              status: { is_frozen: false, is_resigned: false, is_activated: true, is_exited: false, is_unjoin: false },
            },
          },
        });
      }
      case 'approval.subscribe': {
        const code = params[0]!;
        if (!approvals.has(code)) return send(res, 400, { code: 1390002, msg: 'approval code not found' });
        if (subscriptions.has(code)) return send(res, 200, { code: 1390007, msg: 'subscription existed' });
        subscriptions.add(code);
        return send(res, 200, { code: 0, msg: 'success', data: {} });
      }
      case 'instance.list': {
        const approval = query.approval_code ?? '';
        const start = Number(query.start_time);
        const end = Number(query.end_time);
        if (!approval || !Number.isFinite(start) || !Number.isFinite(end) || end < start) {
          return send(res, 400, { code: 1390001, msg: 'param is invalid' });
        }
        if (end - start > maxRange) return send(res, 400, { code: 1390001, msg: 'param is invalid: time range exceeds 10 hours' });
        if (!approvals.has(approval)) return send(res, 400, { code: 1390002, msg: 'approval code not found' });
        const size = Math.max(1, Math.min(Number(query.page_size ?? 100) || 100, 100, maxPage));
        const offset = query.page_token ? Number(Buffer.from(query.page_token, 'base64url').toString('utf8')) : 0;
        const matching = [...instances.values()]
          .filter((i) => i.approval_code === approval && i.createdMs >= start && i.createdMs <= end)
          .sort((a, b) => a.createdMs - b.createdMs || (a.instance_code < b.instance_code ? -1 : 1));
        const page = matching.slice(offset, offset + size);
        const hasMore = offset + size < matching.length;
        return send(res, 200, {
          code: 0,
          msg: 'success',
          data: {
            instance_code_list: page.map((i) => i.instance_code),
            ...(hasMore ? { page_token: Buffer.from(String(offset + size)).toString('base64url') } : {}),
            has_more: hasMore,
          },
        });
      }
      case 'instance.get': {
        const inst = instances.get(params[0]!);
        if (!inst) return send(res, 400, { code: 1390003, msg: 'instance code not found' });
        return send(res, 200, {
          code: 0,
          msg: 'success',
          data: {
            approval_name: inst.approval_name ?? 'Leave',
            approval_code: inst.approval_code,
            instance_code: inst.instance_code,
            start_time: String(inst.createdMs),
            end_time: String(inst.endMs ?? (inst.status === 'PENDING' ? 0 : inst.createdMs + 3_600_000)),
            user_id: inst.user_id,
            open_id: inst.open_id ?? `ou_${inst.user_id}`,
            serial_number: '202409050001',
            department_id: 'od-fake',
            status: inst.status,
            uuid: `uuid-${inst.instance_code}`,
            form: typeof inst.form === 'string' ? inst.form : JSON.stringify(inst.form),
            task_list: [],
            comment_list: [],
            timeline: [{ type: 'START', create_time: String(inst.createdMs), user_id: inst.user_id }],
            reverted: inst.reverted ?? false,
          },
        });
      }
      default:
        return send(res, 404, { code: 404, msg: 'no route' });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { code: 1, msg: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    appId,
    appSecret,
    addUser: (u) => void users.set(u.user_id, u),
    addApproval: (code) => void approvals.add(code),
    addInstance: (i) => {
      approvals.add(i.approval_code);
      instances.set(i.instance_code, { ...i });
    },
    updateInstance: (code, patch) => {
      const cur = instances.get(code);
      if (!cur) throw new Error(`fake feishu: no instance ${code}`);
      instances.set(code, { ...cur, ...patch });
    },
    fail: (route, failure, times = 1) => {
      const q = failures.get(route) ?? [];
      q.push({ failure, left: times });
      failures.set(route, q);
    },
    clearFailures: (route) => {
      if (route) failures.delete(route);
      else failures.clear();
    },
    revokeTokens: () => tokens.clear(),
    calls: (route) => counts.get(route) ?? 0,
    requests,
    subscriptions,
    get tokensIssued() {
      return tokenSeq;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

export interface LeaveWidgetSpec {
  /** leave type name as the form shows it */
  name?: string;
  /** RFC3339 with the submitter's offset, e.g. 2024-09-05T09:00:00+08:00 */
  start: string;
  end: string;
  /** in `unit`s (days for DAY, hours for HOUR) */
  interval: number;
  unit?: 'DAY' | 'HOUR';
  reason?: string;
}

/** An instance form with a leaveGroupV2 widget among ordinary ones, as a JSON string. */
export function leaveGroupV2Form(s: LeaveWidgetSpec): string {
  return JSON.stringify([
    { id: 'widget16xx1', custom_id: '', name: 'Handover', type: 'input', value: 'Bob covers' },
    {
      id: 'widgetLeaveGroupV2',
      name: 'Leave',
      type: 'leaveGroupV2',
      value: {
        name: s.name ?? 'Annual leave',
        start: s.start,
        end: s.end,
        interval: s.interval,
        unit: s.unit ?? 'DAY',
        reason: s.reason ?? 'family',
        timezoneOffset: -480,
      },
    },
  ]);
}

/** The older leaveGroup widget: no unit (days), no reason. */
export function leaveGroupForm(s: Omit<LeaveWidgetSpec, 'unit' | 'reason'>): string {
  return JSON.stringify([
    { id: 'widget1', name: 'leave', type: 'leaveGroup', value: { name: s.name ?? 'Annual leave', start: s.start, end: s.end, interval: s.interval } },
  ]);
}

/** An instance form with an outGroup (外出) widget: times with the submitter's offset, interval in `unit`s. */
export function outGroupForm(s: { name?: string; start: string; end: string; interval: number; unit?: 'HOUR' | 'DAY' | 'HALF_DAY' }): string {
  return JSON.stringify([
    { id: 'widgetOutGroup', name: 'Out', type: 'outGroup', value: { name: s.name ?? 'Client visit', start: s.start, end: s.end, interval: s.interval, unit: s.unit ?? 'HOUR', reason: 'client' } },
  ]);
}

/** An instance form with a workGroup (加班) widget: interval in hours. */
export function workGroupForm(s: { name?: string; start: string; end: string; interval: number }): string {
  return JSON.stringify([{ id: 'widgetWorkGroup', name: 'Overtime', type: 'workGroup', value: { name: s.name ?? 'weekday', start: s.start, end: s.end, interval: s.interval, reason: 'release' } }]);
}

/** An instance form with a tripGroup (出差) widget: schedules with intervals in days, peers by user_id. */
export function tripGroupForm(s: { schedules: Array<{ start: string; end: string; interval: number }>; peers?: string[] }): string {
  return JSON.stringify([
    {
      id: 'widgetTripGroup',
      name: 'Trip',
      type: 'tripGroup',
      value: { schedule: s.schedules.map((x) => ({ ...x, departure: 'Beijing', destination: 'Shanghai' })), reason: 'conference', peers: s.peers ?? [] },
    },
  ]);
}
