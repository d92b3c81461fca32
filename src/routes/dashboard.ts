import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { recordAudit } from '../auth/audit.js';
import { clientAddress } from '../auth/client-address.js';
import {
  CALLBACK_PATH,
  decideAccess,
  decodePending,
  encodePending,
  OAUTH_COOKIE,
  OAUTH_PENDING_SECONDS,
  redirectUriFor,
  startSignIn,
} from '../auth/feishu-sign-in.js';
import { createSession, csrfTokenFor, findSession, revokeSession, type AdminActor } from '../auth/sessions.js';
import { blockedFor, logThrottled, recordFailure } from '../auth/throttle.js';
import { adminSurfaceEnabled, feishuSignInEnabled } from '../config.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { constantTimeEqual } from '../feishu/crypto.js';
import { getApproval, listApprovals } from '../leave/approvals.js';
import { getLeave } from '../leave/queries.js';
import { ExternalError, type FeishuIdentity } from '../ports.js';
import { AuditPage } from '../reports/dashboard/audit-page.js';
import { APPROVAL_KINDS } from '../leave/types.js';
import { approvalLink, ApprovalPage, ApprovalsPage } from '../reports/dashboard/approvals-page.js';
import { DashboardPage } from '../reports/dashboard/home-page.js';
import { renderHtml } from '../reports/dashboard/layout.js';
import { LeavePage } from '../reports/dashboard/leave-page.js';
import { loadDashboard } from '../reports/dashboard/load.js';
import { LoginPage } from '../reports/dashboard/login-page.js';
import { formValuesOf, PoliciesPage, type PolicyFormValues } from '../reports/dashboard/policies-page.js';
import { ANY, LeaveTypeSchema, PolicyBody, PolicyKindSchema } from '../policies/body.js';
import { deletePolicy, listPolicies, setPolicy } from '../policies/store.js';
import { firstIssue } from '../shared/zod-issue.js';
import type { SessionView } from '../reports/dashboard/session-bar.js';
import { monthOf, periodErrorCode, withOptionalPeriod } from '../reports/period.js';
import { CATEGORIES, decodeCursor, reconcile, VerifyParam } from '../reports/reconciliation/index.js';
import { DRIFT_PAGE_ITEMS, DriftPage } from '../reports/dashboard/drift-page.js';
import { instantToLocalDate } from '../shared/local-time.js';
import { AuditQuery, auditFilter } from './audit.js';
import {
  adminAuth,
  adminHeaders,
  clearHostCookie,
  readHostCookie,
  sameOrigin,
  SESSION_COOKIE,
  setHostCookie,
} from './auth.js';
import { form, query } from './validate.js';

const DashboardQuery = withOptionalPeriod({ verify: VerifyParam });
const DriftQuery = withOptionalPeriod({
  verify: VerifyParam,
  category: z.enum(CATEGORIES, { error: `expected one of ${CATEGORIES.join(', ')}` }),
  cursor: z
    .string()
    .optional()
    .refine((v) => v === undefined || decodeCursor(v) !== null, 'not a cursor this report gave'),
});
// the filter form sends an empty value for "every kind" / "any status"
const ApprovalsFilter = z.object({
  kind: z.union([z.enum(APPROVAL_KINDS), z.literal('')]).optional(),
  status: z.union([z.enum(['pending', 'approved', 'rejected', 'reverted']), z.literal('')]).optional(),
});
const LoginForm = z.object({ token: z.string().default(''), next: z.string().optional() });
const LogoutForm = z.object({ csrf: z.string().optional() });
// The policy form's fields as the browser sends them (strings, '' for "default"); PolicyBody checks them.
const formText = z.string().max(1000).optional();
const PolicyForm = z.object({
  csrf: formText,
  kind: formText,
  leave_type: formText,
  calendar: formText,
  decline_mode: formText,
  title: formText,
  visibility: formText,
  payroll_code: formText,
  counts_as_leave: formText,
});
const PolicyDeleteForm = z.object({ csrf: formText, kind: formText, leave_type: formText });
const PolicyEditQuery = z.object({ kind: z.string().max(20).optional(), leave_type: z.string().max(1000).optional(), saved: z.string().max(300).optional() });
const StartQuery = z.object({ next: z.string().optional() });
/** Feishu comes back with code and state, or with error (the person declined). */
const CallbackQuery = z.object({ code: z.string().max(1000).optional(), state: z.string().max(200).optional(), error: z.string().max(200).optional() });

/** Only local paths after login: an absolute URL in `next` would be an open redirect. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/dashboard(?:[/?]|$)/.test(value) && !value.startsWith('//') && !/[\\\s]/.test(value) ? value : '/dashboard';
}

type Status = 200 | 400 | 401 | 403 | 404 | 429 | 503;

const html = async (c: Context, element: Parameters<typeof renderHtml>[0], status: Status = 200) => {
  // The page carries no script at all; a strict policy makes an injected one inert as well.
  c.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  return c.html(await renderHtml(element), status);
};

const whoIs = (a: Pick<AdminActor, 'kind' | 'id' | 'name'>) => (a.kind === 'token' ? 'admin token' : `${a.name ?? a.id ?? 'Feishu user'}${a.name && a.id ? ` (${a.id})` : ''}`);

/**
 * The pages a person reads, and how a person signs in and out. The pages take the same
 * authentication as /api/* (routes/auth.ts): a session cookie from Feishu sign-in (or, where
 * Feishu sign-in is not configured, the admin-token form), or the bearer token. A person without
 * one gets the sign-in page (401) instead of a JSON error.
 */
export function dashboardRoutes(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'calendar' | 'feishu' | 'feishuSignIn' | 'logger' | 'onOutboxWritten'>): Hono {
  const r = new Hono();
  const { config } = deps;
  const feishu = feishuSignInEnabled(config);
  // the token form only where there is no Feishu sign-in: people are named operators wherever they can be
  const tokenForm = !feishu && config.ADMIN_TOKEN !== undefined;

  const signInPage = (c: Context, status: Status, error?: string, next?: string) => {
    const url = new URL(c.req.url);
    const back = next ?? safeNext(url.pathname.startsWith('/dashboard/oauth') || url.pathname.startsWith('/dashboard/log') ? '/dashboard' : url.pathname + url.search);
    return html(c, LoginPage({ next: back, error, feishu, token: tokenForm }), status);
  };
  const throttledPage = (c: Context, seconds: number, kind: 'password' | 'feishu_sign_in') => {
    logThrottled(deps, { address: clientAddress(c, config), kind, retryAfterSeconds: seconds });
    c.header('retry-after', String(seconds));
    return signInPage(c, 429, `Too many failed sign-ins from this address. Try again in ${Math.ceil(seconds / 60)} min.`);
  };
  const surface = async (c: Context, next: () => Promise<void>) => {
    if (!adminSurfaceEnabled(config)) throw new AppError('not_found', 'no such route');
    await next();
  };
  const signedIn = adminAuth(deps, { writes: 'form', onUnauthorized: (c) => signInPage(c, 401) });
  const sessionView = async (c: Context): Promise<SessionView> => {
    const session = c.get('session');
    return { who: whoIs(c.get('admin')), csrf: session ? await csrfTokenFor(session.id) : null };
  };
  const audit = (c: Context, entry: Omit<Parameters<typeof recordAudit>[1], 'address'>) =>
    recordAudit(deps, { ...entry, address: clientAddress(c, config) });

  /** A new session for whoever just proved who they are, and the way back into the dashboard. */
  const signIn = async (c: Context, actor: Omit<AdminActor, 'via'>, next: string, detail: Record<string, unknown>) => {
    const address = clientAddress(c, config);
    const { id } = await createSession(deps, { actor, address });
    setHostCookie(c, config, SESSION_COOKIE, id, config.SESSION_TTL / 1000);
    await recordAudit(deps, { actor, action: 'sign_in', outcome: 'ok', detail, address });
    return c.redirect(next, 303);
  };

  r.use('*', adminHeaders);

  r.post('/login', surface, async (c, next) => {
    if (!tokenForm) throw new AppError('not_found', 'no such route');
    // Login CSRF: another site must not be able to sign this browser in (as the token's holder).
    if (!sameOrigin(c, config)) throw new AppError('cross_site_request', 'sign in from this service’s own page');
    await next();
  }, form(LoginForm), async (c) => {
    const input = c.req.valid('form') as z.output<typeof LoginForm>;
    const next = safeNext(input.next);
    const address = clientAddress(c, config);
    const wait = await blockedFor(deps, address);
    if (wait !== null) return throttledPage(c, wait, 'password');
    const token = input.token.trim();
    if (!token || !(await constantTimeEqual(token, config.ADMIN_TOKEN!))) {
      await recordFailure(deps, { address, kind: 'password', why: 'wrong admin token in the sign-in form' });
      await audit(c, { actor: null, action: 'sign_in_failed', outcome: 'failed', detail: { method: 'token' } });
      return signInPage(c, 401, 'That token is not right.', next);
    }
    return signIn(c, { kind: 'token', id: null, name: null }, next, { method: 'token' });
  });

  r.get('/oauth/start', surface, query(StartQuery), async (c) => {
    if (!feishu) throw new AppError('not_found', 'no such route');
    const { location, pending } = await startSignIn(config, safeNext(c.req.valid('query').next));
    setHostCookie(c, config, OAUTH_COOKIE, encodePending(pending), OAUTH_PENDING_SECONDS);
    return c.redirect(location, 302);
  });

  r.get(CALLBACK_PATH.slice('/dashboard'.length), surface, query(CallbackQuery), async (c) => {
    if (!feishu || !deps.feishuSignIn) throw new AppError('not_found', 'no such route');
    const port = deps.feishuSignIn;
    const address = clientAddress(c, config);
    const wait = await blockedFor(deps, address);
    if (wait !== null) return throttledPage(c, wait, 'feishu_sign_in');
    const q = c.req.valid('query');
    const pending = decodePending(readHostCookie(c, config, OAUTH_COOKIE));
    clearHostCookie(c, config, OAUTH_COOKIE);
    const refuse = async (status: Status, message: string, why: string, who: FeishuIdentity | null = null) => {
      await recordFailure(deps, { address, kind: 'feishu_sign_in', why });
      const actor = who ? { kind: 'feishu' as const, id: who.userId ?? who.openId, name: who.name } : null;
      await audit(c, { actor, action: 'sign_in_failed', outcome: 'failed', detail: { method: 'feishu', why } });
      return signInPage(c, status, message, pending?.next);
    };
    if (q.error !== undefined) {
      await audit(c, { actor: null, action: 'sign_in_failed', outcome: 'failed', detail: { method: 'feishu', why: `feishu: ${q.error}` } });
      return signInPage(c, 401, 'Feishu sign-in was cancelled.');
    }
    if (!pending || !q.state || !q.code || !(await constantTimeEqual(q.state, pending.state))) {
      return refuse(400, 'This sign-in was not started in this browser, or took too long. Sign in again.', 'state does not match this browser');
    }
    let who: FeishuIdentity;
    try {
      who = await port.identify({ code: q.code, redirectUri: redirectUriFor(config), codeVerifier: pending.verifier });
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      deps.logger.warn('feishu sign-in: the code was not accepted', { err });
      return refuse(401, 'Feishu did not accept this sign-in. Sign in again.', 'code not accepted');
    }
    let decision: Awaited<ReturnType<typeof decideAccess>>;
    try {
      decision = await decideAccess(config, port, who);
    } catch (err) {
      if (!(err instanceof ExternalError)) throw err;
      deps.logger.error('feishu sign-in: could not read the user’s departments', { err });
      return signInPage(c, 503, 'Feishu could not tell which departments you are in (the app needs the contact permission). Try again later.');
    }
    if (!decision.allowed) {
      return refuse(403, `${who.name ?? 'This Feishu account'} may not use this dashboard. Ask an administrator to add you.`, 'not an allowed user or department', who);
    }
    return signIn(c, { kind: 'feishu', id: who.userId ?? who.openId, openId: who.openId, name: who.name }, pending.next, { method: 'feishu', via: decision.via });
  });

  r.post('/logout', surface, form(LogoutForm), async (c) => {
    const cookie = readHostCookie(c, config, SESSION_COOKIE);
    const session = cookie ? await findSession(deps, cookie) : null;
    if (session) {
      const { csrf } = c.req.valid('form') as z.output<typeof LogoutForm>;
      if (!sameOrigin(c, config) || !csrf || !(await constantTimeEqual(csrf, await csrfTokenFor(session.id)))) {
        throw new AppError('cross_site_request', 'sign out from this service’s own page');
      }
      await revokeSession(deps, session.rowId);
      await audit(c, { actor: session.actor, action: 'sign_out', outcome: 'ok' });
    }
    clearHostCookie(c, config, SESSION_COOKIE);
    return c.redirect('/dashboard', 303);
  });

  r.get('/', signedIn, query(DashboardQuery, periodErrorCode), async (c) => {
    const q = c.req.valid('query') as z.output<typeof DashboardQuery>;
    const period = q.from && q.to ? { from: q.from, to: q.to } : monthOf(instantToLocalDate(deps.clock.now(), config.DEFAULT_TIMEZONE));
    const data = await loadDashboard(deps, { period, verify: q.verify });
    return html(c, DashboardPage({ data, verify: q.verify, session: await sessionView(c) }));
  });

  r.get('/drift', signedIn, query(DriftQuery, periodErrorCode), async (c) => {
    const q = c.req.valid('query') as z.output<typeof DriftQuery>;
    const period = q.from && q.to ? { from: q.from, to: q.to } : monthOf(instantToLocalDate(deps.clock.now(), config.DEFAULT_TIMEZONE));
    const report = await reconcile(deps, { ...period, verify: q.verify, category: q.category, cursor: q.cursor, limit: DRIFT_PAGE_ITEMS });
    return html(c, DriftPage({ period, category: q.category, verify: q.verify, report, first: q.cursor === undefined, session: await sessionView(c) }));
  });

  r.get('/audit', signedIn, query(AuditQuery), async (c) => {
    const q = c.req.valid('query') as z.output<typeof AuditQuery>;
    const data = await auditFilter(deps, q);
    return html(c, AuditPage({ data, filter: { action: q.action, actor: q.actor, outcome: q.outcome }, session: await sessionView(c) }));
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

  /**
   * A form's write with the session cookie carries the session's CSRF token (the pages run no
   * script, so a token in the form is the way); the bearer token needs none.
   */
  const checkCsrf = async (c: Context, csrf: string | undefined) => {
    const session = c.get('session');
    if (session && (!csrf || !(await constantTimeEqual(csrf, await csrfTokenFor(session.id))))) {
      throw new AppError('cross_site_request', 'use the form on this service’s own page');
    }
  };
  const policiesPage = async (c: Context, form: PolicyFormValues, status: Status = 200, message: { error?: string; saved?: string } = {}) =>
    html(c, PoliciesPage({ items: await listPolicies(deps.db), form, session: await sessionView(c), ...message }), status);

  r.get('/policies', signedIn, query(PolicyEditQuery), async (c) => {
    const q = c.req.valid('query') as z.output<typeof PolicyEditQuery>;
    const items = await listPolicies(deps.db);
    const editing = items.find((p) => p.kind === (q.kind ?? ANY) && p.leave_type === q.leave_type) ?? null;
    const form = editing ? formValuesOf(editing) : { ...formValuesOf(null), leave_type: q.leave_type ?? '', kind: q.kind ?? ANY };
    return policiesPage(c, form, 200, q.saved ? { saved: q.saved } : {});
  });

  r.post('/policies', signedIn, form(PolicyForm), async (c) => {
    const input = c.req.valid('form') as z.output<typeof PolicyForm>;
    await checkCsrf(c, input.csrf);
    const values: PolicyFormValues = {
      kind: input.kind ?? ANY,
      leave_type: input.leave_type ?? '',
      calendar: input.calendar ?? '',
      decline_mode: input.decline_mode ?? '',
      title: input.title ?? '',
      visibility: input.visibility ?? '',
      payroll_code: input.payroll_code ?? '',
      counts_as_leave: input.counts_as_leave ?? '',
    };
    const target = `${values.kind}/${values.leave_type}`;
    const refuse = async (message: string) => {
      await audit(c, { actor: c.get('admin'), action: 'policy.set', target, outcome: 'failed', detail: { via: 'dashboard', error: 'invalid_body' } });
      return policiesPage(c, values, 400, { error: message });
    };
    const kind = PolicyKindSchema.safeParse(values.kind);
    if (!kind.success) return refuse(`kind: ${kind.error.issues[0]!.message}`);
    const type = LeaveTypeSchema.safeParse(values.leave_type);
    if (!type.success) return refuse(`leave_type: ${type.error.issues[0]!.message}`);
    const body = PolicyBody.safeParse({
      calendar: values.calendar,
      visibility: values.visibility,
      ...(values.decline_mode !== '' ? { decline_mode: values.decline_mode } : {}),
      ...(values.title !== '' ? { title: values.title } : {}),
      ...(values.payroll_code !== '' ? { payroll_code: values.payroll_code } : {}),
      ...(values.counts_as_leave !== '' ? { counts_as_leave: values.counts_as_leave === 'true' ? true : values.counts_as_leave === 'false' ? false : values.counts_as_leave } : {}),
    });
    if (!body.success) return refuse(firstIssue(body.error, 'form'));
    const change = await setPolicy(deps, kind.data, type.data, body.data);
    await audit(c, { actor: c.get('admin'), action: 'policy.set', target, outcome: 'ok', detail: { via: 'dashboard', resynced: change.resynced } });
    const saved = `Saved ${target}; ${change.resynced} future block${change.resynced === 1 ? '' : 's'} queued for a calendar sync.`;
    return c.redirect(`/dashboard/policies?${new URLSearchParams({ kind: kind.data, leave_type: type.data, saved }).toString()}`, 303);
  });

  r.post('/policies/delete', signedIn, form(PolicyDeleteForm), async (c) => {
    const input = c.req.valid('form') as z.output<typeof PolicyDeleteForm>;
    await checkCsrf(c, input.csrf);
    const kind = PolicyKindSchema.safeParse(input.kind ?? ANY);
    const type = LeaveTypeSchema.safeParse(input.leave_type ?? '');
    if (!kind.success || !type.success) return policiesPage(c, formValuesOf(null), 400, { error: kind.success ? 'leave_type: not a leave type' : 'kind: unknown kind' });
    const target = `${kind.data}/${type.data}`;
    const change = await deletePolicy(deps, kind.data, type.data);
    await audit(c, { actor: c.get('admin'), action: 'policy.delete', target, outcome: change ? 'ok' : 'failed', detail: { via: 'dashboard', ...(change ? { resynced: change.resynced } : { error: 'policy_not_found' }) } });
    if (!change) return policiesPage(c, formValuesOf(null), 404, { error: `No policy ${target} to delete.` });
    return c.redirect(`/dashboard/policies?${new URLSearchParams({ saved: `Deleted ${target}; ${change.resynced} future block${change.resynced === 1 ? '' : 's'} queued for a calendar sync.` }).toString()}`, 303);
  });

  r.get('/approvals/:instance_code', signedIn, async (c) => {
    const approval = await getApproval(deps.db, c.req.param('instance_code'));
    if (!approval) throw new AppError('approval_not_found', 'no approval with that instance_code');
    return html(c, ApprovalPage({ approval, back: backOf(c) }));
  });

  return r;
}
