import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { minimiseFor, readEvent, redactReason } from '../feishu/inbound.js';
import { listEvents } from '../leave/queries.js';
import { replayQuarantined } from '../leave/replay.js';
import { json, Limit, param, PositiveId, query } from './validate.js';

const EventsQuery = z.object({
  status: z.enum(['quarantined', 'ignored', 'applied']).optional(),
  limit: Limit(1000),
});

/** An empty body replays the stored event; `{"event": {...}}` replays a corrected one. */
const ReplayBody = z.object({ event: z.unknown().optional() }).strict();

/** GET /api/events: what did not apply and why. POST /api/events/:id/replay. */
export function eventRoutes(deps: Pick<Deps, 'db' | 'config' | 'clock' | 'onOutboxWritten'>): Hono {
  const r = new Hono();

  r.get('/', query(EventsQuery), async (c) => c.json({ items: await listEvents(deps.db, c.req.valid('query')) }));

  r.post('/:id/replay', param(z.object({ id: PositiveId })), json(ReplayBody), async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json') as z.output<typeof ReplayBody>;
    // a corrected event is stored as the payload: minimised like a delivery (src/feishu/inbound.ts)
    const m = minimiseFor(deps.config);
    const r = await replayQuarantined(deps, id, (type, event) => readEvent(type, event, null, m), body.event === undefined ? undefined : redactReason(body.event, m));
    return c.json({ status: r.status, inbox_id: r.inboxId, instance_code: r.instanceCode, effect: r.effect, reason: r.reason });
  });

  return r;
}
