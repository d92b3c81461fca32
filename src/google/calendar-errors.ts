/** How a failed Calendar API call is classified for the outbox: failure class, Retry-After, quota scope, refusals. */
import { ExternalError } from '../ports.js';
import { describeNetworkError } from './auth.js';

/** Who a Google quota refusal was about: the whole project, or the one user acted as. */
export type QuotaScope = 'project' | 'user';

/** Google's error details, kept apart from our wording so refusal detection reads only Google's. */
export class GoogleApiError extends ExternalError {
  constructor(
    failure: ExternalError['failure'],
    message: string,
    status: number | undefined,
    reason: string | undefined,
    readonly googleMessage: string,
    retryAfter?: number,
  ) {
    super(failure, message, status, reason, retryAfter);
  }
}

/**
 * Over the per-minute quota of the project or of the user: a delay, not a failure
 * (https://developers.google.com/workspace/calendar/api/guides/errors#403_rate_limit_exceeded,
 * https://developers.google.com/workspace/calendar/api/guides/quota).
 */
const RATE_LIMIT_403 = new Set(['ratelimitexceeded', 'userratelimitexceeded']);
/** Calendar usage limits and the daily quota: they last hours, retried on the durable backoff. */
const TRANSIENT_403 = new Set(['quotaexceeded', 'dailylimitexceeded']);
/** The Calendar API is off in the project, or the token lacks the scope: fix the setup, not retry. */
const CONFIGURATION_403 = new Set(['accessnotconfigured', 'servicedisabled', 'insufficientpermissions']);

const norm = (reason: string | undefined) => (reason ?? '').replace(/_/g, '').toLowerCase();

interface ErrorBody {
  error?: {
    message?: string;
    status?: string;
    errors?: Array<{ reason?: string; message?: string }>;
    details?: Array<{ reason?: string }>;
  };
}

/**
 * Retry-After is either a number of seconds or an HTTP date
 * (https://www.rfc-editor.org/rfc/rfc9110#field.retry-after). gaxios hands the response headers
 * as a fetch Headers object.
 */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  const h = headers as { get?: (name: string) => string | null } & Record<string, unknown>;
  const raw = typeof h?.get === 'function' ? h.get('retry-after') : h?.['retry-after'];
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whose quota a rate-limit answer is about: userRateLimitExceeded names the user, anything else the project. */
export function quotaScopeOf(err: ExternalError): QuotaScope {
  return norm(err.reason) === 'userratelimitexceeded' ? 'user' : 'project';
}

export function classify(err: unknown, what: string): ExternalError {
  if (err instanceof ExternalError) return err;
  const response = (err as { response?: { status?: unknown; data?: unknown; headers?: unknown } } | null)?.response;
  const status = typeof response?.status === 'number' ? response.status : undefined;
  if (status === undefined) {
    // gaxios wraps every fetch failure (refused, reset, TimeoutError) in a GaxiosError carrying
    // `config`; anything else was thrown before a request was made: a bug, not worth retrying.
    const fromFetch = typeof err === 'object' && err !== null && ('config' in err || Symbol.for('gaxios-gaxios-error') in err);
    return fromFetch
      ? new GoogleApiError('transient', `${what}: ${describeNetworkError(err)}`, undefined, undefined, '')
      : new GoogleApiError('permanent', `${what}: ${(err as Error)?.message ?? String(err)}`, undefined, undefined, '');
  }
  const body = (typeof response?.data === 'object' && response.data ? response.data : {}) as ErrorBody;
  const reason =
    body.error?.errors?.find((e) => e.reason)?.reason ?? body.error?.details?.find((d) => d.reason)?.reason ?? body.error?.status;
  const googleMessage = body.error?.message ?? body.error?.errors?.find((e) => e.message)?.message ?? (typeof response?.data === 'string' ? response.data.slice(0, 200) : '');
  const message = `${what}: ${status}${reason ? ` ${reason}` : ''}${googleMessage ? `: ${googleMessage}` : ''}`;
  let failure: ExternalError['failure'];
  if (status === 401) failure = 'configuration';
  else if (status === 429 || (status === 403 && RATE_LIMIT_403.has(norm(reason)))) failure = 'rate_limited';
  else if (status === 408 || status >= 500) failure = 'transient';
  else if (status === 403 && TRANSIENT_403.has(norm(reason))) failure = 'transient';
  else if (status === 403 && CONFIGURATION_403.has(norm(reason))) failure = 'configuration';
  else failure = 'permanent';
  const wait = failure === 'rate_limited' ? retryAfterMs(response?.headers) : undefined;
  return new GoogleApiError(failure, message, status, reason, googleMessage, wait);
}

export const hasStatus = (err: unknown, ...statuses: number[]) =>
  err instanceof ExternalError && err.status !== undefined && statuses.includes(err.status);

/**
 * Google refuses an out-of-office event with a 400/403 whose reason or message names the event type
 * (consumer accounts, secondary calendars, admin policy). Rate-limit 403s never do.
 */
export function isEventTypeRefusal(err: unknown): err is GoogleApiError {
  return (
    err instanceof GoogleApiError &&
    (err.status === 400 || err.status === 403) &&
    !TRANSIENT_403.has(norm(err.reason)) &&
    !RATE_LIMIT_403.has(norm(err.reason)) &&
    /event ?type|out ?of ?office|out-of-office/i.test(`${err.reason ?? ''} ${err.googleMessage}`)
  );
}
