import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';

/** Feishu's events: far below this; the webhook's own limit (routes/webhook.ts). */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** An admin write: a corrected event for replay is the largest there is. */
export const ADMIN_WRITE_LIMIT = 64 * 1024;
/** The dashboard's forms (token sign-in, sign-out) and anything that should carry no body at all. */
export const SMALL_BODY_LIMIT = 4 * 1024;

/**
 * Refused before a byte of it is read, and the connection is closed rather than kept alive: Node
 * would otherwise read the rest of a large body to find where the next request begins.
 */
const tooLarge = (limit: number): never => {
  throw new AppError('body_too_large', `body exceeds ${limit} bytes`, { connection: 'close' });
};

/**
 * A body limit enforced before the body is read into memory. A declared Content-Length is checked
 * against the limit straight away (Node's HTTP parser guarantees the body is no longer than it
 * declares), and the body is then read on @hono/node-server's direct path: hono's bodyLimit reads
 * `c.req.raw.body`, which makes node-server build a web Request with a stream over the socket for
 * every request, a large share of the webhook's CPU per event
 * (docs/decisions/0013-webhook-reads-body-directly.md). A body without a length (chunked) goes
 * through bodyLimit, which counts as it reads and stops at the limit. On Node a request with
 * neither header has no body; elsewhere (Workers, in-process requests) the Request itself says.
 */
export function limitBody(limitOf: number | ((c: Context) => number)): MiddlewareHandler {
  const streaming = new Map<number, MiddlewareHandler>();
  return async (c, next) => {
    const length = c.req.header('content-length');
    const chunked = c.req.header('transfer-encoding') !== undefined;
    const onNode = (c.env as { incoming?: unknown } | undefined)?.incoming !== undefined;
    if (length === undefined && !chunked && (onNode || c.req.raw.body === null)) return next();
    const limit = typeof limitOf === 'number' ? limitOf : limitOf(c);
    if (length === undefined || chunked) {
      let limiter = streaming.get(limit);
      if (!limiter) {
        limiter = bodyLimit({ maxSize: limit, onError: () => tooLarge(limit) });
        streaming.set(limit, limiter);
      }
      return limiter(c, next);
    }
    if (!/^\d+$/.test(length) || Number(length) > limit) tooLarge(limit);
    await next();
  };
}
