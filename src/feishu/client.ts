import { AccessTokenError, Client, defaultHttpInstance, LoggerLevel, withUserAccessToken, type Cache, type HttpInstance } from '@larksuiteoapi/node-sdk';
import pRetry from 'p-retry';
import { sdkLogText, type Logger } from '../logger.js';
import {
  ExternalError,
  type FailureClass,
  type FeishuIdentity,
  type FeishuInstance,
  type FeishuPort,
  type FeishuSignInPort,
  type FeishuUser,
  type LeaveRequestPage,
} from '../ports.js';
import { accountsUrlFor } from './oauth-urls.js';

/**
 * FeishuPort over the official SDK's Client. The SDK fetches and caches the tenant_access_token
 * (it renews 3 minutes before `expire`) and fills in the bearer header; everything it does not do
 * is here: treating `code != 0` as the failure it is (Feishu answers HTTP 200 for most of them, or
 * HTTP 400 with a code), classifying failures (transient, permanent, configuration: docs/architecture.md), a few in-process retries for the
 * transient ones, and the API's own limits (instance list ranges of at most 10 h).
 */

export interface RetryOptions {
  /** retries after the first attempt */
  retries: number;
  minTimeout: number;
  maxTimeout: number;
}

export interface FeishuClientOptions {
  appId: string;
  appSecret: string;
  /** FEISHU_BASE_URL: https://open.feishu.cn, https://open.larksuite.com, or a local fake */
  baseUrl: string;
  logger: Logger;
  retry?: Partial<RetryOptions>;
  /** per request; the SDK's own axios instance has none */
  timeoutMs?: number;
  /** page size for the instance list (1..100) */
  pageSize?: number;
}

const DEFAULT_RETRY: RetryOptions = { retries: 4, minTimeout: 500, maxTimeout: 8_000 };

/**
 * "单次查询时间范围不要超过10小时" — the instance list API refuses wider creation-time windows
 * (open.feishu.cn/document/server-docs/approval-v4/instance/list).
 */
export const LIST_WINDOW_MS = 10 * 3_600_000;

/** Feishu codes with a meaning for us (open.feishu.cn generic error codes + the API pages). */
export const FEISHU_CODES = {
  /** request trigger frequency limit */
  rateLimited: [99991400],
  /** server-side trouble the API pages say to retry: "There have been some errors. Please try again later", internal error */
  retryLater: [1395001, 40003],
  /** credentials: invalid param on the token call, app secret invalid, app not enabled; missing/invalid tenant token */
  credentials: [10003, 10012, 10014, 99991661, 99991663, 99991664, 99991665, 99991671],
  /** the app lacks a scope, an IP allow-list refuses us, a user is outside the contact range */
  permissions: [99991401, 99991672, 99991679, 41050],
  /** contact v3 user get: "user id invalid error" */
  userNotFound: 41012,
  /** approval subscribe: "subscription existed" */
  alreadySubscribed: 1390007,
  /** approval definition get / subscribe: "approval code not found" */
  approvalNotFound: 1390002,
  /** approval instance get: "instance code not found" */
  instanceNotFound: 1390003,
  /**
   * CoreHR leave API's server-side errors (HTTP 500 on its page: employment lookup, database,
   * eligibility, accrual, balance, internal, unknown), worth another try
   * (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history)
   */
  corehrRetryLater: [1160011, 1160012, 1160013, 1160014, 1160015, 1160023, 1169999],
  /** CoreHR: "No permission to access the employee data" */
  corehrNoPermission: [1160035],
} as const;

/** A token the server refused though the SDK's cache still holds it (revoked, secret rotated). */
const STALE_TOKEN_CODES = new Set<number>([99991663, 99991664, 99991665]);

interface Envelope<T> {
  code?: number;
  msg?: string;
  data?: T;
}

/** A business failure as Feishu reported it: code != 0, whatever the HTTP status. */
class FeishuCodeError extends Error {
  constructor(
    readonly api: string,
    readonly code: number,
    readonly feishuMsg: string,
    readonly httpStatus: number,
    readonly retryAfterMs: number | null,
  ) {
    super(`feishu ${api}: code ${code}${feishuMsg ? ` ${feishuMsg}` : ''}${httpStatus !== 200 ? ` (HTTP ${httpStatus})` : ''}`);
    this.name = 'FeishuCodeError';
  }
}

function classOfCode(code: number): FailureClass {
  if ((FEISHU_CODES.rateLimited as readonly number[]).includes(code)) return 'transient';
  if ((FEISHU_CODES.retryLater as readonly number[]).includes(code)) return 'transient';
  if ((FEISHU_CODES.corehrRetryLater as readonly number[]).includes(code)) return 'transient';
  if ((FEISHU_CODES.corehrNoPermission as readonly number[]).includes(code)) return 'configuration';
  if ((FEISHU_CODES.credentials as readonly number[]).includes(code)) return 'configuration';
  if ((FEISHU_CODES.permissions as readonly number[]).includes(code)) return 'configuration';
  return 'permanent';
}

function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  return null;
}

interface AxiosLike {
  isAxiosError?: boolean;
  message?: string;
  code?: string;
  config?: { url?: string };
  response?: { status?: number; data?: unknown; headers?: Record<string, unknown> };
}

function retryAfterOf(headers: Record<string, unknown> | undefined): number | null {
  if (!headers) return null;
  // Feishu's gateway: x-ogw-ratelimit-reset = seconds until the window resets
  for (const name of ['x-ogw-ratelimit-reset', 'retry-after']) {
    const n = asNumber(headers[name]);
    if (n !== null && n >= 0) return n * 1000;
  }
  return null;
}

/**
 * Turn anything the SDK or the network threw into an ExternalError. Messages name the API, the
 * HTTP status and Feishu's code/msg; they never include request bodies (the token call carries
 * the app secret).
 */
export function classifyFeishuError(api: string, err: unknown): ExternalError & { retryAfterMs?: number | null } {
  if (err instanceof ExternalError) return err;
  if (err instanceof FeishuCodeError) {
    const failure = err.httpStatus === 429 || err.httpStatus >= 500 ? 'transient' : classOfCode(err.code);
    return Object.assign(new ExternalError(failure, err.message, err.httpStatus, String(err.code)), { retryAfterMs: err.retryAfterMs });
  }
  const e = (err ?? {}) as AxiosLike;
  const isTokenCall = typeof e.config?.url === 'string' && e.config.url.includes('/auth/v3/tenant_access_token');
  const where = isTokenCall ? `${api} (tenant_access_token)` : api;
  if (e.isAxiosError && e.response) {
    const status = e.response.status ?? 0;
    const body = e.response.data as { code?: unknown; msg?: unknown } | undefined;
    const code = typeof body === 'object' && body !== null ? asNumber(body.code) : null;
    const msg = typeof body === 'object' && body !== null && typeof body.msg === 'string' ? body.msg : '';
    const text = `feishu ${where}: HTTP ${status}${code !== null ? ` code ${code}` : ''}${msg ? ` ${msg}` : ''}`;
    let failure: FailureClass;
    if (status === 429 || status >= 500) failure = 'transient';
    else if (code !== null) failure = classOfCode(code);
    // a 4xx without a code from the token endpoint can only be about our credentials
    else failure = isTokenCall || status === 401 ? 'configuration' : 'permanent';
    if (isTokenCall && failure === 'permanent') failure = 'configuration';
    return Object.assign(new ExternalError(failure, text, status, code !== null ? String(code) : undefined), {
      retryAfterMs: retryAfterOf(e.response.headers),
    });
  }
  if (e.isAxiosError) {
    // no response: refused, reset, DNS, timeout
    return new ExternalError('transient', `feishu ${where}: ${e.code ?? 'network error'} ${e.message ?? ''}`.trim());
  }
  const message = err instanceof Error ? err.message : String(err);
  // The SDK's token manager throws a plain Error for an HTTP-200 token failure:
  // "failed to get tenant_access_token, code: 10014, msg: app secret invalid"
  const token = /failed to get tenant_access_token, code: (-?\d+|unknown), msg: (.*)$/s.exec(message);
  if (token) {
    const code = asNumber(token[1]);
    const failure = code !== null && classOfCode(code) === 'transient' ? 'transient' : 'configuration';
    return new ExternalError(failure, `feishu ${api}: tenant_access_token refused: code ${token[1]} ${token[2]}`.trim(), 200, code !== null ? String(code) : undefined);
  }
  return new ExternalError('permanent', `feishu ${api}: ${message}`);
}

/** The SDK's token cache is module-global by default; each client keeps its own so tests (and a
 * second app id) never share a token, and a refused token can be dropped. */
class TokenCache implements Cache {
  private readonly values = new Map<string, { value: unknown; expiresAt: number | undefined }>();
  // `Symbol` (not `symbol`): the SDK's Cache interface declares it so
  async get(key: string | Symbol, options?: { namespace?: string }): Promise<unknown> {
    const entry = this.values.get(`${options?.namespace ?? ''}/${String(key)}`);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return undefined;
    return entry.value;
  }
  async set(key: string | Symbol, value: unknown, expiresAt?: number, options?: { namespace?: string }): Promise<boolean> {
    this.values.set(`${options?.namespace ?? ''}/${String(key)}`, { value, expiresAt });
    return true;
  }
  clear(): void {
    this.values.clear();
  }
}

/** The SDK logs whole axios errors (request bodies included): keep only messages, at debug. */
function sdkLogger(logger: Logger, secret: string) {
  const scrub = (line: string) => (secret ? line.split(secret).join('[redacted]') : line);
  const log = (...parts: unknown[]) => {
    const detail = scrub(sdkLogText(parts));
    if (detail) logger.debug('feishu sdk', { detail });
  };
  return { error: log, warn: log, info: () => {}, debug: () => {}, trace: () => {} };
}

/**
 * An id for a path segment of an Open API URL. The SDK puts path parameters in as they are
 * (fillApiPath does no encoding), so `../../contact/v3/users/x` as an instance code would reach
 * another endpoint with the app's token. Encoded, a slash cannot leave its segment; `.` and `..`
 * (which URL parsers resolve even as %2E) and control characters are refused outright.
 */
export function pathSegment(what: string, id: string): string {
  if (id === '' || id.length > 200 || /^\.{1,2}$/.test(id) || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new ExternalError('permanent', `feishu: ${what} ${JSON.stringify(id.slice(0, 40))} is not a valid id`);
  }
  return encodeURIComponent(id);
}

function withoutBodyOnGet<T extends { method?: string; data?: unknown }>(opts: T): T {
  const method = (opts.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return opts;
  const { data: _ignored, ...rest } = opts;
  return rest as T;
}

function httpWithTimeout(timeoutMs: number): HttpInstance {
  // defaultHttpInstance unwraps `response.data` (the SDK relies on that); we only add a timeout.
  const http = defaultHttpInstance as unknown as HttpInstance;
  return {
    // The SDK sends `data: {}` with every call, GETs included (Client.formatPayload). Node's http
    // adapter puts that "{}" on the wire; on Workers axios uses its fetch adapter, and fetch refuses
    // a GET or HEAD with a body ("Request with a GET or HEAD method cannot have a body"). A GET has
    // no body to lose, so drop it here.
    request: (opts) => http.request({ timeout: timeoutMs, ...withoutBodyOnGet(opts) }),
    get: (url, opts) => http.get(url, { timeout: timeoutMs, ...opts }),
    delete: (url, opts) => http.delete(url, { timeout: timeoutMs, ...opts }),
    head: (url, opts) => http.head(url, { timeout: timeoutMs, ...opts }),
    options: (url, opts) => http.options(url, { timeout: timeoutMs, ...opts }),
    post: (url, data, opts) => http.post(url, data, { timeout: timeoutMs, ...opts }),
    put: (url, data, opts) => http.put(url, data, { timeout: timeoutMs, ...opts }),
    patch: (url, data, opts) => http.patch(url, data, { timeout: timeoutMs, ...opts }),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** An approval definition as GET /open-apis/approval/v4/approvals/:approval_code describes it. */
export interface ApprovalDefinition {
  approvalCode: string;
  name: string | null;
  /** ACTIVE | INACTIVE | DELETED | UNKNOWN */
  status: string | null;
  /** the form's widgets as Feishu returns them: a JSON string */
  form: string;
}

export interface FeishuClient extends Required<FeishuPort>, FeishuSignInPort {
  /** the underlying SDK client, for calls this port does not cover */
  readonly sdk: Client;
  /** Ask Feishu for a tenant_access_token now (not from the cache): the app id and secret work. */
  verifyCredentials(): Promise<void>;
  /** The approval definition, or null when Feishu does not know the code. */
  getApprovalDefinition(approvalCode: string): Promise<ApprovalDefinition | null>;
}

export function createFeishuClient(opts: FeishuClientOptions): FeishuClient {
  const retry = { ...DEFAULT_RETRY, ...opts.retry };
  const cache = new TokenCache();
  const pageSize = Math.max(1, Math.min(100, opts.pageSize ?? 100));
  const sdk = new Client({
    appId: opts.appId,
    appSecret: opts.appSecret,
    // a trailing slash would make the SDK build "//open-apis/…"
    domain: opts.baseUrl.replace(/\/+$/, ''),
    // where the OAuth token endpoint is (the SDK knows the official hosts only)
    oauthBaseUrl: accountsUrlFor(opts.baseUrl),
    cache,
    httpInstance: httpWithTimeout(opts.timeoutMs ?? 15_000),
    logger: sdkLogger(opts.logger, opts.appSecret),
    loggerLevel: LoggerLevel.warn,
  });

  /** One API call: code != 0 is a failure; a refused cached token is dropped and tried once more. */
  async function once<T>(api: string, fn: () => Promise<Envelope<T>>): Promise<T | undefined> {
    const run = async () => {
      try {
        const res = await fn();
        const code = asNumber(res?.code) ?? 0;
        if (code !== 0) throw new FeishuCodeError(api, code, typeof res?.msg === 'string' ? res.msg : '', 200, null);
        return res?.data;
      } catch (err) {
        throw classifyFeishuError(api, err);
      }
    };
    try {
      return await run();
    } catch (err) {
      if (err instanceof ExternalError && err.reason !== undefined && STALE_TOKEN_CODES.has(Number(err.reason))) {
        cache.clear();
        return await run();
      }
      throw err;
    }
  }

  /** `once` with in-process retries of transient failures (exponential backoff, p-retry). */
  function call<T>(api: string, fn: () => Promise<Envelope<T>>): Promise<T | undefined> {
    return pRetry(() => once(api, fn), {
      retries: retry.retries,
      minTimeout: retry.minTimeout,
      maxTimeout: retry.maxTimeout,
      factor: 2,
      randomize: true,
      shouldRetry: ({ error }) => error instanceof ExternalError && error.failure === 'transient',
      onFailedAttempt: async ({ error, retriesLeft }) => {
        const after = (error as { retryAfterMs?: number | null }).retryAfterMs;
        if (error instanceof ExternalError && error.failure === 'transient' && retriesLeft > 0) {
          opts.logger.warn('feishu call failed, retrying', { api, error: error.message, retriesLeft });
          // the gateway says when the rate-limit window resets; wait for it (bounded)
          if (typeof after === 'number' && after > 0) await sleep(Math.min(after, retry.maxTimeout));
        }
      },
    });
  }

  /** Known "no such thing" codes become null instead of an error. */
  async function orNull<T>(notFoundCode: number, p: Promise<T>): Promise<T | null> {
    try {
      return await p;
    } catch (err) {
      if (err instanceof ExternalError && err.reason === String(notFoundCode)) return null;
      throw err;
    }
  }

  return {
    sdk,

    async verifyCredentials() {
      cache.clear();
      await call('auth.v3.tenant_access_token', async () => {
        // the SDK's token manager: the same request (and the same failures) as every call makes
        await sdk.tokenManager.getTenantAccessToken();
        return { code: 0 };
      });
    },

    async getApprovalDefinition(approvalCode) {
      const data = await orNull(
        FEISHU_CODES.approvalNotFound,
        call('approval.v4.approval.get', () => sdk.approval.v4.approval.get({ path: { approval_code: approvalCode } })),
      );
      if (!data) return null;
      const d = data as Record<string, unknown>;
      return {
        approvalCode,
        name: str(d.approval_name),
        status: str(d.status),
        form: typeof d.form === 'string' ? d.form : JSON.stringify(d.form ?? []),
      };
    },

    async getUser(userId: string): Promise<FeishuUser | null> {
      const data = await orNull(
        FEISHU_CODES.userNotFound,
        call('contact.v3.user.get', () =>
          sdk.contact.v3.user.get({
            path: { user_id: pathSegment('user id', userId) },
            params: { user_id_type: 'user_id', department_id_type: 'open_department_id' },
          }),
        ),
      );
      const user = data?.user as Record<string, unknown> | undefined;
      if (!user) return null;
      return {
        userId: str(user.user_id) ?? userId,
        openId: str(user.open_id),
        name: str(user.name),
        email: str(user.email),
        enterpriseEmail: str(user.enterprise_email),
        departmentIds: Array.isArray(user.department_ids) ? user.department_ids.filter((d): d is string => typeof d === 'string' && d !== '') : null,
      };
    },

    async subscribeApproval(approvalCode: string): Promise<'subscribed' | 'already_subscribed'> {
      try {
        await call('approval.v4.approval.subscribe', () => sdk.approval.v4.approval.subscribe({ path: { approval_code: pathSegment('approval code', approvalCode) } }));
        return 'subscribed';
      } catch (err) {
        if (err instanceof ExternalError && err.reason === String(FEISHU_CODES.alreadySubscribed)) return 'already_subscribed';
        throw err;
      }
    },

    async listInstanceCodes(approvalCode: string, startMs: number, endMs: number): Promise<string[]> {
      const seen = new Set<string>();
      for (let from = startMs; from <= endMs; from += LIST_WINDOW_MS) {
        const to = Math.min(from + LIST_WINDOW_MS - 1, endMs);
        let pageToken: string | undefined;
        for (;;) {
          const data = await call('approval.v4.instance.list', () =>
            sdk.approval.v4.instance.list({
              params: {
                approval_code: approvalCode,
                start_time: String(from),
                end_time: String(to),
                page_size: pageSize,
                ...(pageToken ? { page_token: pageToken } : {}),
              },
            }),
          );
          for (const code of data?.instance_code_list ?? []) seen.add(code);
          const next = data?.has_more ? str(data.page_token) : null;
          // a has_more without a new token would loop forever: stop instead
          if (!next || next === pageToken) break;
          pageToken = next;
        }
      }
      return [...seen];
    },

    async getInstance(instanceCode: string): Promise<FeishuInstance | null> {
      const data = await orNull(
        FEISHU_CODES.instanceNotFound,
        call('approval.v4.instance.get', () =>
          sdk.approval.v4.instance.get({ path: { instance_id: pathSegment('instance code', instanceCode) }, params: { user_id_type: 'user_id' } }),
        ),
      );
      if (!data) return null;
      const d = data as Record<string, unknown>;
      const ms = (v: unknown) => {
        const n = asNumber(v);
        return n === null || n <= 0 ? null : n;
      };
      return {
        instanceCode: str(d.instance_code) ?? instanceCode,
        approvalCode: str(d.approval_code) ?? '',
        status: (str(d.status) ?? '').toUpperCase(),
        reverted: d.reverted === true || d.reverted === 'true',
        userId: str(d.user_id),
        openId: str(d.open_id),
        form: typeof d.form === 'string' ? d.form : JSON.stringify(d.form ?? []),
        startTimeMs: ms(d.start_time),
        endTimeMs: ms(d.end_time),
      };
    },

    async leaveRequestPage(query, pace): Promise<LeaveRequestPage> {
      const data = await call('corehr.v1.leave.leave_request_history', async () => {
        await pace?.();
        return sdk.corehr.v1.leave.leaveRequestHistory({
          params: {
            page_size: String(Math.max(1, Math.min(100, query.pageSize))),
            // the Feishu user_id used everywhere else, instead of the default people_corehr_id
            user_id_type: 'user_id',
            // per-date details with paid_type (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history)
            return_detail: true,
            ...(query.pageToken ? { page_token: query.pageToken } : {}),
            ...(query.updateTimeMin ? { leave_update_time_min: query.updateTimeMin } : {}),
            ...(query.updateTimeMax ? { leave_update_time_max: query.updateTimeMax } : {}),
            ...(query.startDateMax ? { leave_start_date_max: query.startDateMax } : {}),
            ...(query.endDateMin ? { leave_end_date_min: query.endDateMin } : {}),
          },
        });
      });
      const d = (data ?? {}) as Record<string, unknown>;
      const items = Array.isArray(d.leave_request_list) ? (d.leave_request_list as unknown[]) : [];
      const next = d.has_more === true ? str(d.page_token) : null;
      return { items, hasMore: next !== null && next !== query.pageToken, pageToken: next };
    },

    async identify({ code, redirectUri, codeVerifier }): Promise<FeishuIdentity> {
      let accessToken: string;
      try {
        // The SDK's OAuth client: {oauthBaseUrl}/oauth/v3/token with client_id and client_secret
        // (https://open.feishu.cn/document/uAjLw4CM/ukTMukTMukTM/authentication-management/access-token/get-user-access-token).
        ({ accessToken } = await sdk.accessToken.retrieveByAuthorizationCode({ code, redirectUri, codeVerifier }));
      } catch (err) {
        if (err instanceof AccessTokenError) {
          const status = (err as { statusCode?: number }).statusCode ?? 0;
          const failure: FailureClass = status === 0 || status === 429 || status >= 500 ? 'transient' : 'permanent';
          throw new ExternalError(failure, `feishu oauth token: HTTP ${status} ${err.message}`.trim(), status, String((err as { code?: unknown }).code ?? ''));
        }
        throw classifyFeishuError('oauth token', err);
      }
      const data = (await once('authen.v1.user_info', () => sdk.authen.v1.userInfo.get({}, withUserAccessToken(accessToken)))) as
        | Record<string, unknown>
        | undefined;
      const openId = str(data?.open_id);
      if (!openId) throw new ExternalError('permanent', 'feishu authen.v1.user_info: no open_id in the answer');
      return { openId, userId: str(data?.user_id), name: str(data?.name) ?? str(data?.en_name) };
    },

    async departmentsOf(openId: string): Promise<Set<string>> {
      const ids = new Set<string>();
      const user = pathSegment('open id', openId);
      const direct = async (type: 'open_department_id' | 'department_id') => {
        const data = await call('contact.v3.user.get', () =>
          sdk.contact.v3.user.get({ path: { user_id: user }, params: { user_id_type: 'open_id', department_id_type: type } }),
        );
        return (data?.user?.department_ids ?? []).filter((d): d is string => typeof d === 'string' && d !== '');
      };
      const [open, custom] = await Promise.all([direct('open_department_id'), direct('department_id')]);
      for (const d of [...open, ...custom]) ids.add(d);
      // every department above each of the user's: membership of a sub-department counts
      for (const department of open) {
        let pageToken: string | undefined;
        for (;;) {
          const data = await call('contact.v3.department.parent', () =>
            sdk.contact.v3.department.parent({
              params: { department_id: department, department_id_type: 'open_department_id', page_size: 50, ...(pageToken ? { page_token: pageToken } : {}) },
            }),
          );
          for (const item of data?.items ?? []) {
            if (item.department_id) ids.add(item.department_id);
            if (item.open_department_id) ids.add(item.open_department_id);
          }
          const next = data?.has_more ? str(data.page_token) : null;
          if (!next || next === pageToken) break;
          pageToken = next;
        }
      }
      return ids;
    },
  };
}
