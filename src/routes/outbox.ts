import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { listOutbox, OUTBOX_STATUSES, retryMessage } from '../outbox/queries.js';
import { Limit, param, PositiveId, query } from './validate.js';

const OutboxQuery = z.object({
  status: z.enum(OUTBOX_STATUSES).optional(),
  key: z.string().min(1).optional(),
  limit: Limit(1000),
});

/** GET /api/outbox, POST /api/outbox/:id/retry */
export function outboxRoutes(deps: Pick<Deps, 'db' | 'onOutboxWritten'>): Hono {
  const r = new Hono();

  r.get('/', query(OutboxQuery), async (c) => c.json({ items: await listOutbox(deps.db, c.req.valid('query')) }));

  r.post('/:id/retry', param(z.object({ id: PositiveId })), async (c) => c.json(await retryMessage(deps, c.req.valid('param').id)));

  return r;
}
