import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { listEmployees, parseEmployeeUpdate, setEmployee } from '../employees.js';
import { badRequest } from '../errors.js';
import { listOutbox, OUTBOX_STATUSES, retryMessage } from '../outbox/queries.js';

const OutboxQuery = z.object({
  status: z.enum(OUTBOX_STATUSES).optional(),
  key: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

function parse<T extends z.ZodTypeAny>(schema: T, input: unknown): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw badRequest('invalid_query', `${i.path.join('.') || 'query'}: ${i.message}`);
  }
  return r.data;
}

function positiveId(raw: string): number {
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id <= 0) throw badRequest('invalid_id', 'id must be a positive integer');
  return id;
}

/** Operate the outbox and the employee overrides. Mounted under adminRoutes (admin token). */
export function outboxRoutes(deps: Deps): Hono {
  const r = new Hono();

  r.get('/api/outbox', async (c) => {
    const q = parse(OutboxQuery, c.req.query());
    return c.json({ items: await listOutbox(deps.db, q) });
  });

  r.post('/api/outbox/:id/retry', async (c) => {
    return c.json(await retryMessage(deps, positiveId(c.req.param('id'))));
  });

  r.get('/api/employees', async (c) => {
    const q = parse(z.object({ limit: z.coerce.number().int().min(1).max(10_000).optional() }), c.req.query());
    return c.json({ items: await listEmployees(deps.db, q) });
  });

  r.put('/api/employees/:employee_id', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw badRequest('invalid_json', 'body must be JSON {"email"?: string|null, "timezone"?: string|null}');
    }
    const update = parseEmployeeUpdate(body);
    return c.json(await setEmployee(deps, c.req.param('employee_id'), update));
  });

  return r;
}
