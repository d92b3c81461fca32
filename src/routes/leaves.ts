import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { getLeave, listLeaves } from '../leave/queries.js';
import { requestSync } from '../outbox/queries.js';
import { Limit, LocalDate, query } from './validate.js';

const LeavesQuery = z.object({
  status: z.enum(['approved', 'reverted']).optional(),
  employee_id: z.string().min(1).optional(),
  from: LocalDate.optional(),
  to: LocalDate.optional(),
  limit: Limit(1000),
});

/** GET /api/leaves, GET /api/leaves/:instance_code, POST /api/leaves/:instance_code/sync */
export function leaveRoutes(deps: Pick<Deps, 'db' | 'onOutboxWritten'>): Hono {
  const r = new Hono();

  r.get('/', query(LeavesQuery), async (c) => {
    const q = c.req.valid('query');
    const items = await listLeaves(deps.db, { status: q.status, employeeId: q.employee_id, from: q.from, to: q.to, limit: q.limit });
    return c.json({ items });
  });

  r.get('/:instance_code', async (c) => {
    const leave = await getLeave(deps.db, c.req.param('instance_code'));
    if (!leave) throw new AppError('leave_not_found', 'no leave with that instance_code');
    return c.json(leave);
  });

  r.post('/:instance_code/sync', async (c) => {
    const queued = await requestSync(deps, c.req.param('instance_code'));
    if (!queued) throw new AppError('leave_not_found', 'no leave with that instance_code');
    return c.json(queued);
  });

  return r;
}
