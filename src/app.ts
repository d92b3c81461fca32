import { Hono, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isConnectionError } from './db/connection-errors.js';
import type { Deps } from './deps.js';
import { AppError, errorBody, type ErrorCode } from './errors.js';
import { auditAdminActions, auditRoutes } from './routes/audit.js';
import { adminAuth, adminHeaders } from './routes/auth.js';
import { ADMIN_WRITE_LIMIT, limitBody, SMALL_BODY_LIMIT } from './routes/body-limit.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { employeeRoutes } from './routes/employees.js';
import { eventRoutes } from './routes/events.js';
import { feedAdminRoutes, feedRoutes } from './routes/feeds.js';
import { healthRoutes } from './routes/health.js';
import { leaveRoutes } from './routes/leaves.js';
import { approvalRoutes } from './routes/approvals.js';
import { outboxRoutes } from './routes/outbox.js';
import { policyRoutes } from './routes/policies.js';
import { reportRoutes } from './routes/reports.js';
import { sessionRoutes } from './routes/sessions.js';
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
 * Postgres text cannot hold U+0000: a NUL anywhere in the URL (a path id, a query filter) would
 * reach the database as an error, a 500. Refused here, once, for every route.
 */
const noNulInUrl: MiddlewareHandler = async (c, next) => {
  if (/%00/i.test(c.req.url) || c.req.url.includes('\u0000')) throw new AppError('bad_request', 'the URL contains a NUL character');
  await next();
};

/** Every route but the webhook (which has its own): small bodies, admin writes a little larger. */
const bodyLimits = limitBody((c) => (c.req.path.startsWith('/api/') ? ADMIN_WRITE_LIMIT : SMALL_BODY_LIMIT));

/**
 * Routes only: each checks input, calls one domain function, maps the result to HTTP. Every
 * /api/* route and the dashboard share one authentication (routes/auth.ts); every admin action is
 * audited (routes/audit.ts). The error taxonomy (src/errors.ts) is mapped to the one JSON error
 * shape here and nowhere else.
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.use('*', noNulInUrl);
  app.use('*', async (c, next) => (c.req.path === '/webhook/feishu' ? next() : bodyLimits(c, next)));
  app.route('/', healthRoutes(deps));
  app.route('/webhook', webhookRoutes(deps));
  app.route('/feeds', feedRoutes(deps));

  const api = new Hono();
  api.use('*', adminHeaders, adminAuth(deps, { writes: 'json' }));
  auditAdminActions(api, deps);
  api.route('/leaves', leaveRoutes(deps));
  api.route('/approvals', approvalRoutes(deps));
  api.route('/events', eventRoutes(deps));
  api.route('/outbox', outboxRoutes(deps));
  api.route('/employees', employeeRoutes(deps));
  api.route('/policies', policyRoutes(deps));
  api.route('/audit', auditRoutes(deps));
  api.route('/sessions', sessionRoutes(deps));
  api.route('/feeds', feedAdminRoutes(deps));
  api.route('/', reportRoutes(deps));
  app.route('/api', api);
  app.route('/dashboard', dashboardRoutes(deps));

  app.notFound((c) => c.json(errorBody('not_found', 'no such route'), 404));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status, err.headers);
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
