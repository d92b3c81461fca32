import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { listAudit, recordAudit } from '../auth/audit.js';
import { clientAddress } from '../auth/client-address.js';
import type { Queryable } from '../db/client.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { Limit, LocalDate, query } from './validate.js';

const Instant = z.union([LocalDate.transform((d) => new Date(`${d}T00:00:00Z`)), z.iso.datetime({ offset: true }).transform((t) => new Date(t))]);

export const AuditQuery = z.object({
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(200).optional(),
  outcome: z.enum(['ok', 'failed']).optional(),
  from: Instant.optional(),
  to: Instant.optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: Limit(500),
});

export const auditFilter = (deps: { db: Queryable }, q: z.output<typeof AuditQuery>) => listAudit(deps.db, q);

/** GET /api/audit */
export function auditRoutes(deps: Pick<Deps, 'db'>): Hono {
  const r = new Hono();
  r.get('/', query(AuditQuery), async (c) => c.json(await auditFilter(deps, c.req.valid('query') as z.output<typeof AuditQuery>)));
  return r;
}

interface Audited {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** the route under /api */
  path: string;
  action: string;
  target?: (c: Context) => string | undefined;
  /** what was asked for: never a secret, never a personal value */
  detail?: (c: Context) => Promise<Record<string, unknown>> | Record<string, unknown>;
}

const jsonKeys = async (c: Context): Promise<string[]> => {
  try {
    const body = (await c.req.json()) as unknown;
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body) : [];
  } catch {
    return [];
  }
};

/** A policy body's `kind`, which a PUT may give instead of `?kind=`. */
const bodyKind = async (c: Context): Promise<{ kind?: string }> => {
  try {
    const body = (await c.req.json()) as { kind?: unknown } | null;
    return typeof body?.kind === 'string' ? { kind: body.kind.slice(0, 20) } : {};
  } catch {
    return {};
  }
};

/** `kind/leave_type` of a policy route (the kind from the query, else `*`; a PUT's body may say otherwise: see the detail). */
const policyTarget = (c: Context) => `${c.req.query('kind') ?? '*'}/${c.req.param('leave_type')}`;

/**
 * Every admin action the API offers, recorded in the audit log with who, from where and what came
 * of it. Adding a write route means adding it here (a test fails for an unlisted one).
 */
export const AUDITED: Audited[] = [
  { method: 'POST', path: '/events/:id/replay', action: 'event.replay', target: (c) => c.req.param('id'), detail: async (c) => ({ corrected: (await jsonKeys(c)).includes('event') }) },
  { method: 'POST', path: '/outbox/:id/retry', action: 'outbox.retry', target: (c) => c.req.param('id') },
  { method: 'POST', path: '/leaves/:instance_code/sync', action: 'leave.sync', target: (c) => c.req.param('instance_code') },
  { method: 'POST', path: '/approvals/:instance_code/sync', action: 'leave.sync', target: (c) => c.req.param('instance_code') },
  { method: 'PUT', path: '/employees/:employee_id', action: 'employee.update', target: (c) => c.req.param('employee_id'), detail: async (c) => ({ fields: await jsonKeys(c) }) },
  {
    method: 'GET',
    path: '/payroll/export',
    action: 'payroll.export',
    detail: (c) => ({ from: c.req.query('from'), to: c.req.query('to'), format: c.req.query('format') ?? 'csv', export_id: c.res.headers.get('x-payroll-export-id') }),
  },
  { method: 'PUT', path: '/policies/:leave_type', action: 'policy.set', target: (c) => policyTarget(c), detail: async (c) => ({ fields: await jsonKeys(c), ...(await bodyKind(c)) }) },
  { method: 'DELETE', path: '/policies/:leave_type', action: 'policy.delete', target: (c) => policyTarget(c) },
  { method: 'POST', path: '/sessions/:id/revoke', action: 'session.revoke', target: (c) => c.req.param('id') },
  { method: 'POST', path: '/feeds', action: 'feed.create', target: (c) => c.res.headers.get('x-feed-id') ?? undefined, detail: async (c) => ({ fields: await jsonKeys(c) }) },
  { method: 'DELETE', path: '/feeds/:id', action: 'feed.revoke', target: (c) => c.req.param('id') },
];

function audited(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'logger'>, a: Audited): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const error = c.error instanceof AppError ? c.error.code : c.error ? 'internal' : undefined;
    try {
      await recordAudit(deps, {
        actor: c.get('admin') ?? null,
        action: a.action,
        target: a.target?.(c) ?? null,
        outcome: c.res.status < 400 ? 'ok' : 'failed',
        detail: { ...(a.detail ? await a.detail(c) : {}), ...(error ? { error } : {}) },
        address: clientAddress(c, deps.config),
      });
    } catch (err) {
      // The action itself is done (or refused); its answer stands, the gap in the log is reported.
      deps.logger.error('audit: could not record an admin action', { action: a.action, err });
    }
  };
}

/** Mount the audit middleware of every audited route on the /api router (before the routes). */
export function auditAdminActions(api: Hono, deps: Pick<Deps, 'db' | 'clock' | 'config' | 'logger'>): void {
  for (const a of AUDITED) api.on(a.method, a.path, audited(deps, a));
}
