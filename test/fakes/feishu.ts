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
 *        → {data: {user: {user_id, open_id, name, email, enterprise_email}}}; unknown → HTTP 400 code 41012;
 *        a user outside the contact range → HTTP 400 code 41050; `email` only with the scope
 *        contact:user.email:readonly, `enterprise_email` only with contact:user.employee:readonly
 *        (Feishu leaves a field out, without an error, when the app lacks its scope)
 *   GET  /open-apis/approval/v4/approvals/:approval_code
 *        → {data: {approval_name, status, form (a JSON string of widgets), node_list, viewers}};
 *        unknown → HTTP 400 code 1390002; without approval:approval(:readonly) → HTTP 400 code 99991672
 *   POST /open-apis/approval/v4/approvals/:approval_code/subscribe
 *        → code 0 the first time, code 1390007 "subscription existed" (HTTP 200) afterwards;
 *        an approval code never added → HTTP 400 code 1390002; without approval:approval → 99991672
 *   GET  /open-apis/approval/v4/instances?approval_code&start_time&end_time&page_size&page_token
 *        → {instance_code_list, page_token, has_more}: instances whose creation time (`start_time`,
 *        ms) is in [start_time, end_time], oldest first; a range wider than 10 h → HTTP 400 code
 *        1390001 (Feishu's documented limit); page size = min(page_size, opts.pageSize)
 *   GET  /open-apis/approval/v4/instances/:instance_id
 *        → {approval_code, instance_code, status, reverted, user_id, open_id, start_time, end_time,
 *        form (a JSON *string* of widgets), task_list, timeline, …}; unknown → HTTP 400 code 1390003
 *
 *        with department_id_type=open_department_id|department_id: also `department_ids` (the
 *        user's `departments`, as open ids or their custom department_id)
 *   GET  /open-apis/contact/v3/departments/parent?department_id&department_id_type
 *        → {items: [{department_id, open_department_id, name}], has_more: false}: every department
 *        above it, nearest first
 *
 * Sign-in (Feishu's web-app OAuth; no tenant token involved)
 *   GET  /open-apis/authen/v1/authorize?client_id&redirect_uri&state&code_challenge&code_challenge_method
 *        → 302 to redirect_uri?code=…&state=… as the user set with signInAs() (the browser's
 *        Feishu account), or ?error=access_denied&state=… when that is null; an unknown client_id
 *        → 400
 *   POST /oauth/v3/token  {grant_type: authorization_code, client_id, client_secret, code,
 *        redirect_uri, code_verifier} → {code 0, access_token, token_type, expires_in}; a code used
 *        twice, older than 5 minutes, for another redirect_uri, or whose PKCE verifier does not match
 *        → HTTP 400 {code 20003, error: invalid_grant}; wrong client credentials → HTTP 400 code 20002
 *   GET  /open-apis/authen/v1/user_info (Bearer <user token>) → {data: {open_id, union_id, user_id,
 *        name, en_name, tenant_key}}; an unknown token → HTTP 401 code 99991668
 *
 * Knobs
 *   addUser({user_id, open_id?, name?, email?, enterprise_email?, departments?})
 *   addDepartment({open_department_id, department_id?, parent?})   parent: an open_department_id
 *   signInAs(user_id | null)                   who the authorize page signs in next
 *   now(ms)                                    the fake's clock for code expiry (default Date.now)
 *   addApproval(code, {name?, status?, form?, subscribed?})   a definition (default: ACTIVE, a form
 *                                              with a leaveGroupV2 widget, not subscribed);
 *                                              addInstance adds its approval code too
 *   revokeScope(scope) / grantScope(scope)     the app's scopes (default: all the service needs)
 *   outsideContactRange(user_id)               user.get of that user answers code 41050
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
 * Routes for fail()/calls(): 'token' | 'user.get' | 'approval.get' | 'approval.subscribe' | 'instance.list' | 'instance.get'
 *   | 'oauth.authorize' | 'oauth.token' | 'user_info' | 'department.parent' | 'corehr.leave_request_history'
 *
 * CoreHR: GET /open-apis/corehr/v1/leaves/leave_request_history and its knobs (fake.corehr) are
 * described in test/fakes/corehr.ts.
 *
 * leaveGroupV2Form(...) / leaveGroupForm(...) build a realistic instance `form` string with the
 * leave widget (see src/feishu/form.ts for the shapes accepted).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeCorehr, type FakeCorehr } from './corehr.js';

export type FakeRoute =
  | 'token'
  | 'user.get'
  | 'approval.get'
  | 'approval.subscribe'
  | 'instance.list'
  | 'instance.get'
  | 'oauth.authorize'
  | 'oauth.token'
  | 'user_info'
  | 'department.parent'
  | 'corehr.leave_request_history';

export interface FakeUser {
  user_id: string;
  open_id?: string;
  name?: string;
  email?: string;
  enterprise_email?: string;
  /** open_department_ids the user is a direct member of */
  departments?: string[];
}

export interface FakeDepartment {
  open_department_id: string;
  /** the custom id an administrator gave it */
  department_id?: string;
  /** the open_department_id of the department above; none for a top-level one */
  parent?: string;
}

export interface FakeApproval {
  name?: string;
  /** ACTIVE | INACTIVE | DELETED */
  status?: string;
  /** the definition's widgets (stringified when answered, as Feishu does) */
  form?: unknown[];
  /** the app is subscribed to it already */
  subscribed?: boolean;
}

/** Scopes the fake grants unless revoked: what leave-bridge's calls need. */
export const FAKE_SCOPES = ['approval:approval', 'approval:approval:readonly', 'contact:user.base:readonly', 'contact:user.email:readonly', 'contact:user.employee:readonly'] as const;

/** A definition form with the leave widget group, as the approval definition API answers it. */
export const LEAVE_DEFINITION_FORM = [
  { id: 'widgetLeaveGroupV2', name: '请假', type: 'leaveGroupV2', required: true },
  { id: 'widget16950000000001', name: 'Remarks', type: 'textarea', required: false },
];

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
  addDepartment(department: FakeDepartment): void;
  /** the Feishu account the authorize page signs in next (null: the person declines) */
  signInAs(userId: string | null): void;
  /** the fake's clock, for authorization code expiry */
  setNow(ms: number | null): void;
  addApproval(code: string, definition?: FakeApproval): void;
  revokeScope(scope: string): void;
  grantScope(scope: string): void;
  outsideContactRange(userId: string): void;
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
  /** the CoreHR leave requests (test/fakes/corehr.ts) */
  readonly corehr: FakeCorehr;
  close(): Promise<void>;
}

const TEN_HOURS = 10 * 3_600_000;

export async function startFakeFeishu(opts: FakeFeishuOptions = {}): Promise<FakeFeishu> {
  const appId = opts.appId ?? 'cli_fake_app';
  const appSecret = opts.appSecret ?? 'fake-app-secret-0123456789';
  const maxPage = opts.pageSize ?? 100;
  const maxRange = opts.maxListRangeMs ?? TEN_HOURS;
  const users = new Map<string, FakeUser>();
  const approvals = new Map<string, FakeApproval>();
  const scopes = new Set<string>(FAKE_SCOPES);
  const outOfRange = new Set<string>();
  /** Feishu's answer when the app lacks every one of `needed` (the 99991672 troubleshooting page's shape). */
  const missingScope = (needed: string[]) =>
    needed.some((s) => scopes.has(s))
      ? null
      : {
          code: 99991672,
          msg: `Access denied. One of the following scopes is required: [${needed.join(', ')}].`,
          error: { permission_violations: needed.map((subject) => ({ type: 'action_scope_required', subject })) },
        };
  const instances = new Map<string, FakeInstance>();
  const subscriptions = new Set<string>();
  const tokens = new Set<string>();
  const failures = new Map<FakeRoute, Array<{ failure: Failure; left: number }>>();
  const counts = new Map<FakeRoute, number>();
  const requests: FakeRequest[] = [];
  const corehr = createFakeCorehr(() => Date.now());
  let tokenSeq = 0;
  const departments = new Map<string, FakeDepartment>();
  let signedInAs: string | null = null;
  let fixedNow: number | null = null;
  const now = () => fixedNow ?? Date.now();
  /** authorization codes: who, for which redirect_uri and PKCE challenge, until when */
  const codes = new Map<string, { userId: string; redirectUri: string; challenge: string | null; expiresAt: number }>();
  /** user access tokens → user_id */
  const userTokens = new Map<string, string>();

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
    if (method === 'GET' && path === '/open-apis/authen/v1/authorize') return { route: 'oauth.authorize', params: [] };
    if (method === 'POST' && path === '/oauth/v3/token') return { route: 'oauth.token', params: [] };
    if (method === 'GET' && path === '/open-apis/authen/v1/user_info') return { route: 'user_info', params: [] };
    if (method === 'GET' && path === '/open-apis/contact/v3/departments/parent') return { route: 'department.parent', params: [] };
    let m = /^\/open-apis\/contact\/v3\/users\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) return { route: 'user.get', params: [decodeURIComponent(m[1]!)] };
    m = /^\/open-apis\/approval\/v4\/approvals\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) return { route: 'approval.get', params: [decodeURIComponent(m[1]!)] };
    m = /^\/open-apis\/approval\/v4\/approvals\/([^/]+)\/subscribe$/.exec(path);
    if (method === 'POST' && m) return { route: 'approval.subscribe', params: [decodeURIComponent(m[1]!)] };
    if (method === 'GET' && path === '/open-apis/approval/v4/instances') return { route: 'instance.list', params: [] };
    if (method === 'GET' && path === '/open-apis/corehr/v1/leaves/leave_request_history') return { route: 'corehr.leave_request_history', params: [] };
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

    if (route === 'oauth.authorize') {
      if (query.client_id !== appId || !query.redirect_uri) return send(res, 400, { code: 20001, msg: 'invalid client_id or redirect_uri' });
      const back = new URL(query.redirect_uri);
      if (query.state !== undefined) back.searchParams.set('state', query.state);
      if (signedInAs === null) {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = `code-${++tokenSeq}-${Math.random().toString(36).slice(2, 10)}`;
        codes.set(code, { userId: signedInAs, redirectUri: query.redirect_uri, challenge: query.code_challenge ?? null, expiresAt: now() + 5 * 60_000 });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }

    if (route === 'oauth.token') {
      const b = (body ?? {}) as Record<string, unknown>;
      if (b.client_id !== appId || b.client_secret !== appSecret) {
        return send(res, 400, { code: 20002, error: 'invalid_client', error_description: 'client authentication failed' });
      }
      const grant = typeof b.code === 'string' ? codes.get(b.code) : undefined;
      if (typeof b.code === 'string') codes.delete(b.code);
      const challengeOk = async () => {
        if (grant?.challenge === null || grant?.challenge === undefined) return true;
        if (typeof b.code_verifier !== 'string') return false;
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(b.code_verifier)));
        return Buffer.from(digest).toString('base64url') === grant.challenge;
      };
      if (b.grant_type !== 'authorization_code' || !grant || grant.expiresAt < now() || grant.redirectUri !== b.redirect_uri || !(await challengeOk())) {
        return send(res, 400, { code: 20003, error: 'invalid_grant', error_description: 'the authorization code is invalid or expired' });
      }
      const accessToken = `u-fake-${++tokenSeq}-${Math.random().toString(36).slice(2, 10)}`;
      userTokens.set(accessToken, grant.userId);
      return send(res, 200, { code: 0, access_token: accessToken, token_type: 'Bearer', expires_in: 7200, scope: '' });
    }

    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('Bearer ')) {
      return send(res, 400, { code: 99991661, msg: 'Missing access token for authorization. Please make a request with token attached.' });
    }
    if (route === 'user_info') {
      const user = users.get(userTokens.get(auth.slice('Bearer '.length)) ?? '');
      if (!user) return send(res, 401, { code: 99991668, msg: 'Invalid access token for authorization.' });
      return send(res, 200, {
        code: 0,
        msg: 'success',
        data: {
          name: user.name ?? user.user_id,
          en_name: user.name ?? user.user_id,
          open_id: user.open_id ?? `ou_${user.user_id}`,
          union_id: `on_${user.user_id}`,
          user_id: user.user_id,
          tenant_key: 'fake-tenant',
        },
      });
    }
    if (!tokens.has(auth.slice('Bearer '.length))) {
      return send(res, 400, { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.' });
    }

    switch (route) {
      case 'corehr.leave_request_history': {
        const answer = corehr.answer(query);
        return send(res, answer.status, answer.body);
      }
      case 'user.get': {
        const id = params[0]!;
        const byOpenId = query.user_id_type === 'open_id';
        const user = byOpenId ? [...users.values()].find((u) => u.open_id === id) : users.get(id);
        if (!user) return send(res, 400, { code: 41012, msg: 'user id invalid error' });
        const refused = missingScope(['contact:user.base:readonly', 'contact:contact:readonly_as_app']);
        if (refused) return send(res, 400, refused);
        if (outOfRange.has(user.user_id)) return send(res, 400, { code: 41050, msg: 'no user authority error' });
        return send(res, 200, {
          code: 0,
          msg: 'success',
          data: {
            user: {
              union_id: `on_${user.user_id}`,
              user_id: user.user_id,
              open_id: user.open_id ?? `ou_${user.user_id}`,
              name: user.name ?? user.user_id,
              ...(user.email !== undefined && scopes.has('contact:user.email:readonly') ? { email: user.email } : {}),
              ...(user.enterprise_email !== undefined && scopes.has('contact:user.employee:readonly') ? { enterprise_email: user.enterprise_email } : {}),
              ...(query.department_id_type
                ? {
                    department_ids: (user.departments ?? []).map((d) =>
                      query.department_id_type === 'department_id' ? (departments.get(d)?.department_id ?? d) : d,
                    ),
                  }
                : {}),
              status: { is_frozen: false, is_resigned: false, is_activated: true, is_exited: false, is_unjoin: false },
            },
          },
        });
      }
      case 'approval.get': {
        const code = params[0]!;
        const refused = missingScope(['approval:approval', 'approval:approval:readonly']);
        if (refused) return send(res, 400, refused);
        const def = approvals.get(code);
        if (!def) return send(res, 400, { code: 1390002, msg: 'approval code not found' });
        return send(res, 200, {
          code: 0,
          msg: 'success',
          data: {
            approval_name: def.name ?? 'Leave',
            status: def.status ?? 'ACTIVE',
            form: JSON.stringify(def.form ?? LEAVE_DEFINITION_FORM),
            node_list: [{ name: 'Manager', need_approver: true, node_id: 'node-1', node_type: 'AND', approver_chosen_multi: false }],
            viewers: [{ type: 'TENANT' }],
          },
        });
      }
      case 'department.parent': {
        const byOpen = query.department_id_type !== 'department_id';
        let current = byOpen
          ? departments.get(query.department_id ?? '')
          : [...departments.values()].find((d) => d.department_id === query.department_id);
        if (!current) return send(res, 400, { code: 40014, msg: 'department not found' });
        const items: Array<Record<string, string>> = [];
        while (current?.parent) {
          const parent = departments.get(current.parent);
          if (!parent) break;
          items.push({ open_department_id: parent.open_department_id, department_id: parent.department_id ?? parent.open_department_id, name: parent.open_department_id });
          current = parent;
        }
        return send(res, 200, { code: 0, msg: 'success', data: { items, has_more: false } });
      }
      case 'approval.subscribe': {
        const code = params[0]!;
        const refused = missingScope(['approval:approval']);
        if (refused) return send(res, 400, refused);
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
    addDepartment: (d) => void departments.set(d.open_department_id, d),
    signInAs: (userId) => {
      signedInAs = userId;
    },
    setNow: (ms) => {
      fixedNow = ms;
    },
    addApproval: (code, definition = {}) => {
      approvals.set(code, definition);
      if (definition.subscribed) subscriptions.add(code);
    },
    revokeScope: (scope) => void scopes.delete(scope),
    grantScope: (scope) => void scopes.add(scope),
    outsideContactRange: (userId) => void outOfRange.add(userId),
    addInstance: (i) => {
      if (!approvals.has(i.approval_code)) approvals.set(i.approval_code, {});
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
    corehr,
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
