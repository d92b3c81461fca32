import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { openEnvelope } from '../feishu/envelope.js';
import { ingest } from '../leave/ingest.js';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export function webhookRoutes(deps: Deps): Hono {
  const r = new Hono();
  r.post(
    '/feishu',
    bodyLimit({
      maxSize: WEBHOOK_BODY_LIMIT,
      onError: () => {
        throw new AppError(413, 'body_too_large', `body exceeds ${WEBHOOK_BODY_LIMIT} bytes`);
      },
    }),
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
      const result = await ingest(deps, {
        eventKey: envelope.eventKey,
        eventType: envelope.eventType,
        source: 'webhook',
        payload: envelope.body,
        event: envelope.event,
        problem: envelope.problem,
      });
      return c.json({ code: 0, status: result.status });
    },
  );
  return r;
}
