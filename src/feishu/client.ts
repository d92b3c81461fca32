import { AccessTokenError, Client, LoggerLevel, withUserAccessToken } from '@larksuiteoapi/node-sdk';
import pRetry from 'p-retry';
import type { Logger } from '../logger.js';
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
import { asNumber, classifyFeishuError, FEISHU_CODES, FeishuCodeError, STALE_TOKEN_CODES, type Envelope } from './failures.js';
import { accountsUrlFor } from './oauth-urls.js';
import { pathSegment } from './path-segment.js';
import { httpWithTimeout, sdkLogger, TokenCache } from './sdk-setup.js';

/**
 * FeishuPort over the official SDK's Client. The SDK fetches and caches the tenant_access_token
 * (it renews 3 minutes before `expire`) and fills in the bearer header; everything it does not do
 * is here: treating `code != 0` as the failure it is (Feishu answers HTTP 200 for most of them, or
 * HTTP 400 with a code), classifying failures (transient, permanent, configuration: docs/architecture.md; failures.ts), a few in-process retries for the
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
