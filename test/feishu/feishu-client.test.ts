import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeishuClient, LIST_WINDOW_MS } from '../../src/feishu/client.js';
import { createLogger } from '../../src/logger.js';
import { leaveGroupV2Form, startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { rejection } from '../support/errors.js';

const FAST = { retries: 3, minTimeout: 1, maxTimeout: 5 };

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

describe('Feishu client against the fake Open API (real SDK)', () => {
  let fake: FakeFeishu;
  const client = (extra: { appSecret?: string; baseUrl?: string; pageSize?: number } = {}) => {
    const { logger } = capture();
    return createFeishuClient({
      appId: fake.appId,
      appSecret: extra.appSecret ?? fake.appSecret,
      baseUrl: extra.baseUrl ?? fake.url,
      logger,
      retry: FAST,
      ...(extra.pageSize ? { pageSize: extra.pageSize } : {}),
    });
  };

  beforeAll(async () => {
    fake = await startFakeFeishu({ pageSize: 2 });
    fake.addUser({ user_id: 'u_alice', open_id: 'ou_alice', name: 'Alice', email: 'alice@example.com', enterprise_email: 'alice@corp.example.com' });
    fake.addUser({ user_id: 'u_bob', open_id: 'ou_bob', name: 'Bob', enterprise_email: 'bob@corp.example.com' });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('reads users: email and enterprise_email as given, unknown user → null, one token for all calls', async () => {
    const c = client();
    const before = fake.tokensIssued;
    expect(await c.getUser('u_alice')).toEqual({
      userId: 'u_alice',
      openId: 'ou_alice',
      name: 'Alice',
      email: 'alice@example.com',
      enterpriseEmail: 'alice@corp.example.com',
      // her direct departments, as open_department_ids (department feeds)
      departmentIds: [],
    });
    // no personal email: the enterprise one is there for the caller to fall back on
    expect(await c.getUser('u_bob')).toMatchObject({ email: null, enterpriseEmail: 'bob@corp.example.com' });
    expect(await c.getUser('u_nobody')).toBeNull();
    expect(fake.tokensIssued - before).toBe(1);
    const userCalls = fake.requests.filter((r) => r.route === 'user.get');
    expect(userCalls.every((r) => r.query.user_id_type === 'user_id' && r.query.department_id_type === 'open_department_id')).toBe(true);
  });

  it('subscribes: first time subscribed, then 1390007 = already subscribed', async () => {
    const c = client();
    fake.addApproval('APPROVAL-SUB');
    expect(await c.subscribeApproval('APPROVAL-SUB')).toBe('subscribed');
    expect(await c.subscribeApproval('APPROVAL-SUB')).toBe('already_subscribed');
    expect(fake.subscriptions.has('APPROVAL-SUB')).toBe(true);
  });

  it('treats code != 0 in an HTTP 200 as a permanent failure, not retried', async () => {
    const c = client();
    fake.addApproval('APPROVAL-ERR');
    fake.fail('approval.subscribe', { status: 200, code: 1390001, msg: 'param is invalid' });
    const before = fake.calls('approval.subscribe');
    const err = await rejection(c.subscribeApproval('APPROVAL-ERR'));
    expect(err.failure).toBe('permanent');
    expect(err.reason).toBe('1390001');
    expect(err.message).toContain('approval.v4.approval.subscribe');
    expect(err.message).toContain('param is invalid');
    expect(fake.calls('approval.subscribe') - before).toBe(1);
    // an unknown approval code (HTTP 400 with code 1390002) is permanent too
    const unknown = await rejection(c.subscribeApproval('NO-SUCH-APPROVAL'));
    expect(unknown).toMatchObject({ failure: 'permanent', reason: '1390002', status: 400 });
  });

  it('lists instance codes over all pages and splits ranges wider than 10 h', async () => {
    const base = Date.UTC(2024, 8, 1, 0, 0, 0);
    const codes: string[] = [];
    // 7 instances over 30 hours: the fake refuses ranges over 10 h, pages hold 2 codes
    for (let i = 0; i < 7; i++) {
      const code = `LIST-${i}`;
      codes.push(code);
      fake.addInstance({
        instance_code: code,
        approval_code: 'APPROVAL-LIST',
        status: 'APPROVED',
        user_id: 'u_alice',
        createdMs: base + i * 4.5 * 3_600_000,
        form: '[]',
      });
    }
    fake.addInstance({ instance_code: 'OTHER-1', approval_code: 'APPROVAL-OTHER', status: 'APPROVED', user_id: 'u_alice', createdMs: base, form: '[]' });
    const before = fake.calls('instance.list');
    const listed = await client().listInstanceCodes('APPROVAL-LIST', base, base + 30 * 3_600_000);
    expect(listed).toEqual(codes);
    const calls = fake.requests.filter((r) => r.route === 'instance.list').slice(before);
    expect(calls.length).toBeGreaterThan(3);
    for (const r of calls) expect(Number(r.query.end_time) - Number(r.query.start_time)).toBeLessThan(LIST_WINDOW_MS);
    expect(calls.some((r) => r.query.page_token)).toBe(true);
  });

  it('retries rate limits (HTTP 429, code 99991400 in a 200) and 5xx, then succeeds', async () => {
    fake.addInstance({
      instance_code: 'GET-1',
      approval_code: 'APPROVAL-GET',
      status: 'APPROVED',
      reverted: false,
      user_id: 'u_alice',
      open_id: 'ou_alice',
      createdMs: Date.UTC(2024, 8, 2),
      form: leaveGroupV2Form({ start: '2024-09-05T00:00:00+08:00', end: '2024-09-06T00:00:00+08:00', interval: 1 }),
    });
    fake.fail('instance.get', { status: 429 });
    fake.fail('instance.get', { status: 200, code: 99991400 });
    fake.fail('instance.get', { status: 503 });
    const before = fake.calls('instance.get');
    const inst = await client().getInstance('GET-1');
    expect(fake.calls('instance.get') - before).toBe(4);
    expect(inst).toMatchObject({
      instanceCode: 'GET-1',
      approvalCode: 'APPROVAL-GET',
      status: 'APPROVED',
      reverted: false,
      userId: 'u_alice',
      openId: 'ou_alice',
      startTimeMs: Date.UTC(2024, 8, 2),
    });
    expect(JSON.parse(inst!.form)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'leaveGroupV2' })]));
    expect(await client().getInstance('NO-SUCH-INSTANCE')).toBeNull();
  });

  it('gives up on a rate limit that does not end: a transient error after the retries', async () => {
    fake.fail('instance.get', { status: 200, code: 99991400 }, Number.POSITIVE_INFINITY);
    const before = fake.calls('instance.get');
    try {
      const err = await rejection(client().getInstance('GET-1'));
      expect(err).toMatchObject({ failure: 'transient', reason: '99991400' });
      expect(err.message).toContain('request trigger frequency limit');
      expect(fake.calls('instance.get') - before).toBe(FAST.retries + 1);
    } finally {
      fake.clearFailures('instance.get');
    }
  });

  it('bad credentials are a configuration error, never retried, and the secret stays out of messages and logs', async () => {
    const wrong = 'definitely-the-wrong-secret-xyz';
    for (const tokenFailureStatus of [200, 400]) {
      const own = await startFakeFeishu({ tokenFailureStatus });
      try {
        const { lines, logger } = capture();
        const c = createFeishuClient({ appId: own.appId, appSecret: wrong, baseUrl: own.url, logger, retry: FAST });
        const err = await rejection(c.subscribeApproval('ANY'));
        expect(err.failure).toBe('configuration');
        expect(err.message).toContain('10014');
        expect(err.message).not.toContain(wrong);
        expect(own.calls('token')).toBe(1);
        expect(own.calls('approval.subscribe')).toBe(0);
        expect(lines.join('\n')).not.toContain(wrong);
      } finally {
        await own.close();
      }
    }
  });

  it('drops a token the server revoked and fetches a new one once', async () => {
    const c = client();
    expect(await c.getUser('u_alice')).not.toBeNull();
    const issued = fake.tokensIssued;
    fake.revokeTokens();
    expect(await c.getUser('u_alice')).toMatchObject({ email: 'alice@example.com' });
    expect(fake.tokensIssued - issued).toBe(1);
  });

  it('an unreachable server is transient', async () => {
    const gone = await startFakeFeishu();
    const url = gone.url;
    await gone.close();
    const err = await rejection(client({ baseUrl: url }).getUser('u_alice'));
    expect(err.failure).toBe('transient');
  });

  it('`leave-bridge subscribe` runs as a child process: one line per code, exit 1 when one failed', async () => {
    fake.addApproval('APPROVAL-CLI-A');
    fake.addApproval('APPROVAL-CLI-B');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, FEISHU_APP_ID: fake.appId, FEISHU_APP_SECRET: fake.appSecret, FEISHU_BASE_URL: fake.url, LOG_LEVEL: 'silent' };
    const cli = (...codes: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/node.ts', 'subscribe', ...codes], { cwd: process.cwd(), env }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    const [ok, mixed] = await Promise.all([cli('APPROVAL-CLI-A'), cli('APPROVAL-CLI-B', 'APPROVAL-CLI-B-MISSING')]);
    expect(ok).toEqual({ code: 0, stdout: 'APPROVAL-CLI-A: subscribed\n' });
    expect(mixed.code).toBe(1);
    expect(mixed.stdout.split('\n')).toEqual([
      'APPROVAL-CLI-B: subscribed',
      expect.stringMatching(/^APPROVAL-CLI-B-MISSING: failed: .*1390002.*approval code not found/),
      '',
    ]);
    expect(await cli('APPROVAL-CLI-A')).toEqual({ code: 0, stdout: 'APPROVAL-CLI-A: already subscribed\n' });
  });
});
