import { Hono } from 'hono';
import type { Deps } from '../deps.js';
import { isSigned, openEnvelope, UNSIGNED_BODY_LIMIT } from '../feishu/envelope.js';
import { receive } from '../feishu/inbound.js';
import { limitBody, WEBHOOK_BODY_LIMIT } from './body-limit.js';

export { WEBHOOK_BODY_LIMIT } from './body-limit.js';

export function webhookRoutes(deps: Deps): Hono {
  const r = new Hono();
  const signatureHeaders = (h: (name: string) => string | undefined) => ({
    timestamp: h('x-lark-request-timestamp'),
    nonce: h('x-lark-request-nonce'),
    signature: h('x-lark-signature'),
  });
  // With an encrypt key, an unsigned request can only be a url_verification: it may not make the
  // service read more than that before it is refused (openEnvelope checks the bytes as well).
  const limit = limitBody((c) =>
    deps.config.FEISHU_ENCRYPT_KEY && !isSigned(signatureHeaders((n) => c.req.header(n))) ? UNSIGNED_BODY_LIMIT : WEBHOOK_BODY_LIMIT,
  );
  r.post('/feishu', limit, async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const envelope = await openEnvelope(raw, signatureHeaders((n) => c.req.header(n)), {
      verificationToken: deps.config.FEISHU_VERIFICATION_TOKEN,
      encryptKey: deps.config.FEISHU_ENCRYPT_KEY,
      toleranceSeconds: deps.config.FEISHU_TIMESTAMP_TOLERANCE,
      now: deps.clock.now(),
    });
    if (envelope.kind === 'challenge') return c.json({ challenge: envelope.challenge });
    // Ack only after the transaction committed: a 200 means the event is durable.
    const result = await receive(deps, { ...envelope, source: 'webhook' });
    return c.json({ code: 0, status: result.status });
  });
  return r;
}
