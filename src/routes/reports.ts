import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import type { Deps } from '../deps.js';
import { AppError, badRequest, notFound } from '../errors.js';
import { constantTimeEqual } from '../feishu/crypto.js';
import { getLeave } from '../leave/queries.js';
import { instantToLocalDate } from '../shared/local-time.js';
import { DashboardPage, LeavePage, loadDashboard, LoginPage, renderHtml } from '../reports/dashboard.js';
import { exportPayroll, payrollCsv, type AdjustmentsMode } from '../reports/payroll.js';
import { monthOf, parsePeriod } from '../reports/period.js';
import { reconcile, type VerifyOptions } from '../reports/reconciliation.js';
import { ADMIN_COOKIE, dashboardSession, requireAdmin } from './admin.js';

/** How long the dashboard cookie keeps a person signed in. */
const COOKIE_MAX_AGE = 12 * 3600;

function parseVerify(value: string | undefined): VerifyOptions {
  const out: VerifyOptions = {};
  for (const part of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part === 'google') out.google = true;
    else if (part === 'feishu') out.feishu = true;
    else throw badRequest('invalid_query', `verify: unknown target ${JSON.stringify(part.slice(0, 40))} (google, feishu)`);
  }
  return out;
}

function parseAdjustments(value: string | undefined): AdjustmentsMode {
  if (value === undefined || value === '') return 'auto';
  if (value === 'true' || value === '1') return 'include';
  if (value === 'false' || value === '0') return 'omit';
  throw badRequest('invalid_query', 'adjustments: expected true or false');
}

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
 * The payroll export, the reconciliation report and the dashboard. `/api/*` is guarded by the
 * admin router's requireAdmin; the dashboard takes the same token as a bearer or from the cookie
 * its login form sets, and shows the form (401) instead of a JSON error.
 */
export function reportRoutes(deps: Deps): Hono {
  const r = new Hono();
  const admin = requireAdmin(deps);

  r.get('/api/payroll/export', async (c) => {
    const q = c.req.query();
    const period = parsePeriod(q.from, q.to);
    const format = q.format ?? 'csv';
    if (format !== 'csv' && format !== 'json') throw badRequest('invalid_query', 'format: expected csv or json');
    const exp = await exportPayroll(deps, { ...period, format, adjustments: parseAdjustments(q.adjustments) });
    c.header('x-payroll-export-id', String(exp.export_id));
    if (format === 'json') return c.json(exp);
    c.header('content-disposition', `attachment; filename="payroll_${period.from}_${period.to}.csv"`);
    return c.body(payrollCsv(exp), 200, { 'content-type': 'text/csv; charset=utf-8; header=present' });
  });

  r.get('/api/reconciliation', async (c) => {
    const q = c.req.query();
    const period = parsePeriod(q.from, q.to);
    return c.json(await reconcile(deps, { ...period, verify: parseVerify(q.verify) }));
  });

  // ---- dashboard ----------------------------------------------------------------------------

  /** requireAdmin, but a person without a valid token gets the login form rather than JSON. */
  const dashboardAuth: MiddlewareHandler = async (c, next) => {
    let ok = false;
    try {
      await admin(c, async () => {
        ok = true;
      });
    } catch (err) {
      if (err instanceof AppError && err.status === 401) {
        const url = new URL(c.req.url);
        return html(c, LoginPage({ next: safeNext(url.pathname + url.search) }), 401);
      }
      throw err;
    }
    if (ok) await next();
  };

  r.post('/dashboard/login', async (c) => {
    const expected = deps.config.ADMIN_TOKEN;
    if (!expected) throw notFound('not_found', 'no such route');
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const next = safeNext(form.next);
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

  r.post('/dashboard/logout', (c) => {
    if (!deps.config.ADMIN_TOKEN) throw notFound('not_found', 'no such route');
    deleteCookie(c, ADMIN_COOKIE, { path: '/' });
    return c.redirect('/dashboard', 303);
  });

  r.get('/dashboard', dashboardAuth, async (c) => {
    const q = c.req.query();
    const period =
      q.from || q.to ? parsePeriod(q.from, q.to) : monthOf(instantToLocalDate(deps.clock.now(), deps.config.DEFAULT_TIMEZONE));
    const verify = parseVerify(q.verify);
    const data = await loadDashboard(deps, { period, verify });
    return html(c, DashboardPage({ data, verify }));
  });

  r.get('/dashboard/leaves/:instance_code', dashboardAuth, async (c) => {
    const leave = await getLeave(deps.db, c.req.param('instance_code'));
    if (!leave) throw notFound('leave_not_found', 'no leave with that instance_code');
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
