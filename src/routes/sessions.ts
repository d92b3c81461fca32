import { Hono } from 'hono';
import { z } from 'zod';
import { listSessions, revokeSession } from '../auth/sessions.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { param, PositiveId } from './validate.js';

/** GET /api/sessions, POST /api/sessions/:id/revoke: see and end dashboard sessions (a stolen cookie, a person who left). */
export function sessionRoutes(deps: Pick<Deps, 'db' | 'clock'>): Hono {
  const r = new Hono();
  r.get('/', async (c) => c.json({ items: await listSessions(deps) }));
  r.post('/:id/revoke', param(z.object({ id: PositiveId })), async (c) => {
    const { id } = c.req.valid('param');
    if (!(await revokeSession(deps, id))) throw new AppError('session_not_found', `no session ${id} that is still open`);
    return c.json({ id, revoked: true });
  });
  return r;
}
