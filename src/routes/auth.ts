import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { constantTimeEqual, sha256, toHex } from '../feishu/crypto.js';

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
 * The one authentication of the admin surface (/api/* and /dashboard): `Authorization: Bearer
 * ADMIN_TOKEN`, or the dashboard's cookie. Without ADMIN_TOKEN configured the admin surface does
 * not exist (404) rather than being open. `onUnauthorized` lets a page answer a person with a
 * login form instead of the JSON error.
 */
export function adminAuth(deps: Pick<Deps, 'config'>, opts: { onUnauthorized?: (c: Context) => Response | Promise<Response> } = {}): MiddlewareHandler {
  return async (c, next) => {
    const expected = deps.config.ADMIN_TOKEN;
    if (!expected) throw new AppError('not_found', 'no such route');
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const cookie = bearer === undefined ? getCookie(c, ADMIN_COOKIE) : undefined;
    const ok =
      bearer !== undefined
        ? await constantTimeEqual(bearer, expected)
        : cookie !== undefined && (await constantTimeEqual(cookie, await dashboardSession(expected)));
    if (!ok) {
      if (opts.onUnauthorized) return opts.onUnauthorized(c);
      throw new AppError('unauthorized', 'missing or wrong admin token');
    }
    await next();
  };
}
