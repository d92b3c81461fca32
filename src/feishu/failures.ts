/** Feishu API failures: the codes with a meaning for us, and anything the SDK or the network threw turned into a classified ExternalError. */
import { ExternalError, type FailureClass } from '../ports.js';

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
export const STALE_TOKEN_CODES = new Set<number>([99991663, 99991664, 99991665]);

export interface Envelope<T> {
  code?: number;
  msg?: string;
  data?: T;
}

/** A business failure as Feishu reported it: code != 0, whatever the HTTP status. */
export class FeishuCodeError extends Error {
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

export function asNumber(v: unknown): number | null {
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
