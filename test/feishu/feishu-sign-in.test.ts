import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeishuClient } from '../../src/feishu/client.js';
import { pathSegment } from '../../src/feishu/path-segment.js';
import { accountsUrlFor, authorizeUrl } from '../../src/feishu/oauth-urls.js';
import { silentLogger } from '../../src/logger.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { rejection } from '../support/errors.js';

/*
 * The Feishu side of dashboard sign-in through the real SDK against the fake (code for a user
 * token, whose user, their departments), and ids in Open API paths.
 */

describe('ids in Open API paths', () => {
  let fake: FakeFeishu;
  beforeAll(async () => {
    fake = await startFakeFeishu();
    fake.addUser({ user_id: 'u/../x', name: 'Slash' });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('are encoded, so an id cannot reach another endpoint with the app token', async () => {
    const c = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger, retry: { retries: 0 } });
    await c.getInstance('../../contact/v3/users/u_alice');
    await c.getUser('u/../x');
    const paths = fake.requests.filter((r) => r.route !== 'token').map((r) => [r.route, r.path]);
    expect(paths).toEqual([
      ['instance.get', '/open-apis/approval/v4/instances/..%2F..%2Fcontact%2Fv3%2Fusers%2Fu_alice'],
      ['user.get', '/open-apis/contact/v3/users/u%2F..%2Fx'],
    ]);
    // a dot segment is resolved by URL parsers even when encoded: refused before any request
    for (const id of ['..', '.', '', 'a\u0000b', 'x'.repeat(201)]) {
      expect(() => pathSegment('instance code', id)).toThrow(/is not a valid id/);
    }
    const calls = () => fake.requests.filter((r) => r.route !== 'token').length;
    const before = calls();
    expect((await rejection(c.getInstance('..'))).failure).toBe('permanent');
    expect((await rejection(c.subscribeApproval('.'))).failure).toBe('permanent');
    expect(calls()).toBe(before);
  });
});

describe('Feishu sign-in through the SDK', () => {
  let fake: FakeFeishu;
  beforeAll(async () => {
    fake = await startFakeFeishu();
    fake.addDepartment({ open_department_id: 'od-root', department_id: 'root' });
    fake.addDepartment({ open_department_id: 'od-mid', department_id: 'mid', parent: 'od-root' });
    fake.addDepartment({ open_department_id: 'od-leaf', department_id: 'leaf', parent: 'od-mid' });
    fake.addUser({ user_id: 'u_lee', open_id: 'ou_lee', name: 'Lee', departments: ['od-leaf'] });
  });
  afterAll(async () => {
    await fake?.close();
  });

  const client = () => createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, baseUrl: fake.url, logger: silentLogger, retry: { retries: 0 } });

  /** What the browser does at Feishu's authorize page, for a known verifier. */
  async function codeFor(userId: string, verifier: string, redirectUri = 'https://leave.example.com/dashboard/oauth/callback') {
    fake.signInAs(userId);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const url = authorizeUrl({ baseUrl: fake.url, appId: fake.appId, redirectUri, state: 's'.repeat(43), codeChallenge: Buffer.from(digest).toString('base64url') });
    const res = await fetch(url, { redirect: 'manual' });
    return new URL(res.headers.get('location')!).searchParams.get('code')!;
  }

  it('exchanges a code (with its PKCE verifier) for the user, once', async () => {
    const c = client();
    const verifier = 'v'.repeat(64);
    const code = await codeFor('u_lee', verifier);
    const redirectUri = 'https://leave.example.com/dashboard/oauth/callback';
    expect(await c.identify({ code, redirectUri, codeVerifier: verifier })).toEqual({ openId: 'ou_lee', userId: 'u_lee', name: 'Lee' });
    // single use
    const again = await rejection(c.identify({ code, redirectUri, codeVerifier: verifier }));
    expect(again.failure).toBe('permanent');
    expect(again.message).toMatch(/HTTP 400/);
    // another verifier than the challenge's: refused
    expect((await rejection(c.identify({ code: await codeFor('u_lee', verifier), redirectUri, codeVerifier: 'w'.repeat(64) }))).failure).toBe('permanent');
    // the client secret travels in the token request only, never in an error
    expect(again.message).not.toContain(fake.appSecret);
  });

  it("lists the user's departments and every department above them, by both kinds of id", async () => {
    expect([...(await client().departmentsOf('ou_lee'))].sort()).toEqual(['leaf', 'mid', 'od-leaf', 'od-mid', 'od-root', 'root']);
  });

  it('finds the accounts host for the official domains, and uses any other base as it is', () => {
    expect(accountsUrlFor('https://open.feishu.cn')).toBe('https://accounts.feishu.cn');
    expect(accountsUrlFor('https://open.larksuite.com/')).toBe('https://accounts.larksuite.com');
    expect(accountsUrlFor('http://127.0.0.1:9999/')).toBe('http://127.0.0.1:9999');
    expect(authorizeUrl({ baseUrl: 'https://open.feishu.cn', appId: 'cli_a', redirectUri: 'https://x.example/cb', state: 'st', codeChallenge: 'ch' })).toBe(
      'https://accounts.feishu.cn/open-apis/authen/v1/authorize?client_id=cli_a&redirect_uri=https%3A%2F%2Fx.example%2Fcb&state=st&code_challenge=ch&code_challenge_method=S256',
    );
  });
});
