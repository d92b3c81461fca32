import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDITED } from '../../src/routes/audit.js';
import { testApp } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1 } from '../support/feishu.js';
import { signInWithToken } from './sign-in.js';

/*
 * The audit log: every admin action with who, what, when and from where; shown at GET /api/audit
 * (paged, filtered) and on /dashboard/audit.
 */

interface AuditItem {
  id: number;
  at: string;
  actor: { kind: string; id: string | null; name: string | null };
  action: string;
  target: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
  address: string | null;
}
type AuditPage = { items: AuditItem[]; next_before: number | null };

describe('audit log', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('every write route of the API is audited', () => {
    const t = testApp(db);
    const writes = t.app.routes.filter((r) => r.path.startsWith('/api/') && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    const audited = new Set(AUDITED.map((a) => `${a.method} /api${a.path}`));
    expect(writes.map((r) => `${r.method} ${r.path}`).filter((w) => !audited.has(w))).toEqual([]);
  });

  it('records replay, retry, employee override, export, sign-in, failed sign-in and sign-out: who, what, when, from where', async () => {
    let now = Date.parse('2042-03-18T04:00:00Z');
    const t = testApp(db, { clock: { now: () => new Date(now) }, env: { FEISHU_ENCRYPT_KEY: undefined } });
    const from = { 'cf-connecting-ip': '192.0.2.10' };
    const broken = JSON.parse(leaveApprovalV1()) as { event: Record<string, unknown> };
    delete broken.event.employee_id;
    await t.post({ body: JSON.stringify(broken), headers: { 'content-type': 'application/json' } });
    const events = (await (await t.admin('/api/events?status=quarantined')).json()) as { items: Array<{ id: number }> };
    const id = events.items[0]!.id;

    // a script with the bearer token
    const bearer = (path: string, init: RequestInit = {}) => t.admin(path, { ...init, headers: { ...from, ...(init.headers ?? {}) } });
    expect((await bearer(`/api/events/${id}/replay`, { method: 'POST', body: JSON.stringify({ event: { ...broken.event, employee_id: 'u_x' } }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect((await bearer('/api/outbox/987654/retry', { method: 'POST' })).status).toBe(404);
    // a person through the dashboard's session
    now += 1000;
    await t.app.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ token: 'not-the-token' }), headers: { origin: 'http://localhost', ...from } });
    const cookie = await signInWithToken(t.app, (await import('../support/app.js')).ADMIN, from);
    const session = (path: string, init: RequestInit = {}) => t.app.request(path, { ...init, headers: { cookie, origin: 'http://localhost', 'content-type': 'application/json', ...from, ...(init.headers ?? {}) } });
    expect((await session('/api/employees/u_audit', { method: 'PUT', body: JSON.stringify({ email: 'audit@example.com', timezone: 'Europe/Berlin' }) })).status).toBe(200);
    expect((await session('/api/payroll/export?from=2042-03-01&to=2042-03-31')).status).toBe(200);
    const page = await (await session('/dashboard')).text();
    const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(page)![1]!;
    expect((await t.app.request('/dashboard/logout', { method: 'POST', body: new URLSearchParams({ csrf }), headers: { cookie, origin: 'http://localhost', ...from } })).status).toBe(303);

    const log = (await (await t.admin('/api/audit?limit=20')).json()) as AuditPage;
    const mine = log.items.filter((i) => i.address === '192.0.2.10').reverse();
    expect(mine.map((i) => [i.action, i.outcome, i.actor.kind, i.target])).toEqual([
      ['event.replay', 'ok', 'token', String(id)],
      ['outbox.retry', 'failed', 'token', '987654'],
      ['sign_in_failed', 'failed', 'anonymous', null],
      ['sign_in', 'ok', 'token', null],
      ['employee.update', 'ok', 'token', 'u_audit'],
      ['payroll.export', 'ok', 'token', null],
      ['sign_out', 'ok', 'token', null],
    ]);
    expect(mine[0]!.detail).toEqual({ corrected: true });
    expect(mine[1]!.detail).toEqual({ error: 'outbox_not_found' });
    // field names, never the values (an email address is personal data)
    expect(mine[4]!.detail).toEqual({ fields: ['email', 'timezone'] });
    expect(JSON.stringify(log)).not.toContain('audit@example.com');
    expect(mine[5]!.detail).toMatchObject({ from: '2042-03-01', to: '2042-03-31', format: 'csv', export_id: expect.stringMatching(/^\d+$/) });
    expect(mine[2]!.at).toBe('2042-03-18T04:00:01.000Z');
  });

  it('is paged newest first and filtered by action, actor, outcome and time', async () => {
    const t = testApp(db);
    const from = { 'cf-connecting-ip': '192.0.2.55' };
    for (let i = 0; i < 5; i++) await t.admin(`/api/outbox/${900000 + i}/retry`, { method: 'POST', headers: from });
    const first = (await (await t.admin('/api/audit?action=outbox.retry&limit=2')).json()) as AuditPage;
    expect(first.items).toHaveLength(2);
    expect(first.items[0]!.id).toBeGreaterThan(first.items[1]!.id);
    const second = (await (await t.admin(`/api/audit?action=outbox.retry&limit=2&before=${first.next_before}`)).json()) as AuditPage;
    expect(second.items[0]!.id).toBeLessThan(first.items[1]!.id);
    expect((await (await t.admin('/api/audit?actor=token&outcome=failed&limit=500')).json() as AuditPage).items.every((i) => i.actor.kind === 'token' && i.outcome === 'failed')).toBe(true);
    expect(((await (await t.admin('/api/audit?from=2999-01-01')).json()) as AuditPage).items).toEqual([]);
    expect((await t.admin('/api/audit?outcome=maybe')).status).toBe(400);
    expect((await t.admin('/api/audit?limit=501')).status).toBe(400);
  });

  it('is shown on the dashboard, filtered by the same parameters', async () => {
    const t = testApp(db);
    await t.admin('/api/outbox/999999/retry', { method: 'POST', headers: { 'cf-connecting-ip': '192.0.2.99' } });
    const res = await t.admin('/dashboard/audit?action=outbox.retry&outcome=failed');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-action="outbox.retry"');
    expect(html).toContain('192.0.2.99');
    expect(html).not.toContain('data-action="sign_in"');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  });
});
