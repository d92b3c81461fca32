import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalsCommand } from '../../src/cli/approvals.js';
import { testApp, testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1, tripApproval, workApproval } from '../support/feishu.js';
import { runCli } from '../support/process.js';

/** `leave-bridge approvals list` against Postgres. */
describe('leave-bridge approvals list (postgres)', () => {
  let db: TestDatabase;
  const c = { leave: `CLI-A-L-${process.pid}`, trip: `CLI-A-T-${process.pid}`, work: `CLI-A-W-${process.pid}` };
  const run = async (args: string[]) => {
    let out = '';
    const io = { out: (l: string) => (out += `${l}\n`), err: (l: string) => (out += `${l}\n`) };
    const code = await approvalsCommand(testConfig({ DATABASE_URL: db.url!, LOG_LEVEL: 'silent' }), args, io);
    return { code, out };
  };
  beforeAll(async () => {
    db = await createPostgresDatabase();
    const t = testApp(db);
    await t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: c.leave, employeeId: 'u_l' })));
    await t.post(await encryptedRequest(tripApproval({ instanceCode: c.trip, employeeId: 'u_t', peers: ['u_p'] })));
    await t.post(await encryptedRequest(workApproval({ instanceCode: c.work, employeeId: 'u_w' })));
  });
  afterAll(async () => {
    await db?.close();
  });

  it('lists every kind; --kind and --status filter; --json gives the API items', async () => {
    const all = await run(['list']);
    expect(all.code).toBe(0);
    const lines = all.out.trim().split('\n');
    expect(lines[0]).toBe('instance_code\tkind\tstatus\temployee_id\tstart\tend\ttype\tpeers');
    expect(lines.slice(1).map((l) => l.split('\t').slice(0, 4)).sort()).toEqual(
      [
        [c.leave, 'leave', 'approved', 'u_l'],
        [c.trip, 'trip', 'approved', 'u_t'],
        [c.work, 'overtime', 'approved', 'u_w'],
      ].sort(),
    );
    const trips = await run(['list', '--kind', 'trip', '--json']);
    expect(JSON.parse(trips.out)).toEqual([expect.objectContaining({ instance_code: c.trip, kind: 'trip', peers: ['u_p'] })]);
    expect((await run(['list', '--status', 'reverted'])).out.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unknown kind or status with exit 2', async () => {
    expect(await run(['list', '--kind', 'holiday'])).toMatchObject({ code: 2, out: expect.stringContaining('--kind must be one of') });
    expect(await run(['list', '--status', 'done'])).toMatchObject({ code: 2 });
    expect(await run(['show'])).toMatchObject({ code: 2, out: expect.stringContaining('usage: leave-bridge approvals list') });
  });

  it('is registered: a real process lists the trip', async () => {
    const child = runCli(['approvals', 'list', '--kind', 'trip'], { DATABASE_URL: db.url!, LOG_LEVEL: 'warn' });
    const { code } = await child.exited;
    expect(code).toBe(0);
    expect(child.output()).toContain(`${c.trip}\ttrip\tapproved\tu_t`);
  });
});
