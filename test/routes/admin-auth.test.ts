import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeishuClient } from '../../src/feishu/client.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { ADMIN, testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { cookiesOf, signInWithFeishu, signInWithToken } from './sign-in.js';

/*
 * The admin surface's authentication: the bearer token for scripts, sessions for people (Feishu
 * sign-in, or the token form where Feishu sign-in is not configured), what ends a session, and
 * what another site cannot make a signed-in browser do. The clock is injected: expiry, idle
 * timeout and throttle windows are crossed by moving it, never by waiting.
 */

const MINUTE = 60_000;
const T0 = Date.parse('2042-03-18T04:00:00Z');

/** A clock the test moves. */
function movableClock() {
  let now = T0;
  return { clock: { now: () => new Date(now) }, advance: (ms: number) => (now += ms) };
}

const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

for (const backend of BACKENDS) {
  describe(`admin sessions and the bearer token (${backend.name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.create();
    });
    afterAll(async () => {
      await db?.close();
    });

    it('bearer token for scripts; 404 when neither ADMIN_TOKEN nor Feishu sign-in is configured', async () => {
      const t = testApp(db);
      expect((await t.app.request('/api/leaves')).status).toBe(401);
      expect((await t.app.request('/api/leaves', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await t.admin('/api/leaves')).status).toBe(200);
      // the raw token in a cookie opens nothing
      expect((await t.app.request('/api/leaves', { headers: { cookie: `lb_session=${ADMIN}` } })).status).toBe(401);
      const off = testApp(db, { env: { ADMIN_TOKEN: undefined } });
      expect((await off.app.request('/dashboard')).status).toBe(404);
      const res = await off.admin('/api/leaves');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    });

    it('the token form opens a real session: a new random id each time, stored hashed, HttpOnly and Lax, ended by sign-out', async () => {
      const t = testApp(db);
      const login = await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'http://localhost' } });
      expect(login.status).toBe(303);
      const set = cookiesOf(login);
      // plain http on localhost: no Secure, so no __Host- prefix either
      expect(set.lines[0]).toMatch(/^lb_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Lax$/);
      const first = set.get('lb_session')!;
      const second = cookiesOf(await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'http://localhost' } })).get('lb_session')!;
      expect(second).not.toBe(first);
      // only a hash of the id is stored
      const stored = JSON.stringify(await db.db.execute('select * from admin_sessions'));
      expect(stored).not.toContain(first);
      expect(stored).not.toContain(ADMIN);

      const cookie = `lb_session=${first}`;
      expect((await t.app.request('/api/leaves', { headers: { cookie } })).status).toBe(200);
      const page = await t.app.request('/dashboard', { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(html)?.[1];
      expect(csrf).toBeDefined();
      expect(html).toContain('admin token');

      // sign-out needs the page's token: a form another site makes the browser post has none
      const forged = await t.app.request('/dashboard/logout', { method: 'POST', body: new URLSearchParams({}), headers: { cookie, origin: 'http://localhost' } });
      expect(forged.status).toBe(403);
      expect((await t.app.request('/api/leaves', { headers: { cookie } })).status).toBe(200);
      const out = await t.app.request('/dashboard/logout', { method: 'POST', body: new URLSearchParams({ csrf: csrf! }), headers: { cookie, origin: 'http://localhost' } });
      expect(out.status).toBe(303);
      expect(cookiesOf(out).lines[0]).toMatch(/^lb_session=; Max-Age=0/);
      // the same cookie, kept by someone, no longer opens anything
      expect((await t.app.request('/api/leaves', { headers: { cookie } })).status).toBe(401);
      expect((await t.app.request('/dashboard', { headers: { cookie } })).status).toBe(401);
      // the other session is untouched
      expect((await t.app.request('/api/leaves', { headers: { cookie: `lb_session=${second}` } })).status).toBe(200);
    });

    it('behind https (PUBLIC_URL), the cookie is __Host- and Secure, whatever the request looks like to the process', async () => {
      const t = testApp(db, { env: { PUBLIC_URL: 'https://leave.example.com' } });
      const login = await t.app.request('http://10.0.0.7:8787/dashboard/login', {
        method: 'POST',
        body: new URLSearchParams({ token: ADMIN }),
        headers: { origin: 'https://leave.example.com' },
      });
      expect(login.status).toBe(303);
      expect(cookiesOf(login).lines[0]).toMatch(/^__Host-lb_session=[A-Za-z0-9_-]+; Max-Age=43200; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
      // the origin the process sees is not the public one: PUBLIC_URL decides
      const cross = await t.app.request('http://10.0.0.7:8787/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'http://10.0.0.7:8787' } });
      expect(cross.status).toBe(403);
    });

    it('a session ends at its expiry, after the idle timeout, when revoked (a stolen cookie), and when ADMIN_TOKEN changes', async () => {
      const { clock, advance } = movableClock();
      const env = { SESSION_TTL: '2h', SESSION_IDLE_TIMEOUT: '30m' };
      const t = testApp(db, { clock, env });
      const api = (cookie: string) => t.app.request('/api/leaves', { headers: { cookie } });

      // idle: used every 20 minutes it lives; left alone for 30 it is over
      const idle = await signInWithToken(t.app, ADMIN);
      for (let i = 0; i < 4; i++) {
        advance(20 * MINUTE);
        expect((await api(idle)).status).toBe(200);
      }
      advance(30 * MINUTE);
      expect((await api(idle)).status).toBe(401);

      // expiry: in use all along, it still ends SESSION_TTL after sign-in
      const busy = await signInWithToken(t.app, ADMIN);
      for (let i = 0; i < 5; i++) {
        advance(20 * MINUTE);
        expect((await api(busy)).status).toBe(200);
      }
      advance(21 * MINUTE);
      expect((await api(busy)).status).toBe(401);

      // stolen, then revoked by an operator through the API
      const stolen = await signInWithToken(t.app, ADMIN);
      const sessions = (await json(await t.admin('/api/sessions'))) as { items: Array<{ id: number; actor: { kind: string } }> };
      const newest = sessions.items[0]!;
      expect(newest.actor.kind).toBe('token');
      const revoke = await t.admin(`/api/sessions/${newest.id}/revoke`, { method: 'POST' });
      expect(await json(revoke)).toEqual({ id: newest.id, revoked: true });
      expect((await api(stolen)).status).toBe(401);
      expect((await t.admin(`/api/sessions/${newest.id}/revoke`, { method: 'POST' })).status).toBe(404);

      // a new ADMIN_TOKEN signs out every browser that signed in with the old one
      const before = await signInWithToken(t.app, ADMIN);
      const rotated = testApp(db, { clock, env: { ...env, ADMIN_TOKEN: `${ADMIN}-rotated` } });
      expect((await rotated.app.request('/api/leaves', { headers: { cookie: before } })).status).toBe(401);
    });

    it('what another site can make a signed-in browser do: nothing', async () => {
      const t = testApp(db);
      const cookie = await signInWithToken(t.app, ADMIN);
      const replay = (headers: Record<string, string>, body = '{}') => t.app.request('/api/events/999999/replay', { method: 'POST', body, headers: { cookie, ...headers } });
      // the finding: a text/plain form from another origin
      const evil = await replay({ origin: 'https://evil.example', 'content-type': 'text/plain' });
      expect(evil.status).toBe(403);
      expect(await json(evil)).toEqual({ error: { code: 'cross_site_request', message: expect.any(String) } });
      // no Origin and no Sec-Fetch-Site: not assumed to be ours
      expect((await replay({ 'content-type': 'application/json' })).status).toBe(403);
      // same-site but another origin (a sibling subdomain), as the browser reports it
      expect((await replay({ 'sec-fetch-site': 'same-site', 'content-type': 'application/json' })).status).toBe(403);
      // even a GET, from another site, does not get to use the session (an export records a baseline)
      expect((await t.app.request('/api/payroll/export?from=2042-03-01&to=2042-03-31', { headers: { cookie, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
      // our own page: same origin, but a write must be JSON
      expect((await replay({ origin: 'http://localhost', 'content-type': 'text/plain' })).status).toBe(415);
      const ours = await replay({ origin: 'http://localhost', 'content-type': 'application/json' });
      expect(await json(ours)).toEqual({ error: { code: 'event_not_found', message: expect.any(String) } });
      expect((await replay({ 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' })).status).toBe(404);
      // a retry has no body, and still says it is JSON
      expect((await t.app.request('/api/outbox/999999/retry', { method: 'POST', headers: { cookie, origin: 'http://localhost' } })).status).toBe(415);
      expect((await t.app.request('/api/outbox/999999/retry', { method: 'POST', headers: { cookie, origin: 'http://localhost', 'content-type': 'application/json' } })).status).toBe(404);
      // the bearer token is not a browser's: no Origin rules for it
      expect((await t.admin('/api/events/999999/replay', { method: 'POST', body: '{}', headers: { origin: 'https://evil.example', 'content-type': 'application/json' } })).status).toBe(404);
      // a login posted from another site is refused too (login CSRF)
      expect((await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'https://evil.example' } })).status).toBe(403);
    });

    it('admin answers are never cached or sniffed, errors included', async () => {
      const t = testApp(db);
      for (const res of [await t.admin('/api/leaves'), await t.app.request('/api/leaves'), await t.admin('/api/payroll/export?from=2042-03-01&to=2042-03-31'), await t.app.request('/dashboard')]) {
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
    });

    it('a NUL in the URL is a 400, not a database error', async () => {
      const t = testApp(db);
      for (const path of ['/api/leaves/%00', '/api/leaves?employee_id=a%00b', '/dashboard/leaves/x%00']) {
        const res = await t.admin(path);
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(await json(res)).toEqual({ error: { code: 'bad_request', message: expect.stringMatching(/NUL/) } });
      }
    });
  });
}

describe('throttling failed authentication', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await BACKENDS[0]!.create();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('429 with Retry-After after AUTH_FAILURE_LIMIT failures in the window, the right token included; released after it; logged without the secret', async () => {
    const { clock, advance } = movableClock();
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    const t = testApp(db, { clock, logger, env: { AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW: '15m' } });
    const from = (address: string, token: string) =>
      t.app.request('/api/leaves', { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': address } });
    const guess = 'guess-0123456789-guess-0123456789';

    for (let i = 0; i < 5; i++) expect((await from('203.0.113.9', `${guess}${i}`)).status).toBe(401);
    const blocked = await from('203.0.113.9', ADMIN);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('900');
    expect(await json(blocked)).toEqual({ error: { code: 'too_many_attempts', message: expect.any(String) } });
    // the login form and the Feishu callback share the count for that address
    const form = await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'http://localhost', 'cf-connecting-ip': '203.0.113.9' } });
    expect(form.status).toBe(429);
    // another address is not affected
    expect((await from('198.51.100.4', ADMIN)).status).toBe(200);

    advance(10 * MINUTE);
    const later = await from('203.0.113.9', ADMIN);
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('300');
    advance(5 * MINUTE);
    expect((await from('203.0.113.9', ADMIN)).status).toBe(200);
    // a new window starts at the next failure
    expect((await from('203.0.113.9', 'wrong')).status).toBe(401);
    expect((await from('203.0.113.9', ADMIN)).status).toBe(200);

    // every attempt logged: the five counted, the three refused while throttled, the one after
    const failures = lines.filter((l) => l.includes('admin authentication failed'));
    expect(failures).toHaveLength(9);
    expect(JSON.parse(failures[0]!)).toMatchObject({ level: 'warn', kind: 'bearer', address: '203.0.113.9', failures: 1, limit: 5 });
    expect(JSON.parse(failures[5]!)).toMatchObject({ level: 'warn', kind: 'bearer', why: 'throttled', retry_after_s: 900 });
    expect(lines.join('\n')).not.toContain(guess);
    expect(lines.join('\n')).not.toContain(ADMIN);
  });

  it('failed token-form sign-ins count as well, and are audited', async () => {
    const { clock } = movableClock();
    const t = testApp(db, { clock, env: { AUTH_FAILURE_LIMIT: '3' } });
    const post = (token: string) =>
      t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token }), headers: { origin: 'http://localhost', 'cf-connecting-ip': '192.0.2.77' } });
    for (let i = 0; i < 3; i++) expect((await post('not-it')).status).toBe(401);
    const page = await post(ADMIN);
    expect(page.status).toBe(429);
    expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await page.text()).toMatch(/Too many failed sign-ins/);
    const audit = (await json(await t.admin('/api/audit?action=sign_in_failed&limit=500'))) as { items: Array<{ address: string; actor: { kind: string } }> };
    expect(audit.items.filter((i) => i.address === '192.0.2.77')).toHaveLength(3);
    expect(audit.items[0]!.actor.kind).toBe('anonymous');
  });
});

describe('Feishu sign-in (against the fake Feishu)', () => {
  let db: TestDatabase;
  let fake: FakeFeishu;
  const env = (extra: Record<string, string> = {}) => ({
    PUBLIC_URL: 'http://localhost',
    FEISHU_APP_ID: fake.appId,
    FEISHU_APP_SECRET: fake.appSecret,
    FEISHU_BASE_URL: fake.url,
    ADMIN_FEISHU_USERS: 'u_alice',
    ADMIN_FEISHU_DEPARTMENTS: 'od-hr',
    ...extra,
  });
  const app = (extra: Record<string, string> = {}, clock?: { now(): Date }) => {
    const client = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger, retry: { retries: 0 } });
    return testApp(db, { env: env(extra), feishu: client, feishuSignIn: client, ...(clock ? { clock } : {}) });
  };

  beforeAll(async () => {
    db = await BACKENDS[0]!.create();
    fake = await startFakeFeishu();
    // HR, with Payroll below it; Sales elsewhere
    fake.addDepartment({ open_department_id: 'od-hr', department_id: 'hr' });
    fake.addDepartment({ open_department_id: 'od-payroll', department_id: 'payroll', parent: 'od-hr' });
    fake.addDepartment({ open_department_id: 'od-sales', department_id: 'sales' });
    fake.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice' });
    fake.addUser({ user_id: 'u_hana', open_id: 'ou_hana', name: 'Hana', departments: ['od-payroll'] });
    fake.addUser({ user_id: 'u_sam', open_id: 'ou_sam', name: 'Sam', departments: ['od-sales'] });
  });
  afterAll(async () => {
    await fake?.close();
    await db?.close();
  });

  it('an operator named by user id gets in; the authorize request carries state and a PKCE challenge', async () => {
    const t = app();
    fake.signInAs('u_alice');
    const { res, cookie, authorizeUrl, callback } = await signInWithFeishu(t.app);
    expect(authorizeUrl.pathname).toBe('/open-apis/authen/v1/authorize');
    expect(Object.fromEntries(authorizeUrl.searchParams)).toMatchObject({
      client_id: fake.appId,
      redirect_uri: 'http://localhost/dashboard/oauth/callback',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
    });
    expect(callback.searchParams.get('state')).toBe(authorizeUrl.searchParams.get('state'));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard?from=2042-03-01&to=2042-03-31');
    const page = await t.app.request('/dashboard', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Alice (u_alice)');
    // the code is single-use: replaying the callback gets nowhere (and the state cookie is gone)
    expect((await t.app.request(`${callback.pathname}${callback.search}`, { headers: { cookie } })).status).toBe(400);
  });

  it('a member of an allowed department, or of one below it, gets in; a stranger gets 403', async () => {
    const t = app();
    fake.signInAs('u_hana');
    const hana = await signInWithFeishu(t.app);
    expect(hana.res.status).toBe(303);
    expect((await t.app.request('/api/leaves', { headers: { cookie: hana.cookie } })).status).toBe(200);

    fake.signInAs('u_sam');
    const sam = await signInWithFeishu(t.app, { headers: { 'cf-connecting-ip': '198.51.100.23' } });
    expect(sam.res.status).toBe(403);
    expect(await sam.res.text()).toMatch(/Sam may not use this dashboard/);
    expect(sam.cookie).not.toMatch(/lb_session=[^;]/);

    const audit = (await json(await t.admin('/api/audit?limit=10'))) as { items: Array<{ action: string; outcome: string; actor: { id: string | null; name: string | null }; detail: Record<string, unknown> }> };
    expect(audit.items[0]).toMatchObject({ action: 'sign_in_failed', outcome: 'failed', actor: { id: 'u_sam', name: 'Sam' }, address: '198.51.100.23' });
    expect(audit.items[1]).toMatchObject({ action: 'sign_in', outcome: 'ok', actor: { id: 'u_hana', name: 'Hana' }, detail: { method: 'feishu', via: 'department' } });
  });

  it('a department by its custom department_id works too; by users alone, a user taken off the list is signed out', async () => {
    fake.signInAs('u_hana');
    const byCustomId = app({ ADMIN_FEISHU_USERS: '', ADMIN_FEISHU_DEPARTMENTS: 'hr' });
    expect((await signInWithFeishu(byCustomId.app)).res.status).toBe(303);

    fake.signInAs('u_alice');
    const listed = app({ ADMIN_FEISHU_DEPARTMENTS: '' });
    const { cookie } = await signInWithFeishu(listed.app);
    expect((await listed.app.request('/api/leaves', { headers: { cookie } })).status).toBe(200);
    const removed = app({ ADMIN_FEISHU_USERS: 'u_bob', ADMIN_FEISHU_DEPARTMENTS: '' });
    expect((await removed.app.request('/api/leaves', { headers: { cookie } })).status).toBe(401);
  });

  it('a callback this browser did not start is refused (login CSRF), as is a cancelled sign-in', async () => {
    const t = app();
    fake.signInAs('u_alice');
    // the attacker's own code and state, delivered to the victim's browser (which has no state cookie)
    const start = await t.app.request('/dashboard/oauth/start');
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const attackerCallback = new URL(authorize.headers.get('location')!);
    const victim = await t.app.request(`${attackerCallback.pathname}${attackerCallback.search}`);
    expect(victim.status).toBe(400);
    expect(cookiesOf(victim).get('lb_session')).toBeUndefined();
    // a state that does not match this browser's
    const tampered = await signInWithFeishu(t.app, { tamper: (u) => u.searchParams.set('state', 'x'.repeat(43)) });
    expect(tampered.res.status).toBe(400);
    fake.signInAs(null);
    const declined = await signInWithFeishu(t.app);
    expect(declined.res.status).toBe(401);
    expect(await declined.res.text()).toMatch(/cancelled/);
  });

  it('with Feishu sign-in on, the token form is gone (people are named); the bearer token still works for scripts', async () => {
    const t = app();
    const page = await t.app.request('/dashboard');
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('/dashboard/oauth/start');
    expect(html).not.toContain('name="token"');
    expect((await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }), headers: { origin: 'http://localhost' } })).status).toBe(404);
    expect((await t.admin('/api/leaves')).status).toBe(200);
    // and without ADMIN_TOKEN at all, Feishu sign-in alone opens the admin surface
    fake.signInAs('u_alice');
    const feishuOnly = app({ ADMIN_TOKEN: '' });
    const { cookie } = await signInWithFeishu(feishuOnly.app);
    expect((await feishuOnly.app.request('/api/leaves', { headers: { cookie } })).status).toBe(200);
    expect((await feishuOnly.admin('/api/leaves')).status).toBe(401);
  });
});
