import { Hono, type Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { constantTimeEqual } from '../feishu/crypto.js';
import { getApproval, listApprovals } from '../leave/approvals.js';
import { getLeave } from '../leave/queries.js';
import { APPROVAL_KINDS } from '../leave/types.js';
import { approvalLink, ApprovalPage, ApprovalsPage } from '../reports/dashboard/approvals-page.js';
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
// the filter form sends an empty value for "every kind" / "any status"
const ApprovalsFilter = z.object({
  kind: z.union([z.enum(APPROVAL_KINDS), z.literal('')]).optional(),
  status: z.union([z.enum(['pending', 'approved', 'rejected', 'reverted']), z.literal('')]).optional(),
});
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

  const backOf = (c: Context) => {
    const referer = c.req.header('referer');
    if (referer && URL.canParse(referer, c.req.url)) {
      const ref = new URL(referer, c.req.url);
      if (ref.origin === new URL(c.req.url).origin) return safeNext(ref.pathname + ref.search);
    }
    return '/dashboard';
  };

  r.get('/leaves/:instance_code', signedIn, async (c) => {
    const code = c.req.param('instance_code');
    const leave = await getLeave(deps.db, code);
    // the drift table links every record here; another kind has its own page
    if (!leave && (await getApproval(deps.db, code))) return c.redirect(approvalLink(code), 302);
    if (!leave) throw new AppError('leave_not_found', 'no leave with that instance_code');
    return html(c, LeavePage({ leave, back: backOf(c) }));
  });

  r.get('/approvals', signedIn, query(ApprovalsFilter), async (c) => {
    const q = c.req.valid('query') as z.output<typeof ApprovalsFilter>;
    const items = await listApprovals(deps.db, { kind: q.kind || undefined, status: q.status || undefined, limit: 500 });
    return html(c, ApprovalsPage({ items, kind: q.kind || undefined, status: q.status || undefined }));
  });

  r.get('/approvals/:instance_code', signedIn, async (c) => {
    const approval = await getApproval(deps.db, c.req.param('instance_code'));
    if (!approval) throw new AppError('approval_not_found', 'no approval with that instance_code');
    return html(c, ApprovalPage({ approval, back: backOf(c) }));
  });

  return r;
}
