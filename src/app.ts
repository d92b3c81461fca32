import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Deps } from './deps.js';
import { isConnectionError } from './db/connection-errors.js';
import { AppError } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { webhookRoutes } from './routes/webhook.js';

export type AppDeps = Deps;

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * Routes only: each checks input, calls one domain function, maps the result to HTTP. The error
 * taxonomy (AppError) is mapped to the one JSON error shape here and nowhere else.
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.route('/', healthRoutes(deps));
  app.route('/webhook', webhookRoutes(deps));
  app.route('/', adminRoutes(deps));

  app.notFound((c) => c.json(errorBody('not_found', 'no such route'), 404));
  app.onError((err, c) => {
    if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status);
    if (isConnectionError(err)) {
      return c.json(errorBody('database_unavailable', 'database unavailable, retry later'), 503);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? 'body_too_large' : status === 400 ? 'bad_request' : `http_${status}`;
      return c.json(errorBody(code, err.message || code), status);
    }
    deps.logger.error('unhandled error', { path: c.req.path, err });
    return c.json(errorBody('internal', 'internal error'), 500);
  });
  return app;
}
