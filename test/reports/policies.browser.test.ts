import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, leavePolicies } from '../../src/db/schema.js';
import { ADMIN, testApp } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';

/*
 * The policy page in a real browser (headless Chromium driven by playwright-core, as the
 * dashboard's own browser test does): it renders the policies, and its form (no script, the
 * session's CSRF token) stores, edits and refuses a policy.
 */

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let db: TestDatabase;
let server: ServerType;
let base: string;
let context: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  db = await createPostgresDatabase();
  const t = testApp(db, { env: { FEISHU_ENCRYPT_KEY: undefined } });
  await db.db.insert(leavePolicies).values({ kind: '*', leaveType: '*', calendar: 'outOfOffice', visibility: 'name_only', updatedAt: new Date() });
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  userDataDir = await mkdtemp(path.join(tmpdir(), 'lb-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await db?.close();
});

describe('the policy page in Chromium', () => {
  it('renders the policies and edits one through its form', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/dashboard/policies`);
    await page.fill('input[name=token]', ADMIN);
    await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    expect(new URL(page.url()).pathname).toBe('/dashboard/policies');
    const rows = () => page.locator('tr.policy-row').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 8).map((td) => td.textContent?.trim())));
    expect(await rows()).toEqual([['*', '*', 'outOfOffice', 'default', 'default', 'name_only', '—', 'default']]);
    expect(await page.locator('script').count()).toBe(0);

    // a new policy: sick leave shows as "Away", declines nothing, codes as SICK
    await page.selectOption('#policy-kind', 'leave');
    await page.fill('#policy-leave_type', 'Sick leave');
    await page.selectOption('#policy-calendar', 'outOfOffice');
    await page.selectOption('#policy-decline_mode', 'declineNone');
    await page.fill('#policy-title', 'Away');
    await page.selectOption('#policy-visibility', 'name_only');
    await page.fill('#policy-payroll_code', 'SICK');
    const [saved] = await Promise.all([page.waitForNavigation(), page.click('[data-testid=policy-form] button[type=submit]')]);
    expect(saved?.status()).toBe(200);
    expect(await page.getByTestId('policy-saved').innerText()).toMatch(/Saved leave\/Sick leave; 0 future blocks/);
    expect(await rows()).toContainEqual(['leave', 'Sick leave', 'outOfOffice', 'declineNone', 'Away', 'name_only', 'SICK', 'default']);

    // edit it: the form comes back filled; a free block with a decline mode is refused, naming the field, and nothing changes
    await Promise.all([page.waitForNavigation(), page.locator('tr.policy-row[data-type="Sick leave"] a', { hasText: 'Edit' }).click()]);
    expect(await page.inputValue('#policy-title')).toBe('Away');
    expect(await page.inputValue('#policy-kind')).toBe('leave');
    await page.selectOption('#policy-calendar', 'free');
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('[data-testid=policy-form] button[type=submit]')]);
    expect(refused?.status()).toBe(400);
    expect(await page.getByTestId('policy-error').innerText()).toMatch(/^decline_mode: a decline mode applies to outOfOffice blocks only/);
    expect(await page.inputValue('#policy-calendar')).toBe('free');
    expect(await rows()).toContainEqual(['leave', 'Sick leave', 'outOfOffice', 'declineNone', 'Away', 'name_only', 'SICK', 'default']);

    await page.selectOption('#policy-decline_mode', '');
    await page.selectOption('#policy-counts_as_leave', 'false');
    await Promise.all([page.waitForNavigation(), page.click('[data-testid=policy-form] button[type=submit]')]);
    expect(await rows()).toContainEqual(['leave', 'Sick leave', 'free', '', 'Away', 'name_only', 'SICK', 'false']);
    const stored = await db.db.select().from(leavePolicies);
    expect(stored.find((p) => p.leaveType === 'Sick leave')).toMatchObject({ kind: 'leave', calendar: 'free', declineMode: null, title: 'Away', payrollCode: 'SICK', countsAsLeave: false });

    // delete the default
    await Promise.all([page.waitForNavigation(), page.locator('tr.policy-row[data-type="*"] button', { hasText: 'Delete' }).click()]);
    expect(await page.getByTestId('policy-saved').innerText()).toMatch(/Deleted \*\/\*/);
    expect((await rows()).map((r) => r[1])).toEqual(['Sick leave']);

    const audit = await db.db.select().from(auditLog).orderBy(auditLog.id);
    expect(audit.filter((a) => a.action.startsWith('policy.')).map((a) => [a.action, a.target, a.outcome])).toEqual([
      ['policy.set', 'leave/Sick leave', 'ok'],
      ['policy.set', 'leave/Sick leave', 'failed'],
      ['policy.set', 'leave/Sick leave', 'ok'],
      ['policy.delete', '*/*', 'ok'],
    ]);
    await page.close();
  });

  it('refuses a form write without the session token, and one from another site', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/dashboard/policies`);
    const cookie = (await context.cookies(base)).find((c) => c.name === 'lb_session')!;
    const post = (body: Record<string, string>, headers: Record<string, string>) =>
      fetch(`${base}/dashboard/policies`, { method: 'POST', body: new URLSearchParams(body), headers: { cookie: `${cookie.name}=${cookie.value}`, ...headers }, redirect: 'manual' });
    const body = { kind: '*', leave_type: 'Training', calendar: 'busy', visibility: 'hidden' };
    expect((await post(body, { origin: base })).status).toBe(403);
    const csrf = await page.locator('[data-testid=policy-form] input[name=csrf]').inputValue();
    expect((await post({ ...body, csrf }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ ...body, csrf }, { origin: base })).status).toBe(303);
    expect((await db.db.select().from(leavePolicies)).map((p) => p.leaveType).sort()).toEqual(['Sick leave', 'Training']);
    await page.close();
  });
});
