import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isConnectionError } from './db/connection-errors.js';
import type { Deps } from './deps.js';
import { AppError, errorBody, type ErrorCode } from './errors.js';
import { adminAuth } from './routes/auth.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { employeeRoutes } from './routes/employees.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { leaveRoutes } from './routes/leaves.js';
import { approvalRoutes } from './routes/approvals.js';
import { outboxRoutes } from './routes/outbox.js';
import { reportRoutes } from './routes/reports.js';
import { webhookRoutes } from './routes/webhook.js';

export type AppDeps = Deps;

/** What Hono itself may throw (a malformed body it parsed), in the taxonomy. */
function httpExceptionCode(status: number): ErrorCode {
  if (status === 413) return 'body_too_large';
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  return status < 500 ? 'bad_request' : 'internal';
}

/**
 * Routes only: each checks input, calls one domain function, maps the result to HTTP. Every
 * /api/* route and the dashboard share one authentication (routes/auth.ts). The error taxonomy
 * (src/errors.ts) is mapped to the one JSON error shape here and nowhere else.
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.route('/', healthRoutes(deps));
  app.route('/webhook', webhookRoutes(deps));

  const api = new Hono();
  api.use('*', adminAuth(deps));
  api.route('/leaves', leaveRoutes(deps));
  api.route('/approvals', approvalRoutes(deps));
  api.route('/events', eventRoutes(deps));
  api.route('/outbox', outboxRoutes(deps));
  api.route('/employees', employeeRoutes(deps));
  api.route('/', reportRoutes(deps));
  app.route('/api', api);
  app.route('/dashboard', dashboardRoutes(deps));

  app.notFound((c) => c.json(errorBody('not_found', 'no such route'), 404));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status);
    if (isConnectionError(err)) return c.json(errorBody('database_unavailable', 'database unavailable, retry later'), 503);
    if (err instanceof HTTPException) {
      const code = httpExceptionCode(err.status);
      const status = code === 'internal' ? 500 : err.status;
      return c.json(errorBody(code, err.message || code), status);
    }
    deps.logger.error('unhandled error', { path: c.req.path, err });
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  return app;
}
