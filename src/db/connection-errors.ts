/**
 * "The database is not reachable right now", told apart from a bug or a bad query by error codes,
 * never by wording: a message that merely mentions a connection or a timeout (a Google error, a
 * bad setting) must not pause the drainer or answer Feishu 503.
 */

/** Socket errors (Node's net and dns) and postgres.js's own connection errors. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'CONNECTION_CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs of a server that cannot serve us now: class 08 (connection exception) and 57P01-57P03
 * (admin_shutdown, crash_shutdown, cannot_connect_now).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const isUnavailableState = (code: string) => /^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03';

/**
 * On Workers, postgres.js talks through cloudflare:sockets and passes workerd's socket errors on
 * as they are, with no code and no class of their own: a refused or unroutable connect rejects
 * with the first message (workerd src/workerd/api/sockets.c++, Socket::handleProxyStatus) and a
 * dropped one with the second. These exact messages are the only signal there is.
 */
const WORKERD_SOCKET_ERRORS = new Set([
  'proxy request failed, cannot connect to the specified address',
  'Network connection lost.',
  'Network connection lost',
]);

/** True when an error (or one of its causes) means "the database is not reachable right now". */
export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableState(code))) return true;
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && WORKERD_SOCKET_ERRORS.has(msg)) return true;
    // Node's happy-eyeballs connect rejects with an AggregateError of one error per address.
    if (e instanceof AggregateError && e.errors.some((x) => isConnectionError(x))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
