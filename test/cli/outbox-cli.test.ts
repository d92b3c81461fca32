import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, employees, outbox } from '../../src/db/schema.js';
import { testApp, testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1 } from '../support/feishu.js';
import { runCli } from '../support/process.js';
import { employeeCommand, outboxCommand } from '../../src/cli/outbox.js';

/** `leave-bridge outbox …` and `leave-bridge employee …` as real processes against Postgres. */
describe('leave-bridge outbox / employee commands (postgres)', () => {
  let db: TestDatabase;
  /** through node.ts as a real process: proves the commands are registered and wired */
  const spawnCli = async (args: string[]) => {
    const child = runCli(args, { DATABASE_URL: db.url!, LOG_LEVEL: 'warn' });
    const { code } = await child.exited;
    return { code, out: child.output() };
  };
  /** the same command functions in this process (a spawn costs seconds on a busy machine) */
  const run = async (args: string[]) => {
    let out = '';
    const io = { out: (l: string) => (out += `${l}\n`), err: (l: string) => (out += `${l}\n`) };
    const config = testConfig({ DATABASE_URL: db.url!, LOG_LEVEL: 'silent' });
    const [name, ...rest] = args;
    const code = await (name === 'outbox' ? outboxCommand : employeeCommand)(config, rest, io);
    return { code, out };
  };
  const rows = (key: string) => db.db.select().from(outbox).where(eq(outbox.key, key)).orderBy(outbox.id);

  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('list shows dead rows with their reason; retry brings one back; a second retry is refused', async () => {
    const t = testApp(db);
    const key = `CLI-${process.pid}-dead`;
    await t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: key, employeeId: 'u_cli' })));
    const [row] = await rows(key);
    await db.db.update(outbox).set({ status: 'dead', attempts: 12, lastError: '[permanent 400 invalid] insert: 400 invalid: Invalid value' }).where(eq(outbox.id, row!.id));

    const listed = await spawnCli(['outbox', 'list', '--status', 'dead']);
    expect(listed.code).toBe(0);
    const line = listed.out.split('\n').find((l) => l.startsWith(`${row!.id}\t`));
    expect(line).toBeDefined();
    expect(line!.split('\t').slice(0, 5)).toEqual([String(row!.id), 'dead', 'calendar.upsert', key, '12']);
    expect(line).toMatch(/Invalid value/);

    const retried = await run(['outbox', 'retry', String(row!.id)]);
    expect(retried.code).toBe(0);
    expect(retried.out).toMatch(/is pending again/);
    expect((await rows(key))[0]).toMatchObject({ status: 'pending', attempts: 0 });

    const again = await run(['outbox', 'retry', String(row!.id)]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/only dead or held messages can be retried/);
    expect((await run(['outbox', 'retry', '99999999'])).code).toBe(3);
    expect((await run(['outbox', 'list', '--status', 'bogus'])).code).toBe(2);
    // the retried row is pending: a sync would do the same work
    expect(await run(['outbox', 'sync', key])).toEqual({ code: 0, out: `${key}: a calendar sync was already queued\n` });
    await db.db.update(outbox).set({ status: 'done' }).where(eq(outbox.id, row!.id));
    expect(await run(['outbox', 'sync', key])).toEqual({ code: 0, out: `${key}: calendar sync queued\n` });
    expect((await rows(key)).map((r) => [r.kind, r.status])).toEqual([['calendar.upsert', 'done'], ['calendar.upsert', 'pending']]);
    expect((await run(['outbox', 'sync', 'NO-SUCH-LEAVE'])).code).toBe(3);
  }, 180_000);

  it('employee set stores the override, validates input, and releases held rows', async () => {
    const t = testApp(db);
    const key = `CLI-${process.pid}-held`;
    await t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: key, employeeId: 'u_held' })));
    const [row] = await rows(key);
    await db.db.update(outbox).set({ status: 'held', lastError: 'no email' }).where(eq(outbox.id, row!.id));

    const bad = await run(['employee', 'set', 'u_held', '--email', 'not-an-email']);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/email/);

    const ok = await spawnCli(['employee', 'set', 'u_held', '--email', 'held@google.example.com', '--timezone', 'Europe/Paris']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/1 held message\(s\) released/);
    const [e] = await db.db.select().from(employees).where(eq(employees.employeeId, 'u_held'));
    expect(e).toMatchObject({ emailOverride: 'held@google.example.com', timezone: 'Europe/Paris' });
    // released, and coalesced with the re-sync the new zone asked for: one pending row
    expect((await rows(key)).filter((r) => r.status === 'pending')).toHaveLength(1);
    expect((await rows(key)).filter((r) => r.status === 'held')).toHaveLength(0);

    const listed = await run(['employee', 'list', '--json']);
    expect(JSON.parse(listed.out.slice(listed.out.indexOf('[')))).toEqual(
      expect.arrayContaining([expect.objectContaining({ employee_id: 'u_held', email: 'held@google.example.com', timezone: 'Europe/Paris' })]),
    );
  }, 180_000);

  it('the admin actions of the command line are in the audit log, as the API\'s are, with their outcome', async () => {
    const entries = async () =>
      (await db.db.select().from(auditLog).orderBy(auditLog.id)).filter((e) => e.actorKind === 'cli').map((e) => [e.action, e.target, e.outcome, (e.detail as { error?: string } | null)?.error ?? null]);
    const before = (await entries()).length;
    expect((await run(['outbox', 'retry', '99999998'])).code).toBe(3);
    expect((await run(['employee', 'set', 'u_audit', '--timezone', 'Asia/Tokyo'])).code).toBe(0);
    expect((await run(['outbox', 'sync', 'NO-SUCH-LEAVE-AUDIT'])).code).toBe(3);
    expect((await entries()).slice(before)).toEqual([
      ['outbox.retry', '99999998', 'failed', 'outbox_not_found'],
      ['employee.update', 'u_audit', 'ok', null],
      ['leave.sync', 'NO-SUCH-LEAVE-AUDIT', 'failed', 'approval_not_found'],
    ]);
    const [last] = await db.db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(1);
    expect(last!.actorId).toBeTruthy();
    expect(last!.address).toMatch(/^cli@/);
  });
});
