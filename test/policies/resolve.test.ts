import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leavePolicies } from '../../src/db/schema.js';
import { PolicyBody } from '../../src/policies/body.js';
import { loadPolicies, policyKey, resolvePolicies, resolvePolicy, type PolicyDefaults } from '../../src/policies/resolve.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';

const defaults: PolicyDefaults = { declineMode: 'declineOnlyNewConflictingInvitations', title: 'Out of office' };

describe.each(BACKENDS)('policy resolution ($name)', (backend) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => db.close());

  it('without any policy, every kind behaves as before policies: out-of-office blocks with the configured defaults, name only', async () => {
    expect(await resolvePolicy(db.db, defaults, 'leave', 'Annual leave')).toEqual({
      calendar: 'outOfOffice',
      decline_mode: 'declineOnlyNewConflictingInvitations',
      title: 'Out of office',
      visibility: 'name_only',
      payroll_code: null,
      counts_as_leave: true,
      source: null,
    });
    expect(await resolvePolicy(db.db, defaults, 'trip', null)).toMatchObject({ calendar: 'outOfOffice', counts_as_leave: false, source: null });
    expect(await resolvePolicy(db.db, defaults, 'overtime', 'Weekend')).toMatchObject({ calendar: 'none', decline_mode: null, counts_as_leave: false });
    // a record whose kind is not known yet (only its revert seen) was a leave
    expect(await resolvePolicy(db.db, defaults, null, 'Annual leave')).toMatchObject({ calendar: 'outOfOffice', counts_as_leave: true });
  });

  it('the most specific row wins: (kind, type), (*, type), (kind, *), (*, *)', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    await db.db.insert(leavePolicies).values([
      { kind: '*', leaveType: '*', calendar: 'busy', visibility: 'hidden', payrollCode: 'ANY', updatedAt: now },
      { kind: 'leave', leaveType: '*', calendar: 'outOfOffice', declineMode: 'declineNone', visibility: 'name_only', updatedAt: now },
      { kind: '*', leaveType: 'Sick leave', calendar: 'outOfOffice', title: 'Away', visibility: 'name_only', payrollCode: 'SICK', updatedAt: now },
      { kind: 'out', leaveType: 'Sick leave', calendar: 'free', visibility: 'name_and_type', countsAsLeave: true, updatedAt: now },
    ]);
    const set = await loadPolicies(db.db, defaults);
    expect(set.resolve('out', 'Sick leave')).toEqual({
      calendar: 'free',
      decline_mode: null,
      title: 'Out of office',
      visibility: 'name_and_type',
      payroll_code: null,
      counts_as_leave: true,
      source: { kind: 'out', leave_type: 'Sick leave' },
    });
    expect(set.resolve('leave', 'Sick leave')).toMatchObject({ title: 'Away', payroll_code: 'SICK', decline_mode: defaults.declineMode, source: { kind: '*', leave_type: 'Sick leave' } });
    expect(set.resolve('leave', 'Annual leave')).toMatchObject({ calendar: 'outOfOffice', decline_mode: 'declineNone', source: { kind: 'leave', leave_type: '*' } });
    expect(set.resolve('leave', null)).toMatchObject({ source: { kind: 'leave', leave_type: '*' } });
    expect(set.resolve('trip', 'Conference')).toMatchObject({ calendar: 'busy', visibility: 'hidden', payroll_code: 'ANY', counts_as_leave: false, source: { kind: '*', leave_type: '*' } });
    expect(set.explicit('leave', 'Sick leave')).toBe(true);
    expect(set.explicit('leave', 'Annual leave')).toBe(false);

    const batch = await resolvePolicies(db.db, defaults, [
      { kind: 'leave', leave_type: 'Sick leave' },
      { kind: 'leave', leave_type: 'Annual leave' },
    ]);
    expect(batch.get(policyKey('leave', 'Sick leave'))?.payroll_code).toBe('SICK');
    expect(batch.get(policyKey('leave', 'Annual leave'))?.payroll_code).toBe(null);
  });
});

describe('policy body', () => {
  const ok = { calendar: 'outOfOffice', visibility: 'name_only' };
  const fieldOf = (body: unknown) => {
    const r = PolicyBody.safeParse(body);
    return r.success ? null : String(r.error.issues[0]!.path[0]);
  };
  it('names the field of each bad input', () => {
    expect(fieldOf(ok)).toBe(null);
    expect(fieldOf({ ...ok, kind: 'vacation' })).toBe('kind');
    expect(fieldOf({ ...ok, decline_mode: 'declineSome' })).toBe('decline_mode');
    expect(fieldOf({ ...ok, calendar: 'busy', decline_mode: 'declineNone' })).toBe('decline_mode');
    expect(fieldOf({ ...ok, title: 'x'.repeat(201) })).toBe('title');
    expect(fieldOf({ ...ok, title: 'a\nb' })).toBe('title');
    expect(fieldOf({ ...ok, visibility: 'everyone' })).toBe('visibility');
    expect(fieldOf({ ...ok, calendar: 'tentative' })).toBe('calendar');
  });
});
