/**
 * The one error taxonomy. Domain code throws these; app.onError maps them to the JSON error shape
 * `{"error": {"code", "message"}}`. Messages are written for the operator and never carry secrets.
 */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 422 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const unauthorized = (code: string, message: string) => new AppError(401, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);

/** The database could not be reached: Feishu will retry a 503, so nothing is lost. */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(503, 'database_unavailable', 'database unavailable, retry later');
    this.cause = cause;
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'CONNECTION_CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

/**
 * On Workers, postgres.js talks through cloudflare:sockets and passes workerd's socket errors on
 * as they are, without a code: a refused or unroutable connect rejects with "proxy request failed,
 * cannot connect to the specified address" (workerd src/workerd/api/sockets.c++,
 * Socket::handleProxyStatus) and a dropped one with "Network connection lost.".
 */
const WORKERD_SOCKET_ERROR = /proxy request failed, cannot connect to the specified address|^Network connection lost\.?$/;

/** True when an error means "the database is not reachable right now" rather than a bug. */
export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && WORKERD_SOCKET_ERROR.test(msg)) return true;
    if (typeof msg === 'string' && /connect|terminating connection|Connection terminated/i.test(msg) && !(e instanceof AppError)) {
      if (/ECONNREFUSED|ECONNRESET|terminat|timeout|closed/i.test(msg)) return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
