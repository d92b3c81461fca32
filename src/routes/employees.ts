import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { EmployeeUpdate, listEmployees, setEmployee } from '../employees.js';
import { json, Limit, query } from './validate.js';

/** GET /api/employees, PUT /api/employees/:employee_id: Feishu user → Google address and zone overrides. */
export function employeeRoutes(deps: Pick<Deps, 'db' | 'config' | 'clock' | 'onOutboxWritten' | 'logger'>): Hono {
  const r = new Hono();

  r.get('/', query(z.object({ limit: Limit(10_000) })), async (c) => c.json({ items: await listEmployees(deps.db, c.req.valid('query')) }));

  r.put('/:employee_id', json(EmployeeUpdate), async (c) => {
    const update = c.req.valid('json') as z.output<typeof EmployeeUpdate>;
    return c.json(await setEmployee(deps, c.req.param('employee_id'), update));
  });

  return r;
}
