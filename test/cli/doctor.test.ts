import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { doctorCommand, runChecks, type DoctorArgs } from '../../src/cli/doctor.js';
import type { CheckResult } from '../../src/cli/doctor/check.js';
import { expectedMigrations } from '../../src/db/client.js';
import { openPglite } from '../../src/db/node-client.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { googleError, startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { ADMIN, testApp } from '../support/app.js';
import { ADMIN_URL, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { DOC_TOKEN, encryptedRequest, leaveApprovalV1, TEST_ENCRYPT_KEY } from '../support/feishu.js';
import { freePort, runCli } from '../support/process.js';

/*
 * `leave-bridge doctor` against the fakes (real HTTP, the real SDK clients) and a real Postgres:
 * a good setup passes every check; each misconfiguration fails its own check, with its fix.
 */

const PERSON = { user_id: 'u_doc', name: 'Doc', email: 'doc@doctor.example.com' };
const ARGS: DoctorArgs = { as: PERSON.email, approvals: ['LEAVE-DEF'], employee: PERSON.user_id, writeProbe: true, json: false };

describe('leave-bridge doctor', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let feishu: FakeFeishu;
  let google: FakeGoogle;
  let env: Record<string, string>;
  const dirs: string[] = [];

  beforeAll(async () => {
    [db, feishu, google] = await Promise.all([createPostgresDatabase('lb_doctor'), startFakeFeishu(), startFakeGoogle()]);
    feishu.addUser(PERSON);
    feishu.addUser({ user_id: 'u_far', email: 'far@doctor.example.com' });
    feishu.addApproval('LEAVE-DEF', { name: 'Leave', subscribed: true });
    feishu.addApproval('FORMLESS-DEF', { name: 'Expenses', subscribed: true, form: [{ id: 'widget1', type: 'input', name: 'Amount' }] });
    env = {
      DATABASE_URL: db.url!,
      FEISHU_APP_ID: feishu.appId,
      FEISHU_APP_SECRET: feishu.appSecret,
      FEISHU_BASE_URL: feishu.url,
      FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
      FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY,
      GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: google.url,
      ADMIN_TOKEN: ADMIN,
    };
  });
  afterEach(() => {
    google.faults.clear();
    google.withholdDelegation(false);
  });
  afterAll(async () => {
    await Promise.all([db?.close(), feishu?.close(), google?.close()]);
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const byName = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r]));
  const check = async (over: Record<string, string | undefined> = {}, args: Partial<DoctorArgs> = {}) => byName(await runChecks({ ...env, ...over }, { ...ARGS, ...args }));

  it('passes every check with a good setup, and the out-of-office probe leaves nothing behind', async () => {
    const results = await runChecks(env, ARGS);
    expect(results.map((r) => r.check)).toEqual([
      'config',
      'database',
      'feishu.event-secrets',
      'feishu.credentials',
      'feishu.approval LEAVE-DEF',
      'feishu.contact-email',
      'google.key',
      'google.token',
      'google.calendar',
      'google.out-of-office',
    ]);
    expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
    const r = byName(results);
    expect(r.database!.detail).toContain(`${expectedMigrations} of ${expectedMigrations} migrations applied`);
    expect(r['feishu.approval LEAVE-DEF']!.detail).toBe('"Leave" (ACTIVE), leave widget present, already subscribed');
    expect(r['feishu.contact-email']!.detail).toContain(PERSON.email);
    expect(r['google.key']!.detail).toContain('client ID 100000000000000000001');
    const probes = google.events(PERSON.email);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ eventType: 'outOfOffice', status: 'cancelled' });
    expect(probes[0]!.id).toMatch(/^doctorprobe/);
  });

  it('COREHR_ENABLED adds a CoreHR check: the leave API answers, or its refusal names the scopes', async () => {
    const on = await check({ COREHR_ENABLED: 'true' });
    expect(on['feishu.corehr']).toMatchObject({ status: 'ok' });
    expect(on['feishu.corehr']!.detail).toContain('leave_request_history answered');
    expect(on.config!.detail).toContain('CoreHR sync on, events only');
    feishu.fail('corehr.leave_request_history', { status: 400, code: 1160035, msg: 'No permission to access the employee data' });
    const refused = await check({ COREHR_ENABLED: 'true' });
    expect(refused['feishu.corehr']).toMatchObject({ status: 'failed' });
    expect(refused['feishu.corehr']!.detail).toContain('code 1160035');
    expect(refused['feishu.corehr']!.fix).toContain('corehr:leave:read');
    expect((await check({ COREHR_ENABLED: 'true', FEISHU_APP_ID: undefined, FEISHU_APP_SECRET: undefined }))['feishu.corehr']).toMatchObject({ status: 'skipped' });
    expect((await check())['feishu.corehr']).toBeUndefined();
  });

  it('a wrong app secret fails the credentials check with its fix, and skips what needs them', async () => {
    const r = await check({ FEISHU_APP_SECRET: 'not-the-app-secret' });
    expect(r['feishu.credentials']).toMatchObject({ status: 'failed' });
    expect(r['feishu.credentials']!.detail).toContain('the app secret does not belong to the app id');
    expect(r['feishu.credentials']!.detail).toContain('code 10014');
    expect(r['feishu.credentials']!.fix).toContain('FEISHU_APP_SECRET');
    expect(r['feishu.credentials']!.fix).toContain('https://open.feishu.cn/document/server-docs/authentication-management/access-token/tenant_access_token_internal');
    expect(r['feishu.approval LEAVE-DEF']!.status).toBe('skipped');
    expect(r['feishu.contact-email']!.status).toBe('skipped');
    // the other parts are checked all the same
    expect(r['google.out-of-office']!.status).toBe('ok');
  });

  it('an unknown approval code fails; an unsubscribed one is subscribed and says so; a definition without a leave widget warns', async () => {
    feishu.addApproval('UNSUBSCRIBED-DEF', { name: 'Leave (new)' });
    const r = await check({}, { approvals: ['NO-SUCH-DEF', 'UNSUBSCRIBED-DEF', 'FORMLESS-DEF'] });
    expect(r['feishu.approval NO-SUCH-DEF']).toMatchObject({ status: 'failed' });
    expect(r['feishu.approval NO-SUCH-DEF']!.detail).toContain('no approval definition with this code');
    expect(r['feishu.approval NO-SUCH-DEF']!.fix).toContain('definitionCode=');
    expect(r['feishu.approval UNSUBSCRIBED-DEF']).toMatchObject({ status: 'warning' });
    expect(r['feishu.approval UNSUBSCRIBED-DEF']!.detail).toContain('this check subscribed it');
    expect(r['feishu.approval UNSUBSCRIBED-DEF']!.fix).toContain('leave-bridge backfill --approval UNSUBSCRIBED-DEF');
    expect(feishu.subscriptions.has('UNSUBSCRIBED-DEF')).toBe(true);
    expect(r['feishu.approval FORMLESS-DEF']).toMatchObject({ status: 'warning' });
    expect(r['feishu.approval FORMLESS-DEF']!.detail).toContain('no leave widget group');
    // a second run finds it subscribed
    expect((await check({}, { approvals: ['UNSUBSCRIBED-DEF'] }))['feishu.approval UNSUBSCRIBED-DEF']!.status).toBe('ok');
  });

  it('without the approval scope, the fix names the scope Feishu asked for', async () => {
    feishu.revokeScope('approval:approval');
    feishu.revokeScope('approval:approval:readonly');
    try {
      const r = await check();
      expect(r['feishu.approval LEAVE-DEF']).toMatchObject({ status: 'failed' });
      expect(r['feishu.approval LEAVE-DEF']!.detail).toContain('the app lacks the scope approval:approval, approval:approval:readonly');
      expect(r['feishu.approval LEAVE-DEF']!.fix).toContain('Permissions & Scopes: add approval:approval');
      expect(r['feishu.approval LEAVE-DEF']!.fix).toContain('how-to-fix-the-99991672-error');
    } finally {
      feishu.grantScope('approval:approval');
      feishu.grantScope('approval:approval:readonly');
    }
  });

  it('without the email scope the contact check fails: the user comes back without an address', async () => {
    feishu.revokeScope('contact:user.email:readonly');
    try {
      const r = await check();
      expect(r['feishu.contact-email']).toMatchObject({ status: 'failed' });
      expect(r['feishu.contact-email']!.detail).toContain('without email or enterprise_email');
      expect(r['feishu.contact-email']!.fix).toContain('add contact:user.email:readonly');
      expect(r['feishu.contact-email']!.fix).toContain('leave-bridge employee set u_doc --email <address>');
    } finally {
      feishu.grantScope('contact:user.email:readonly');
    }
  });

  it('a user outside the contact range, and an unknown user, each fail with their cause', async () => {
    feishu.outsideContactRange('u_far');
    const far = await check({}, { employee: 'u_far' });
    expect(far['feishu.contact-email']).toMatchObject({ status: 'failed' });
    expect(far['feishu.contact-email']!.detail).toContain("outside the app's contact range");
    const nobody = await check({}, { employee: 'u_nobody' });
    expect(nobody['feishu.contact-email']!.detail).toContain('Feishu has no user with this user_id');
  });

  it('reads the latest leave\'s employee when no --employee is given', async () => {
    const t = testApp(db);
    expect((await t.post(await encryptedRequest(leaveApprovalV1({ employeeId: PERSON.user_id, start: '2031-01-01 00:00:00', end: '2031-01-02 00:00:00' })))).status).toBe(200);
    const r = await check({}, { employee: undefined });
    expect(r['feishu.contact-email']).toMatchObject({ status: 'ok' });
    expect(r['feishu.contact-email']!.detail).toContain(`user ${PERSON.user_id}`);
  });

  it('a key of another project fails the token check: the token endpoint refuses it', async () => {
    const r = await check({ GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(google.foreignKey()) });
    expect(r['google.key']!.status).toBe('ok');
    expect(r['google.token']).toMatchObject({ status: 'failed' });
    expect(r['google.token']!.detail).toContain('the key is not a current key of the service account');
    expect(r['google.token']!.detail).toContain('invalid_grant');
    expect(r['google.token']!.fix).toContain('Service accounts → the account → Keys');
    expect(r['google.calendar']!.status).toBe('skipped');
  });

  it('missing domain-wide delegation fails the token check (unauthorized_client) with the client ID to grant', async () => {
    google.withholdDelegation();
    const r = await check();
    expect(r['google.token']).toMatchObject({ status: 'failed' });
    expect(r['google.token']!.detail).toContain('domain-wide delegation is not granted');
    expect(r['google.token']!.fix).toContain('Manage domain-wide delegation: add client ID 100000000000000000001 with scope https://www.googleapis.com/auth/calendar.events');
    expect(r['google.token']!.fix).toContain('https://developers.google.com/identity/protocols/oauth2/service-account#error-codes');
  });

  it('a subject outside the domain fails the token check (invalid_grant)', async () => {
    google.denySubject('someone@gmail.com');
    const r = await check({}, { as: 'someone@gmail.com', writeProbe: false });
    expect(r['google.token']!.detail).toContain('Google has no user someone@gmail.com in a Workspace domain');
  });

  it('a calendar Google does not know, or a call as the service account itself, fail the calendar check', async () => {
    google.faults.add({ op: 'list', fault: googleError(404, 'notFound', 'Not Found') });
    expect((await check())['google.calendar']!.detail).toContain(`Google has no calendar ${PERSON.email}`);
    google.faults.add({ op: 'list', fault: googleError(403, 'forbiddenForServiceAccounts', 'Service accounts cannot invite attendees without Domain-Wide Delegation of Authority.') });
    const r = await check();
    expect(r['google.calendar']!.detail).toContain('rather than as the user');
    expect(r['google.calendar']!.fix).toContain('Manage domain-wide delegation');
    expect(r['google.out-of-office']!.status).toBe('skipped');
  });

  it('a consumer account refuses the out-of-office probe (--write-probe)', async () => {
    const consumer = 'consumer@doctor.example.com';
    google.refuseOutOfOffice(consumer);
    const r = await check({}, { as: consumer });
    expect(r['google.calendar']!.status).toBe('ok');
    expect(r['google.out-of-office']).toMatchObject({ status: 'failed' });
    expect(r['google.out-of-office']!.detail).toContain('eventTypeRestriction');
    expect(r['google.out-of-office']!.fix).toContain('opaque default event');
    expect(google.events(consumer)).toEqual([]);
    // without --write-probe nothing is written
    expect((await check({}, { as: consumer, writeProbe: false }))['google.out-of-office']!.status).toBe('skipped');
  });

  it('what is not configured is skipped with how to configure it; webhook mode without a token fails', async () => {
    const r = byName(await runChecks({ DATABASE_URL: db.url! }, { as: undefined, approvals: [], employee: undefined, writeProbe: false, json: false }));
    expect(r['feishu.event-secrets']).toMatchObject({ status: 'failed' });
    expect(r['feishu.event-secrets']!.fix).toContain('FEISHU_VERIFICATION_TOKEN');
    expect(r['feishu.credentials']).toMatchObject({ status: 'skipped' });
    expect(r['feishu.credentials']!.fix).toContain('FEISHU_APP_ID and FEISHU_APP_SECRET');
    expect(r['google.key']).toMatchObject({ status: 'skipped' });
    expect(r['google.key']!.fix).toContain('GOOGLE_SERVICE_ACCOUNT_JSON');
    const noKey = await check({ FEISHU_ENCRYPT_KEY: undefined });
    expect(noKey['feishu.event-secrets']).toMatchObject({ status: 'warning' });
    expect(noKey['feishu.event-secrets']!.detail).toContain('anyone who sees one body can forge events');
  });

  it('a service-account key that is not one fails the key check', async () => {
    const r = await check({ GOOGLE_SERVICE_ACCOUNT_JSON: '{"client_email": "x@y.z"}' });
    expect(r['google.key']).toMatchObject({ status: 'failed' });
    expect(r['google.key']!.detail).toContain('GOOGLE_SERVICE_ACCOUNT_JSON: private_key');
    expect(r['google.token']!.status).toBe('skipped');
  });

  it('a configuration that does not parse is a failed check, not a crash', async () => {
    const results = await runChecks({ ...env, PORT: 'eighty' }, ARGS);
    expect(results[0]).toMatchObject({ check: 'config', status: 'failed' });
    expect(results[0]!.detail).toContain('PORT');
    expect(results.slice(1).every((r) => r.status === 'skipped')).toBe(true);
  });

  it('Postgres that cannot be reached fails the database check, without its password', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const code = await doctorCommand({ ...env, DATABASE_URL: `postgres://leave:pw-doctor-secret@127.0.0.1:${port}/leave` }, [], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    const out = lines.join('\n');
    expect(code).toBe(1);
    expect(out).toMatch(new RegExp(`failed\\s+database\\s+Postgres postgres://leave@127\\.0\\.0\\.1:${port}/leave cannot be used: .*ECONNREFUSED`));
    expect(out).toContain('fix: is Postgres running');
    expect(out).not.toContain('pw-doctor-secret');
  });

  it('a database that does not exist, and one without the migrations, each fail with their fix', async () => {
    const server = new URL(ADMIN_URL);
    server.pathname = `/lb_doctor_missing_${process.pid}`;
    const missing = await check({ DATABASE_URL: server.toString() });
    expect(missing.database).toMatchObject({ status: 'failed' });
    expect(missing.database!.fix).toContain('does not exist: create it');

    const name = `lb_doctor_bare_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    try {
      server.pathname = `/${name}`;
      const bare = await check({ DATABASE_URL: server.toString() });
      expect(bare.database).toMatchObject({ status: 'failed', fix: 'run leave-bridge migrate (serve also applies them at start)' });
      expect(bare.database!.detail).toContain(`0 of ${expectedMigrations} migrations applied`);
    } finally {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  });

  it('embedded PGlite: not created yet, created, and held by a running process', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-doctor-'));
    dirs.push(dir);
    const pglite = { DATABASE_URL: undefined, PORT: String(await freePort()) };
    const absent = await check({ ...pglite, DATA_DIR: path.join(dir, 'absent') });
    expect(absent.database).toMatchObject({ status: 'ok' });
    expect(absent.database!.detail).toContain('not created yet');
    const made = await check({ ...pglite, DATA_DIR: dir });
    expect(made.database!.detail).toContain(`${expectedMigrations} of ${expectedMigrations} migrations applied`);
    const holder = await openPglite(dir);
    try {
      const held = await check({ ...pglite, DATA_DIR: dir });
      expect(held.database).toMatchObject({ status: 'warning' });
      expect(held.database!.detail).toContain('held by another leave-bridge process');
    } finally {
      await holder.close();
    }
  });

  it('as a command: --json gives {check, status, detail, fix} per check; exit 0, 1 on a failure, 2 on bad arguments', async () => {
    const good = runCli(['doctor', '--json', '--as', PERSON.email, '--approval', 'LEAVE-DEF', '--employee', PERSON.user_id], env);
    expect((await good.exited).code, good.output()).toBe(0);
    const parsed = JSON.parse(good.output()) as CheckResult[];
    expect(parsed.length).toBe(10);
    for (const r of parsed) {
      expect(Object.keys(r)).toEqual(['check', 'status', 'detail', 'fix']);
      expect(['ok', 'skipped']).toContain(r.status);
    }

    const bad = runCli(['doctor', '--as', PERSON.email], { ...env, FEISHU_APP_SECRET: 'not-the-app-secret' });
    expect((await bad.exited).code).toBe(1);
    expect(bad.output()).toMatch(/failed\s+feishu\.credentials\s+Feishu refused app cli_fake_app/);
    expect(bad.output()).toContain('fix: copy the App ID');

    const unparsable = runCli(['doctor'], { ...env, PORT: 'eighty' });
    expect((await unparsable.exited).code).toBe(1);
    expect(unparsable.output()).toMatch(/failed\s+config\s+PORT/);

    for (const args of [['--bogus'], ['--write-probe'], ['--as', 'not-an-address']]) {
      const usage = runCli(['doctor', ...args], env);
      expect((await usage.exited).code, args.join(' ')).toBe(2);
      expect(usage.output()).toContain('usage: leave-bridge doctor');
    }
  });
});
