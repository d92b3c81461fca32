/**
 * The one error taxonomy: a closed set of codes, each with its HTTP status, mapped to the JSON
 * error shape `{"error": {"code", "message"}}` in app.onError and nowhere else. Domain code throws
 * AppError with a code from this table; docs/contract.md lists every code. Messages are written for
 * the operator and never carry secrets.
 */
const STATUS_OF = {
  // 400: the request is malformed
  bad_request: 400,
  invalid_query: 400,
  invalid_period: 400,
  invalid_date: 400,
  invalid_range: 400,
  invalid_id: 400,
  invalid_json: 400,
  invalid_body: 400,
  invalid_challenge: 400,
  invalid_ciphertext: 400,
  too_deep: 400,
  encrypt_key_missing: 400,
  // 401: not authenticated
  unauthorized: 401,
  token_not_configured: 401,
  bad_token: 401,
  bad_signature: 401,
  bad_timestamp: 401,
  stale_timestamp: 401,
  missing_signature: 401,
  decrypt_failed: 401,
  // 403: a browser made to act by another site
  cross_site_request: 403,
  // 404: no such thing (or the admin surface is off)
  not_found: 404,
  leave_not_found: 404,
  approval_not_found: 404,
  event_not_found: 404,
  outbox_not_found: 404,
  session_not_found: 404,
  policy_not_found: 404,
  feed_not_found: 404,
  // 409: not in a state that allows it
  not_retryable: 409,
  not_quarantined: 409,
  payload_purged: 409,
  // 413, 415, 422, 429
  body_too_large: 413,
  unsupported_media_type: 415,
  still_unusable: 422,
  too_many_attempts: 429,
  // 5xx: ours, or the database's (Feishu retries a 503)
  internal: 500,
  database_unavailable: 503,
  misconfigured: 503,
} as const;

export type ErrorCode = keyof typeof STATUS_OF;
export type ErrorStatus = (typeof STATUS_OF)[ErrorCode];

/** Every code the service can answer with, in table order. */
export const ERROR_CODES = Object.keys(STATUS_OF) as ErrorCode[];

export const statusOf = (code: ErrorCode): ErrorStatus => STATUS_OF[code];

export class AppError extends Error {
  readonly status: ErrorStatus;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** response headers that belong with the error (Retry-After of a 429, Connection: close of a 413) */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.status = STATUS_OF[code];
  }
}

/** The database could not be reached: Feishu will retry a 503, so nothing is lost. */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super('database_unavailable', 'database unavailable, retry later');
    this.cause = cause;
  }
}

/** The one error body. */
export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}
