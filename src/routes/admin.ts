import { Hono, type MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { badRequest, notFound, unauthorized } from '../errors.js';
import { constantTimeEqual, sha256, toHex } from '../feishu/crypto.js';
import { getLeave, listEvents, listLeaves } from '../leave/queries.js';
import { readEvent } from '../feishu/inbound.js';
import { replayQuarantined } from '../leave/replay.js';
import { outboxRoutes } from './outbox.js';
import { reportRoutes } from './reports.js';

export const ADMIN_COOKIE = 'lb_admin';

/**
 * What the dashboard's cookie holds: a value derived from ADMIN_TOKEN, not the token itself, so a
 * cookie that leaks (browser profile, proxy log) is not the bearer token for /api/*. Changing
 * ADMIN_TOKEN invalidates every session.
 */
export async function dashboardSession(adminToken: string): Promise<string> {
  return toHex(await sha256(`leave-bridge dashboard session\n${adminToken}`));
}

/**
 * Bearer ADMIN_TOKEN (or the dashboard's cookie). Without ADMIN_TOKEN configured the admin surface
 * does not exist (404), rather than being open.
 */
export function requireAdmin(deps: Deps): MiddlewareHandler {
  return async (c, next) => {
    const expected = deps.config.ADMIN_TOKEN;
    if (!expected) throw notFound('not_found', 'no such route');
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const cookie = bearer === undefined ? getCookie(c, ADMIN_COOKIE) : undefined;
    const ok =
      bearer !== undefined
        ? await constantTimeEqual(bearer, expected)
        : cookie !== undefined && (await constantTimeEqual(cookie, await dashboardSession(expected)));
    if (!ok) {
      throw unauthorized('unauthorized', 'missing or wrong admin token');
    }
    await next();
  };
}

export const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/** Parse query parameters with zod; a bad one is a 400 naming the parameter. */
export function parseQuery<T extends z.ZodTypeAny>(schema: T, query: Record<string, string>): z.output<T> {
  const r = schema.safeParse(query);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw badRequest('invalid_query', `${i.path.join('.') || 'query'}: ${i.message}`);
  }
  return r.data;
}

const LeavesQuery = z.object({
  status: z.enum(['approved', 'reverted']).optional(),
  employee_id: z.string().min(1).optional(),
  from: LocalDate.optional(),
  to: LocalDate.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export function adminRoutes(deps: Deps): Hono {
  const r = new Hono();
  r.use('/api/*', requireAdmin(deps));

  r.get('/api/leaves', async (c) => {
    const q = parseQuery(LeavesQuery, c.req.query());
    const items = await listLeaves(deps.db, { status: q.status, employeeId: q.employee_id, from: q.from, to: q.to, limit: q.limit });
    return c.json({ items });
  });

  r.get('/api/leaves/:instance_code', async (c) => {
    const leave = await getLeave(deps.db, c.req.param('instance_code'));
    if (!leave) throw notFound('leave_not_found', 'no leave with that instance_code');
    return c.json(leave);
  });

  /** Quarantined and ignored events, so an operator can see what did not apply and why. */
  r.get('/api/events', async (c) => {
    const q = parseQuery(
      z.object({ status: z.enum(['quarantined', 'ignored', 'applied']).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }),
      c.req.query(),
    );
    return c.json({ items: await listEvents(deps.db, q) });
  });

  /** Replay a quarantined event, optionally with a corrected event object as the JSON body. */
  r.post('/api/events/:id/replay', async (c) => {
    const id = Number(c.req.param('id'));
    if (!Number.isSafeInteger(id) || id <= 0) throw badRequest('invalid_id', 'id must be a positive integer');
    const text = await c.req.text();
    let corrected: unknown;
    if (text.trim() !== '') {
      try {
        corrected = (JSON.parse(text) as { event?: unknown }).event;
      } catch {
        throw badRequest('invalid_json', 'body must be JSON {"event": {...}}');
      }
      if (corrected === undefined) throw badRequest('invalid_body', 'body must be JSON {"event": {...}}');
    }
    const result = await replayQuarantined(deps, id, readEvent, corrected);
    return c.json(result);
  });

  r.route('/', outboxRoutes(deps));
  r.route('/', reportRoutes(deps));

  return r;
}

