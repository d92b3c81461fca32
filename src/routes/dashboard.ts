import { Hono, type Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { constantTimeEqual } from '../feishu/crypto.js';
import { getLeave } from '../leave/queries.js';
import { DashboardPage } from '../reports/dashboard/home-page.js';
import { renderHtml } from '../reports/dashboard/layout.js';
import { LeavePage } from '../reports/dashboard/leave-page.js';
import { loadDashboard } from '../reports/dashboard/load.js';
import { LoginPage } from '../reports/dashboard/login-page.js';
import { monthOf, periodErrorCode, withOptionalPeriod } from '../reports/period.js';
import { VerifyParam } from '../reports/reconciliation/index.js';
import { instantToLocalDate } from '../shared/local-time.js';
import { ADMIN_COOKIE, adminAuth, dashboardSession } from './auth.js';
import { form, query } from './validate.js';

/** How long the dashboard cookie keeps a person signed in. */
const COOKIE_MAX_AGE = 12 * 3600;

const DashboardQuery = withOptionalPeriod({ verify: VerifyParam });
const LoginForm = z.object({ token: z.string().default(''), next: z.string().optional() });

/** Only local paths after login: an absolute URL in `next` would be an open redirect. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/dashboard(?:[/?]|$)/.test(value) && !value.startsWith('//') ? value : '/dashboard';
}

const html = async (c: Context, element: Parameters<typeof renderHtml>[0], status: 200 | 401 | 404 = 200) => {
  c.header('cache-control', 'no-store');
  // The page carries no script at all; a strict policy makes an injected one inert as well.
  c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  c.header('x-content-type-options', 'nosniff');
  return c.html(await renderHtml(element), status);
};

/**
 * The page a person reads: the same authentication as /api/* (bearer or the cookie its login form
 * sets), but a person without it gets the login form (401) instead of a JSON error.
 */
export function dashboardRoutes(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'calendar' | 'feishu'>): Hono {
  const r = new Hono();
  const signedIn = adminAuth(deps, {
    onUnauthorized: (c) => {
      const url = new URL(c.req.url);
      return html(c, LoginPage({ next: safeNext(url.pathname + url.search) }), 401);
    },
  });

  r.post('/login', form(LoginForm), async (c) => {
    const expected = deps.config.ADMIN_TOKEN;
    if (!expected) throw new AppError('not_found', 'no such route');
    const input = c.req.valid('form') as z.output<typeof LoginForm>;
    const token = input.token.trim();
    const next = safeNext(input.next);
    if (!token || !(await constantTimeEqual(token, expected))) {
      return html(c, LoginPage({ next, error: 'That token is not right.' }), 401);
    }
    // HttpOnly: no script can read it; SameSite=Strict: no other site can make the browser send
    // it (the cookie also opens /api/*, including POST routes).
    setCookie(c, ADMIN_COOKIE, await dashboardSession(expected), {
      httpOnly: true,
      sameSite: 'Strict',
      secure: new URL(c.req.url).protocol === 'https:',
      path: '/',
      maxAge: COOKIE_MAX_AGE,
    });
    return c.redirect(next, 303);
  });

  r.post('/logout', (c) => {
    if (!deps.config.ADMIN_TOKEN) throw new AppError('not_found', 'no such route');
    deleteCookie(c, ADMIN_COOKIE, { path: '/' });
    return c.redirect('/dashboard', 303);
  });

  r.get('/', signedIn, query(DashboardQuery, periodErrorCode), async (c) => {
    const q = c.req.valid('query') as z.output<typeof DashboardQuery>;
    const period = q.from && q.to ? { from: q.from, to: q.to } : monthOf(instantToLocalDate(deps.clock.now(), deps.config.DEFAULT_TIMEZONE));
    const data = await loadDashboard(deps, { period, verify: q.verify });
    return html(c, DashboardPage({ data, verify: q.verify }));
  });

  r.get('/leaves/:instance_code', signedIn, async (c) => {
    const leave = await getLeave(deps.db, c.req.param('instance_code'));
    if (!leave) throw new AppError('leave_not_found', 'no leave with that instance_code');
    let back = '/dashboard';
    const referer = c.req.header('referer');
    if (referer && URL.canParse(referer, c.req.url)) {
      const ref = new URL(referer, c.req.url);
      if (ref.origin === new URL(c.req.url).origin) back = safeNext(ref.pathname + ref.search);
    }
    return html(c, LeavePage({ leave, back }));
  });

  return r;
}
