import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { adminSurfaceEnabled, type Config } from '../config.js';
import { clientAddress } from '../auth/client-address.js';
import { findSession, type AdminActor, type Session } from '../auth/sessions.js';
import { blockedFor, logThrottled, recordFailure } from '../auth/throttle.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { constantTimeEqual } from '../feishu/crypto.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** who is acting, set by adminAuth */
    admin: AdminActor;
    /** the session behind the cookie, when the request came with one */
    session: Session | undefined;
  }
}

type AuthDeps = Pick<Deps, 'config' | 'db' | 'clock' | 'logger'>;

// ---------------------------------------------------------------------------------------------
// Cookies

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Whether this deployment's cookies must be `Secure`. PUBLIC_URL says how people reach the
 * service; without it the request's own URL does, and only plain http on a loopback host (a
 * developer's machine) gets cookies without `Secure`: behind a TLS-terminating proxy the request
 * arrives as http although the browser speaks https.
 */
export function secureCookies(c: Context, config: Pick<Config, 'PUBLIC_URL'>): boolean {
  const url = new URL(config.PUBLIC_URL ?? c.req.url);
  return !(url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}

/**
 * A cookie's name here: `__Host-` (the browser then insists on Secure, Path=/ and no Domain, so
 * no subdomain can set or shadow it) wherever cookies are Secure; plain on http localhost, where
 * browsers refuse `__Host-` cookies.
 */
export const cookieName = (c: Context, config: Pick<Config, 'PUBLIC_URL'>, base: string): string =>
  secureCookies(c, config) ? `__Host-${base}` : base;

export const SESSION_COOKIE = 'lb_session';

/**
 * HttpOnly (no script reads it), Lax (another site's forms and subrequests do not carry it; a link
 * from Feishu to the dashboard, and the redirect back from Feishu's sign-in, do).
 */
export function setHostCookie(c: Context, config: Pick<Config, 'PUBLIC_URL'>, base: string, value: string, maxAgeSeconds: number): void {
  setCookie(c, cookieName(c, config, base), value, {
    httpOnly: true,
    sameSite: 'Lax',
    secure: secureCookies(c, config),
    path: '/',
    maxAge: Math.max(1, Math.floor(maxAgeSeconds)),
  });
}

export function clearHostCookie(c: Context, config: Pick<Config, 'PUBLIC_URL'>, base: string): void {
  deleteCookie(c, cookieName(c, config, base), { path: '/', secure: secureCookies(c, config), httpOnly: true, sameSite: 'Lax' });
}

export const readHostCookie = (c: Context, config: Pick<Config, 'PUBLIC_URL'>, base: string): string | undefined =>
  getCookie(c, cookieName(c, config, base));

// ---------------------------------------------------------------------------------------------
// Cross-site requests

/**
 * The request comes from a page of this service: the browser says so (Sec-Fetch-Site, which no
 * page can set), or its Origin is the service's (PUBLIC_URL, else the origin the request was made
 * to). A request with neither header is not assumed to be same-origin.
 */
export function sameOrigin(c: Context, config: Pick<Config, 'PUBLIC_URL'>): boolean {
  if (c.req.header('sec-fetch-site') === 'same-origin') return true;
  const origin = c.req.header('origin');
  return origin !== undefined && origin === (config.PUBLIC_URL ?? new URL(c.req.url).origin);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * What a request authenticated by cookie must also show, so another site cannot make a signed-in
 * browser act (SameSite=Lax alone does not stop a same-site page, an old browser, or a top-level
 * GET). On /api/* nothing another site started is taken, GETs included (an export records a
 * baseline); a write needs same-origin evidence plus a JSON body (a form of another site cannot
 * send one without a CORS preflight, which is never granted). The dashboard's pages may be
 * opened from elsewhere (a link in a Feishu chat, the way back from Feishu's sign-in), but its
 * writes need same-origin evidence, and its forms (no script) a per-session token, checked in
 * their handlers.
 */
function checkCookieRequest(c: Context, config: Pick<Config, 'PUBLIC_URL'>, writes: 'json' | 'form'): void {
  const site = c.req.header('sec-fetch-site');
  if (writes === 'json' && (site === 'cross-site' || site === 'same-site')) {
    throw new AppError('cross_site_request', 'a request from another site cannot use the dashboard session');
  }
  if (SAFE_METHODS.has(c.req.method)) return;
  if (!sameOrigin(c, config)) throw new AppError('cross_site_request', 'a write with the session cookie must come from this service’s own pages');
  if (writes === 'json' && !JSON_TYPE.test((c.req.header('content-type') ?? '').split(';')[0]!.trim())) {
    throw new AppError('unsupported_media_type', 'a write with the session cookie must be sent as Content-Type: application/json');
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication

export const tooManyAttempts = (seconds: number) =>
  new AppError('too_many_attempts', `too many failed attempts from this address; try again in ${seconds} s`, { 'retry-after': String(seconds) });

/**
 * The one authentication of the admin surface (/api/* and /dashboard): `Authorization: Bearer
 * ADMIN_TOKEN` (scripts), or a dashboard session cookie (people, signed in with Feishu or the token
 * form). With neither ADMIN_TOKEN nor Feishu sign-in configured the admin surface does not exist
 * (404) rather than being open. A wrong bearer token counts towards the address's throttle; an
 * unknown or ended session does not (its id is not guessable, and a browser whose session ended
 * keeps sending it). `onUnauthorized` lets a page answer a person with the sign-in page.
 */
export function adminAuth(
  deps: AuthDeps,
  opts: { writes: 'json' | 'form'; onUnauthorized?: (c: Context) => Response | Promise<Response> },
): MiddlewareHandler {
  const unauthorized = (c: Context, message: string) => {
    if (opts.onUnauthorized) return opts.onUnauthorized(c);
    throw new AppError('unauthorized', message);
  };
  return async (c, next) => {
    const { config } = deps;
    if (!adminSurfaceEnabled(config)) throw new AppError('not_found', 'no such route');
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const address = clientAddress(c, config);
      const wait = await blockedFor(deps, address);
      if (wait !== null) {
        logThrottled(deps, { address, kind: 'bearer', retryAfterSeconds: wait });
        throw tooManyAttempts(wait);
      }
      const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
      if (!bearer || !config.ADMIN_TOKEN || !(await constantTimeEqual(bearer, config.ADMIN_TOKEN))) {
        await recordFailure(deps, { address, kind: 'bearer', why: bearer ? 'wrong token' : 'not a bearer token' });
        return unauthorized(c, 'missing or wrong admin token');
      }
      c.set('admin', { kind: 'token', id: null, name: null, via: 'bearer' });
      c.set('session', undefined);
      return next();
    }
    const cookie = readHostCookie(c, config, SESSION_COOKIE);
    const session = cookie ? await findSession(deps, cookie) : null;
    if (!session) return unauthorized(c, 'sign in, or send Authorization: Bearer <ADMIN_TOKEN>');
    checkCookieRequest(c, config, opts.writes);
    c.set('admin', session.actor);
    c.set('session', session);
    return next();
  };
}

/**
 * Admin answers carry personal data: never cached (a shared proxy, the browser's disk cache, the
 * back button on a shared machine), never sniffed into another type.
 */
export const adminHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
};
