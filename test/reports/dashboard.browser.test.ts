import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeishuClient } from '../../src/feishu/client.js';
import { parseServiceAccountKey } from '../../src/google/auth.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { silentLogger } from '../../src/logger.js';
import { createDrainer, drainerOptions } from '../../src/outbox/drain.js';
import { ADMIN, testApp } from '../support/app.js';
import { freePort } from '../support/process.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert, type LeaveSpec } from '../support/feishu.js';
import { googleError, startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';

/*
 * The dashboard in a real browser: headless Chromium (Debian's package) driven by playwright-core,
 * the app on a real loopback port over a Postgres test database filled through the webhook and
 * the real drainer (fake Google, fake Feishu contact API). The clock is fixed at Wednesday
 * 2042-03-18 12:00 in Shanghai, so "this month" and "today" are known.
 */

const NOW = new Date('2042-03-18T04:00:00Z');
const SCREENSHOT = fileURLToPath(new URL('../../test-results/dashboard.png', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let db: TestDatabase;
let google: FakeGoogle;
let feishuFake: FakeFeishu;
let server: ServerType;
let base: string;
let context: BrowserContext;
let userDataDir: string;
const instance = (tag: string) => `DASH-${tag}-${process.pid}`;
const external: string[] = [];

beforeAll(async () => {
  db = await createPostgresDatabase();
  google = await startFakeGoogle();
  feishuFake = await startFakeFeishu();
  const calendar = createGoogleCalendar({ key: parseServiceAccountKey(google.serviceAccountJson), baseUrl: google.url, timeoutMs: 5_000 });
  const feishu = createFeishuClient({ appId: feishuFake.appId, appSecret: feishuFake.appSecret, baseUrl: feishuFake.url, logger: silentLogger, retry: { retries: 0, minTimeout: 1, maxTimeout: 1 } });
  const t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined }, calendar, feishu, clock: { now: () => NOW } });

  const people = ['alice', 'bob', 'carol', 'dan', 'eve', 'frank'];
  for (const p of people) feishuFake.addUser({ user_id: `u_${p}`, open_id: `ou_${p}`, name: p, email: `${p}@example.com` });
  const send = async (body: string, status = 'applied') => {
    const res = await t.post({ body, headers: { 'content-type': 'application/json' } });
    expect(await res.json()).toMatchObject({ status });
  };
  const both = async (s: LeaveSpec) => {
    await send(leaveApprovalV1(s));
    await send(leaveApprovalV2(s));
  };
  await both({ instanceCode: instance('alice'), employeeId: 'u_alice', leaveName: 'Annual leave', start: '2042-03-16 00:00:00', end: '2042-03-21 00:00:00', interval: 5 * 86_400 });
  await both({ instanceCode: instance('bob'), employeeId: 'u_bob', leaveName: 'Sick leave', unit: 'HALF_DAY', start: '2042-03-18 13:00:00', end: '2042-03-18 18:00:00', interval: 43_200 });
  await both({ instanceCode: instance('carol'), employeeId: 'u_carol', leaveName: 'Personal leave', unit: 'HOUR', start: '2042-03-05 09:00:00', end: '2042-03-05 13:00:00', interval: 4 * 3600 });
  await both({ instanceCode: instance('dan'), employeeId: 'u_dan', leaveName: '事假', start: '2042-03-18 00:00:00', end: '2042-03-20 00:00:00', interval: 2 * 86_400 });
  await both({ instanceCode: instance('alice2'), employeeId: 'u_alice', leaveName: 'Annual leave', start: '2042-03-02 00:00:00', end: '2042-03-04 00:00:00', interval: 2 * 86_400 });
  await both({ instanceCode: instance('eve'), employeeId: 'u_eve', leaveName: 'Annual leave', start: '2042-03-10 00:00:00', end: '2042-03-11 00:00:00', interval: 86_400 });
  await send(leaveRevert({ instanceCode: instance('eve') }));
  // the drift case: Google refuses Frank's block for good
  google.faults.add({ op: 'insert', calendarId: 'frank@example.com', fault: googleError(400, 'invalid', 'Invalid time zone definition for start time.'), times: Infinity });
  await both({ instanceCode: instance('frank'), employeeId: 'u_frank', leaveName: 'Sick leave', start: '2042-03-25 00:00:00', end: '2042-03-26 00:00:00', interval: 86_400 });
  // and an event we could not use
  await send(leaveApprovalV1({ instanceCode: instance('broken'), employeeId: 'u_bob', start: '2042-03-27 00:00:00', end: '2042-03-28 00:00:00', interval: 7 }), 'quarantined');

  const drainer = createDrainer(t.deps, drainerOptions(t.deps.config, { quickRetry: { retries: 0, minTimeoutMs: 1, maxTimeoutMs: 1 }, releaseHeldOnStart: false }));
  expect(await drainer.drainOnce()).toMatchObject({ dead: 1 });

  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  userDataDir = await mkdtemp(path.join(tmpdir(), 'lb-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  context.on('request', (req) => {
    if (!req.url().startsWith(base)) external.push(req.url());
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await google?.close();
  await feishuFake?.close();
  await db?.close();
});

const text = (page: Page, testId: string) => page.getByTestId(testId).innerText();

describe('dashboard in Chromium', () => {
  it('asks for the token, refuses a wrong one, and shows the month after login', async () => {
    const page = await context.newPage();
    const first = await page.goto(`${base}/dashboard`);
    expect(first?.status()).toBe(401);
    await expect.poll(() => page.locator('input[name=token]').count()).toBe(1);

    await page.fill('input[name=token]', 'not-the-token');
    const [wrong] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(wrong?.status()).toBe(401);
    expect(await page.getByRole('alert').innerText()).toMatch(/not right/);

    await page.fill('input[name=token]', ADMIN);
    const [ok] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(ok?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    // plain http on 127.0.0.1: no Secure, so the name has no __Host- prefix
    const cookie = (await context.cookies(base)).find((c) => c.name === 'lb_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    // a random session id, never the admin token or anything derived from it alone
    expect(cookie!.value).not.toContain(ADMIN);
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await text(page, 'session-who')).toBe('admin token');

    // The default period is the current month in DEFAULT_TIMEZONE.
    expect(await text(page, 'period')).toBe('2042-03-01 → 2042-03-31');
    // alice ×2, bob, carol, dan, frank approved; eve reverted
    expect(await text(page, 'fig-leaves-value')).toBe('6');
    expect(await text(page, 'fig-leaves')).toMatch(/1 reverted/);
    // 5 + 2 (alice) + 0.5 (bob) + 2 (dan) + 1 (frank) days, and carol's 4 hours
    expect(await text(page, 'fig-days-value')).toBe('10.5');
    expect(await text(page, 'fig-days')).toMatch(/\+ 4 h/);
    // Wednesday 18th: alice, bob and dan
    expect(await text(page, 'fig-today-value')).toBe('3');
    expect(await text(page, 'fig-today')).toMatch(/u_alice, u_bob, u_dan/);
    expect(await text(page, 'fig-outbox-value')).toBe('0 / 1');
    expect(await text(page, 'fig-drift-value')).toBe('3');

    // the drift rows: Frank's block is missing and its upsert dead; the broken event is quarantined
    const rows = await page.locator('tr.drift-row').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-category'), tr.getAttribute('data-instance')]));
    expect(rows).toEqual([
      ['calendar_missing', instance('frank')],
      ['calendar_dead', instance('frank')],
      ['quarantined_event', instance('broken')],
    ]);
    const deadRow = page.locator('tr.drift-row[data-category=calendar_dead]');
    expect(await deadRow.innerText()).toMatch(/Invalid time zone definition/);
    expect(await deadRow.innerText()).toMatch(/POST \/api\/outbox\/\d+\/retry/);

    // outbox health
    expect(await text(page, 'outbox-dead')).toBe('1');
    expect(await text(page, 'outbox-pending')).toBe('0');

    // the chart: one bar segment per (day, type) with leave, a legend entry per type, axis labels
    const svg = page.locator('[data-testid=chart] svg');
    expect(await svg.locator('rect.bar').count()).toBe(5 + 2 + 1 + 1 + 2 + 1); // alice 5+2, bob, carol, dan 2, frank
    const legend = await svg.locator('g.legend-item text').allTextContents();
    expect(legend.sort()).toEqual(['Annual leave', 'Personal leave', 'Sick leave', '事假']);
    const axisText = await svg.locator('text').allTextContents();
    expect(axisText).toContain('Date');
    expect(axisText.some((s) => s.startsWith('Person-days'))).toBe(true);
    // the 18th stacks alice (1), bob (0.5) and dan (1)
    const on18 = await svg.locator('rect.bar[data-category="2042-03-18"]').evaluateAll((rs) => rs.map((r) => [r.getAttribute('data-series'), r.getAttribute('data-value')]));
    expect(on18.sort()).toEqual([
      ['Annual leave', '1'],
      ['Sick leave', '0.5'],
      ['事假', '1'],
    ]);

    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // a drift link opens the leave's page
    await Promise.all([page.waitForNavigation(), page.locator(`tr.drift-row[data-category=calendar_dead] a[href^="/dashboard/leaves/"]`).click()]);
    expect(await page.getByTestId('leave-facts').innerText()).toContain(instance('frank'));
    expect(await page.locator('body').innerText()).toMatch(/outbox #\d+ calendar\.upsert/);
    await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-leave.png'), fullPage: true });

    // another period through the form
    await page.goto(`${base}/dashboard?from=2042-02-01&to=2042-02-28`);
    expect(await text(page, 'fig-leaves-value')).toBe('0');
    expect(await page.getByTestId('drift-table').count()).toBe(1); // the quarantined event is not tied to a period

    // nothing came from anywhere but the app (no CDN, no fonts, no scripts)
    expect(external).toEqual([]);
    expect(await page.locator('script').count()).toBe(0);

    // sign out: the session is revoked server-side, the cookie gone, the form back
    await page.goto(`${base}/dashboard`);
    const before = (await context.cookies(base)).find((c) => c.name === 'lb_session')!.value;
    await Promise.all([page.waitForNavigation(), page.click('form[action="/dashboard/logout"] button')]);
    expect(await page.locator('input[name=token]').count()).toBe(1);
    expect((await context.cookies(base)).find((c) => c.name === 'lb_session')).toBeUndefined();
    expect((await fetch(`${base}/api/leaves`, { headers: { cookie: `lb_session=${before}` } })).status).toBe(401);
    await page.close();
  });

  it('takes the bearer token as well; without ADMIN_TOKEN the dashboard does not exist', async () => {
    const res = await fetch(`${base}/dashboard?from=2042-03-01&to=2042-03-31`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(await res.text()).toMatch(/^<!DOCTYPE html>/);
    expect((await fetch(`${base}/dashboard`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/dashboard?from=2042-03-31&to=2042-03-01`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(400);
    // a login may only send the browser back into the dashboard
    const login = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: ADMIN, next: 'https://evil.example/' }),
      headers: { origin: base },
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/dashboard');

    const off = testApp(db, { env: { ADMIN_TOKEN: undefined } });
    expect((await off.app.request('/dashboard', { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    expect((await off.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: ADMIN }) })).status).toBe(404);
  });

  it('signs in with Feishu (the fake authorize page) and signs out', async () => {
    // A second app with Feishu sign-in on, on a port known in advance: PUBLIC_URL (the redirect URI) needs it.
    const port = await freePort();
    const feishuBase = `http://127.0.0.1:${port}`;
    const client = createFeishuClient({ appId: feishuFake.appId, appSecret: feishuFake.appSecret, baseUrl: feishuFake.url, logger: silentLogger, retry: { retries: 0, minTimeout: 1, maxTimeout: 1 } });
    const t = testApp(db, {
      env: { FEISHU_ENCRYPT_KEY: undefined, PUBLIC_URL: feishuBase, FEISHU_APP_ID: feishuFake.appId, FEISHU_APP_SECRET: feishuFake.appSecret, FEISHU_BASE_URL: feishuFake.url, ADMIN_FEISHU_USERS: 'u_carol' },
      feishu: client,
      feishuSignIn: client,
      clock: { now: () => NOW },
    });
    const second = serve({ fetch: t.app.fetch, port, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => second.once('listening', () => resolve()));
    try {
      feishuFake.signInAs('u_carol');
      const page = await context.newPage();
      const first = await page.goto(`${feishuBase}/dashboard?from=2042-03-01&to=2042-03-31`);
      expect(first?.status()).toBe(401);
      // no token form where people can be named
      expect(await page.locator('input[name=token]').count()).toBe(0);
      await Promise.all([page.waitForURL(`${feishuBase}/dashboard?from=2042-03-01&to=2042-03-31`), page.getByTestId('feishu-sign-in').click()]);

      expect(await text(page, 'session-who')).toBe('carol (u_carol)');
      expect(await text(page, 'fig-leaves-value')).toBe('6');
      const cookie = (await context.cookies(feishuBase)).find((c) => c.name === 'lb_session');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
      // the state cookie was for the round trip only
      expect((await context.cookies(feishuBase)).find((c) => c.name === 'lb_oauth')).toBeUndefined();
      // the audit page shows the sign-in
      await page.goto(`${feishuBase}/dashboard/audit?action=sign_in`);
      expect(await page.locator('tr.audit-row[data-action=sign_in]').first().innerText()).toMatch(/carol \(u_carol\)/);

      await Promise.all([page.waitForNavigation(), page.click('form[action="/dashboard/logout"] button')]);
      expect(await page.getByTestId('feishu-sign-in').count()).toBe(1);
      expect((await context.cookies(feishuBase)).find((c) => c.name === 'lb_session')).toBeUndefined();
      expect((await fetch(`${feishuBase}/api/leaves`, { headers: { cookie: `lb_session=${cookie!.value}` } })).status).toBe(401);
      await page.close();
    } finally {
      // the browser keeps its connections alive: close them, or close() waits for them
      (second as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((resolve) => second.close(() => resolve()));
    }
  });
});
