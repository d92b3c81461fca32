import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { openEnvelope } from '../feishu/envelope.js';
import { receive } from '../feishu/inbound.js';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const tooLarge = (): never => {
  throw new AppError('body_too_large', `body exceeds ${WEBHOOK_BODY_LIMIT} bytes`);
};

/**
 * hono's bodyLimit reads `c.req.raw.body`, which makes @hono/node-server build a full web Request
 * (a ReadableStream over the socket) for every delivery, a large share of the service's CPU per
 * event (docs/decisions/0013-webhook-reads-body-directly.md). A declared Content-Length is enforced by Node's HTTP parser (the body cannot be longer),
 * so it is checked here and the body is then read on node-server's direct path. Chunked bodies
 * (no length) still go through bodyLimit, which counts as it reads.
 */
const streamingLimit = bodyLimit({ maxSize: WEBHOOK_BODY_LIMIT, onError: tooLarge });
const limitBody: MiddlewareHandler = async (c, next) => {
  const length = c.req.header('content-length');
  if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streamingLimit(c, next);
  if (!/^\d+$/.test(length) || Number(length) > WEBHOOK_BODY_LIMIT) tooLarge();
  await next();
};

export function webhookRoutes(deps: Deps): Hono {
  const r = new Hono();
  r.post(
    '/feishu',
    limitBody,
    async (c) => {
      const raw = new Uint8Array(await c.req.arrayBuffer());
      const envelope = await openEnvelope(
        raw,
        {
          timestamp: c.req.header('x-lark-request-timestamp'),
          nonce: c.req.header('x-lark-request-nonce'),
          signature: c.req.header('x-lark-signature'),
        },
        {
          verificationToken: deps.config.FEISHU_VERIFICATION_TOKEN,
          encryptKey: deps.config.FEISHU_ENCRYPT_KEY,
          toleranceSeconds: deps.config.FEISHU_TIMESTAMP_TOLERANCE,
          now: deps.clock.now(),
        },
      );
      if (envelope.kind === 'challenge') return c.json({ challenge: envelope.challenge });
      // Ack only after the transaction committed: a 200 means the event is durable.
      const result = await receive(deps, { ...envelope, source: 'webhook' });
      return c.json({ code: 0, status: result.status });
    },
  );
  return r;
}
