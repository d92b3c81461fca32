import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { ANY, LeaveTypeSchema, PolicyBody, PolicyKindSchema } from '../policies/body.js';
import { deletePolicy, getPolicy, listPolicies, setPolicy } from '../policies/store.js';
import { json, param, query } from './validate.js';

const KindQuery = z.object({ kind: PolicyKindSchema.optional() });
const LeaveTypeParam = z.object({ leave_type: LeaveTypeSchema });

/**
 * GET /api/policies, GET/PUT/DELETE /api/policies/:leave_type (`?kind=`, or `kind` in a PUT's
 * body; `*` when neither says). The leave type is the resolved name, as in the export; `*` is the
 * default of the kind.
 */
export function policyRoutes(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'onOutboxWritten'>): Hono {
  const r = new Hono();

  r.get('/', async (c) => c.json({ items: await listPolicies(deps.db) }));

  // The path segment, decoded, follows the same rules as an import's leave_type (invalid_id).
  r.get('/:leave_type', param(LeaveTypeParam), query(KindQuery), async (c) => {
    const kind = c.req.valid('query').kind ?? ANY;
    return c.json(await getPolicy(deps, kind, c.req.valid('param').leave_type));
  });

  r.put('/:leave_type', param(LeaveTypeParam), query(KindQuery), json(PolicyBody), async (c) => {
    const { kind: bodyKind, ...body } = c.req.valid('json') as z.output<typeof PolicyBody>;
    const queryKind = c.req.valid('query').kind;
    if (bodyKind !== undefined && queryKind !== undefined && bodyKind !== queryKind) {
      throw new AppError('invalid_body', `kind: the body says ${bodyKind} but the query says ${queryKind}`);
    }
    const change = await setPolicy(deps, bodyKind ?? queryKind ?? ANY, c.req.valid('param').leave_type, body);
    return c.json({ policy: change.policies[0], resynced: change.resynced });
  });

  r.delete('/:leave_type', param(LeaveTypeParam), query(KindQuery), async (c) => {
    const kind = c.req.valid('query').kind ?? ANY;
    const leaveType = c.req.valid('param').leave_type;
    const change = await deletePolicy(deps, kind, leaveType);
    if (!change) throw new AppError('policy_not_found', `no policy for kind ${kind} and leave type ${JSON.stringify(leaveType)}`);
    return c.json({ deleted: change.policies[0], resynced: change.resynced });
  });

  return r;
}
