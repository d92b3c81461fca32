import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';

/*
 * /api/policies: list, get (stored and effective), put (kind in the query or the body), delete,
 * the audit of each write, and bad input: each a 400 naming the field, and nothing stored.
 */

type ErrorBody = { error: { code: string; message: string } };

for (const backend of BACKENDS) {
  describe(`the policy API (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db);
    });
    afterAll(async () => {
      await db?.close();
    });
    const put = (path: string, body: unknown, contentType = 'application/json') =>
      t.admin(`/api/policies/${path}`, { method: 'PUT', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': contentType } });
    const list = async () => ((await (await t.admin('/api/policies')).json()) as { items: Array<Record<string, unknown>> }).items;

    it('stores, shows, replaces and deletes a policy; `*` is the default; every write is audited', async () => {
      expect(await list()).toEqual([]);
      const got = (await (await t.admin('/api/policies/Sick%20leave?kind=leave')).json()) as Record<string, unknown>;
      expect(got).toEqual({
        kind: 'leave',
        leave_type: 'Sick leave',
        policy: null,
        effective: { calendar: 'outOfOffice', decline_mode: 'declineOnlyNewConflictingInvitations', title: 'Out of office', visibility: 'name_only', payroll_code: null, counts_as_leave: true, source: null },
      });

      const res = await put('Sick%20leave', { kind: 'leave', calendar: 'outOfOffice', decline_mode: 'declineAllConflictingInvitations', title: 'Away', visibility: 'name_only', payroll_code: 'S1' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        policy: { kind: 'leave', leave_type: 'Sick leave', calendar: 'outOfOffice', decline_mode: 'declineAllConflictingInvitations', title: 'Away', visibility: 'name_only', payroll_code: 'S1', counts_as_leave: null },
        resynced: 0,
      });
      expect((await put('*', { calendar: 'busy', visibility: 'hidden' })).status).toBe(200);
      // the same type and kind again replaces it; unset fields go back to their defaults
      expect((await put('Sick%20leave?kind=leave', { calendar: 'free', visibility: 'name_and_type' })).status).toBe(200);
      expect(await list()).toEqual([
        expect.objectContaining({ kind: '*', leave_type: '*', calendar: 'busy', visibility: 'hidden' }),
        expect.objectContaining({ kind: 'leave', leave_type: 'Sick leave', calendar: 'free', decline_mode: null, title: null, payroll_code: null }),
      ]);
      const effective = (await (await t.admin('/api/policies/Annual%20leave?kind=trip')).json()) as { effective: Record<string, unknown> };
      expect(effective.effective).toMatchObject({ calendar: 'busy', visibility: 'hidden', counts_as_leave: false, source: { kind: '*', leave_type: '*' } });

      expect((await t.admin('/api/policies/Sick%20leave?kind=leave', { method: 'DELETE' })).status).toBe(200);
      const again = await t.admin('/api/policies/Sick%20leave?kind=leave', { method: 'DELETE' });
      expect(again.status).toBe(404);
      expect(((await again.json()) as ErrorBody).error.code).toBe('policy_not_found');
      expect((await list()).map((p) => p.leave_type)).toEqual(['*']);

      const audit = (await (await t.admin('/api/audit?action=policy.set')).json()) as { items: Array<{ target: string; outcome: string; detail: Record<string, unknown> }> };
      expect(audit.items.map((i) => [i.target, i.outcome])).toEqual([
        ['leave/Sick leave', 'ok'],
        ['*/*', 'ok'],
        ['*/Sick leave', 'ok'],
      ]);
      expect(audit.items[2]!.detail).toMatchObject({ kind: 'leave', fields: expect.arrayContaining(['calendar', 'title']) });
      const deletes = (await (await t.admin('/api/audit?action=policy.delete')).json()) as { items: Array<{ target: string; outcome: string }> };
      expect(deletes.items.map((i) => [i.target, i.outcome])).toEqual([
        ['leave/Sick leave', 'failed'],
        ['leave/Sick leave', 'ok'],
      ]);
    });

    it.each([
      ['an unknown kind in the body', 'Sick%20leave', { kind: 'vacation', calendar: 'busy', visibility: 'hidden' }, 'kind'],
      ['an unknown kind in the query', 'Sick%20leave?kind=vacation', { calendar: 'busy', visibility: 'hidden' }, 'kind'],
      ['an invalid decline mode', 'Sick%20leave', { calendar: 'outOfOffice', decline_mode: 'declineSometimes', visibility: 'hidden' }, 'decline_mode'],
      ['a decline mode on a busy block', 'Sick%20leave', { calendar: 'busy', decline_mode: 'declineNone', visibility: 'hidden' }, 'decline_mode'],
      ['an over-long title', 'Sick%20leave', { calendar: 'busy', title: 'x'.repeat(201), visibility: 'hidden' }, 'title'],
      ['a title with a line break', 'Sick%20leave', { calendar: 'busy', title: 'Away\r\nX-Header: 1', visibility: 'hidden' }, 'title'],
      ['an unknown calendar effect', 'Sick%20leave', { calendar: 'tentative', visibility: 'hidden' }, 'calendar'],
      ['a missing visibility', 'Sick%20leave', { calendar: 'busy' }, 'visibility'],
      ['an unknown field', 'Sick%20leave', { calendar: 'busy', visibility: 'hidden', colour: 'red' }, 'colour'],
      ['counts_as_leave that is not a boolean', 'Sick%20leave', { calendar: 'busy', visibility: 'hidden', counts_as_leave: 'yes' }, 'counts_as_leave'],
      ['an over-long payroll code', 'Sick%20leave', { calendar: 'busy', visibility: 'hidden', payroll_code: 'P'.repeat(65) }, 'payroll_code'],
      ['a leave type with a control character', 'Sick%07leave', { calendar: 'busy', visibility: 'hidden' }, 'leave_type'],
      ['kinds that disagree', 'Sick%20leave?kind=out', { kind: 'leave', calendar: 'busy', visibility: 'hidden' }, 'kind'],
    ])('%s is a 400 naming the field, and nothing is stored', async (_what, path, body, field) => {
      const before = await list();
      const res = await put(path, body);
      expect(res.status).toBe(400);
      const err = ((await res.json()) as ErrorBody).error;
      expect(err.message.startsWith(`${field}:`)).toBe(true);
      expect(await list()).toEqual(before);
    });

    it('a body that is not JSON is refused before anything is stored', async () => {
      expect((await put('Sick%20leave', '{"calendar":', 'application/json')).status).toBe(400);
      expect((await put('Sick%20leave', 'calendar=busy', 'application/x-www-form-urlencoded')).status).toBe(415);
      const unknownKind = await t.admin('/api/policies/Sick%20leave?kind=holiday');
      expect(unknownKind.status).toBe(400);
      expect(((await unknownKind.json()) as ErrorBody).error.message).toMatch(/^kind: unknown kind/);
    });
  });
}
