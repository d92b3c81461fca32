import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { getApproval, listApprovals } from '../leave/approvals.js';
import { APPROVAL_KINDS } from '../leave/types.js';
import { requestSync } from '../outbox/queries.js';
import { Limit, LocalDate, query } from './validate.js';

const ApprovalsQuery = z.object({
  kind: z.enum(APPROVAL_KINDS).optional(),
  status: z.enum(['pending', 'approved', 'rejected', 'reverted']).optional(),
  employee_id: z.string().min(1).optional(),
  from: LocalDate.optional(),
  to: LocalDate.optional(),
  limit: Limit(1000),
});

/** GET /api/approvals, GET /api/approvals/:instance_code (every kind, with its timeline), POST …/:instance_code/sync */
export function approvalRoutes(deps: Pick<Deps, 'db' | 'onOutboxWritten'>): Hono {
  const r = new Hono();

  r.get('/', query(ApprovalsQuery), async (c) => {
    const q = c.req.valid('query');
    const items = await listApprovals(deps.db, { kind: q.kind, status: q.status, employeeId: q.employee_id, from: q.from, to: q.to, limit: q.limit });
    return c.json({ items });
  });

  r.get('/:instance_code', async (c) => {
    const approval = await getApproval(deps.db, c.req.param('instance_code'));
    if (!approval) throw new AppError('approval_not_found', 'no approval with that instance_code');
    return c.json(approval);
  });

  r.post('/:instance_code/sync', async (c) => {
    const queued = await requestSync(deps, c.req.param('instance_code'));
    if (!queued) throw new AppError('approval_not_found', 'no approval with that instance_code');
    return c.json(queued);
  });

  return r;
}
