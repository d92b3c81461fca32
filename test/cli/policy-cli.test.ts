import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyCommand } from '../../src/cli/policy.js';
import { auditLog } from '../../src/db/schema.js';
import { testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { runCli } from '../support/process.js';

/** `leave-bridge policy list|set|delete|import` against Postgres. */
describe('leave-bridge policy (postgres)', () => {
  let db: TestDatabase;
  const dir = mkdtempSync(join(tmpdir(), 'lb-policy-'));
  const run = async (args: string[]) => {
    let out = '';
    const io = { out: (l: string) => (out += `${l}\n`), err: (l: string) => (out += `${l}\n`) };
    const code = await policyCommand(testConfig({ DATABASE_URL: db.url!, LOG_LEVEL: 'silent' }), args, io);
    return { code, out };
  };
  const file = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('sets, lists and deletes a policy; writes are audited as the CLI user', async () => {
    const set = await run(['set', 'Sick leave', '--kind', 'leave', '--calendar', 'outOfOffice', '--decline-mode', 'declineNone', '--title', 'Away', '--visibility', 'name_only', '--payroll-code', 'S1', '--counts-as-leave', 'true']);
    expect(set).toMatchObject({ code: 0, out: expect.stringContaining('leave\tSick leave\toutOfOffice\tdeclineNone\tAway\tname_only\tS1\ttrue') });
    expect((await run(['set', '*', '--calendar', 'busy', '--visibility', 'hidden'])).code).toBe(0);
    const listed = await run(['list']);
    expect(listed.out.trim().split('\n')).toEqual([
      'kind\tleave_type\tcalendar\tdecline_mode\ttitle\tvisibility\tpayroll_code\tcounts_as_leave',
      '*\t*\tbusy\t-\t-\thidden\t-\t-',
      'leave\tSick leave\toutOfOffice\tdeclineNone\tAway\tname_only\tS1\ttrue',
    ]);
    expect(await run(['delete', 'Sick leave', '--kind', 'leave'])).toMatchObject({ code: 0 });
    expect(await run(['delete', 'Sick leave', '--kind', 'leave'])).toMatchObject({ code: 3, out: expect.stringContaining('no policy') });
    const audit = await db.db.select().from(auditLog).orderBy(auditLog.id);
    expect(audit.map((a) => [a.action, a.target, a.outcome, a.actorKind])).toEqual([
      ['policy.set', 'leave/Sick leave', 'ok', 'cli'],
      ['policy.set', '*/*', 'ok', 'cli'],
      ['policy.delete', 'leave/Sick leave', 'ok', 'cli'],
      ['policy.delete', 'leave/Sick leave', 'failed', 'cli'],
    ]);
  });

  it('refuses bad input with exit 2, naming the option, and stores nothing', async () => {
    const before = (await run(['list', '--json'])).out;
    expect(await run(['set', 'X', '--kind', 'holiday', '--calendar', 'busy', '--visibility', 'hidden'])).toMatchObject({ code: 2, out: expect.stringContaining('--kind must be one of') });
    expect(await run(['set', 'X', '--calendar', 'outOfOffice', '--decline-mode', 'sometimes', '--visibility', 'hidden'])).toMatchObject({ code: 2, out: expect.stringContaining('--decline-mode: invalid decline mode') });
    expect(await run(['set', 'X', '--calendar', 'busy', '--title', 'x'.repeat(201), '--visibility', 'hidden'])).toMatchObject({ code: 2, out: expect.stringContaining('--title: at most 200 characters') });
    expect(await run(['set', 'X', '--calendar', 'busy'])).toMatchObject({ code: 2, out: expect.stringContaining('--visibility') });
    expect(await run(['set', 'X', '--calendar', 'busy', '--visibility', 'hidden', '--counts-as-leave', 'maybe'])).toMatchObject({ code: 2 });
    expect(await run(['frobnicate'])).toMatchObject({ code: 2, out: expect.stringContaining('usage: leave-bridge policy list') });
    expect((await run(['list', '--json'])).out).toBe(before);
  });

  it('imports a file of policies in one go, or nothing when one entry is bad (naming it)', async () => {
    const bad = file('bad.json', [
      { leave_type: 'Training', calendar: 'busy', visibility: 'name_and_type' },
      { leave_type: 'Sick leave', kind: 'leave', calendar: 'outOfOffice', title: 'y'.repeat(300), visibility: 'name_only' },
    ]);
    expect(await run(['import', bad])).toMatchObject({ code: 2, out: expect.stringContaining('entry 1: title: at most 200 characters') });
    expect(await run(['import', file('twice.json', [{ leave_type: 'A', calendar: 'none', visibility: 'hidden' }, { leave_type: 'A', calendar: 'busy', visibility: 'hidden' }])])).toMatchObject({ code: 2, out: expect.stringContaining('appear twice') });
    expect(await run(['import', file('notjson.json', '[{')])).toMatchObject({ code: 2, out: expect.stringContaining('not JSON') });
    expect((await run(['list'])).out).not.toContain('Training');

    const good = file('good.json', [
      { leave_type: 'Training', calendar: 'busy', visibility: 'name_and_type', payroll_code: 'TR' },
      { leave_type: 'Work from home', kind: 'leave', calendar: 'free', visibility: 'hidden', counts_as_leave: false },
    ]);
    expect(await run(['import', good])).toMatchObject({ code: 0, out: expect.stringContaining('imported 2 policies') });
    // what `policy list --json` prints imports back as it is
    const exported = file('exported.json', (await run(['list', '--json'])).out);
    expect(await run(['import', exported])).toMatchObject({ code: 0, out: expect.stringContaining('imported 3 policies') });
  });

  it('is registered: a real process lists the policies', async () => {
    const child = runCli(['policy', 'list'], { DATABASE_URL: db.url!, LOG_LEVEL: 'warn' });
    const { code } = await child.exited;
    expect(code).toBe(0);
    expect(child.output()).toContain('*\tTraining\tbusy');
  });
});
