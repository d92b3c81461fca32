import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, requireWebhookSecrets, webhookWarnings } from '../src/config.js';
import { freePort, ROOT, runCli, waitForReady } from './support/process.js';

/*
 * The settings the admin surface and the webhook's strength depend on: refused at start when they
 * would leave the service open, warned about when they leave it weaker, and the README's first
 * command still one command that works.
 */

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const issueOf = (env: Record<string, string>): string => {
  try {
    requireWebhookSecrets(loadConfig(env));
    return '';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
};

describe('security settings', () => {
  it('refuses what would leave the admin surface or the webhook open, naming the variable', () => {
    expect(issueOf({ ADMIN_TOKEN: 'x'.repeat(31) })).toMatch(/ADMIN_TOKEN: must be at least 32 characters/);
    expect(issueOf({ ADMIN_TOKEN: 'x'.repeat(32) })).toMatch(/FEISHU_VERIFICATION_TOKEN/);
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', FEISHU_REQUIRE_ENCRYPT_KEY: 'true' })).toMatch(/FEISHU_ENCRYPT_KEY: required because FEISHU_REQUIRE_ENCRYPT_KEY=true/);
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', FEISHU_REQUIRE_ENCRYPT_KEY: 'true', FEISHU_ENCRYPT_KEY: 'k' })).toBe('');
    // the long connection has no webhook to forge events through
    expect(issueOf({ FEISHU_REQUIRE_ENCRYPT_KEY: 'true', FEISHU_EVENT_MODE: 'ws', FEISHU_APP_ID: 'cli_0123456789abcdef', FEISHU_APP_SECRET: 's' })).toBe('');
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', FEISHU_REQUIRE_ENCRYPT_KEY: 'perhaps' })).toMatch(/FEISHU_REQUIRE_ENCRYPT_KEY: expected true or false/);
    // Feishu sign-in needs the app and the public URL of the redirect
    const signIn = issueOf({ FEISHU_VERIFICATION_TOKEN: 't', ADMIN_FEISHU_USERS: 'u_alice' });
    expect(signIn).toMatch(/FEISHU_APP_ID: required with ADMIN_FEISHU_USERS/);
    expect(signIn).toMatch(/PUBLIC_URL: required with ADMIN_FEISHU_USERS/);
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', PUBLIC_URL: 'http://leave.example.com' })).toMatch(/PUBLIC_URL: must be https/);
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', PUBLIC_URL: 'https://leave.example.com/app' })).toMatch(/PUBLIC_URL: must be an origin/);
    expect(loadConfig({ PUBLIC_URL: 'https://leave.example.com/' }).PUBLIC_URL).toBe('https://leave.example.com');
    expect(issueOf({ FEISHU_VERIFICATION_TOKEN: 't', EVENT_PAYLOAD_RETENTION: 'off' })).toMatch(/EVENT_PAYLOAD_RETENTION: must be a positive duration/);
    expect(loadConfig({ EVENT_PAYLOAD_RETENTION: '7d' }).EVENT_PAYLOAD_RETENTION).toBe(7 * 86_400_000);
    const lists = loadConfig({ ADMIN_FEISHU_DEPARTMENTS: 'od-a, od-b  hr', FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 's', PUBLIC_URL: 'https://leave.example.com' });
    expect(lists.ADMIN_FEISHU_DEPARTMENTS).toEqual(['od-a', 'od-b', 'hr']);
  });

  it('warns, without refusing, when events are unsigned', () => {
    expect(webhookWarnings(loadConfig({ FEISHU_VERIFICATION_TOKEN: 't' }))[0]).toMatch(/FEISHU_ENCRYPT_KEY is not set: .*forge/);
    expect(webhookWarnings(loadConfig({ FEISHU_VERIFICATION_TOKEN: 't', FEISHU_ENCRYPT_KEY: 'k' }))).toEqual([]);
  });

  it('a short ADMIN_TOKEN stops `serve` with exit 78 naming it (and never its value)', async () => {
    const child = runCli(['serve'], { FEISHU_VERIFICATION_TOKEN: 't', ADMIN_TOKEN: 'dev-admin-secret', DATA_DIR: '/nonexistent/never-opened' });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.output()).toMatch(/ADMIN_TOKEN: must be at least 32 characters/);
    expect(child.output()).not.toContain('dev-admin-secret');
  });

  it("the README's first command works: it starts, says it is unsigned, binds HOST, and its token opens the dashboard", async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const first = /```sh\n(npm install && (.+?) npm start)\s/.exec(readme);
    expect(first, 'the first line of the first sh block').not.toBeNull();
    const env = Object.fromEntries([...first![2]!.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(env).sort()).toEqual(['ADMIN_TOKEN', 'FEISHU_VERIFICATION_TOKEN']);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-readme-'));
    dirs.push(dir);
    const port = await freePort();
    const served = runCli(['serve'], { ...env, DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1' });
    try {
      await waitForReady(port);
      const listening = served.output().split('\n').find((l) => l.includes('leave-bridge listening'))!;
      expect(JSON.parse(listening)).toMatchObject({ port, host: '127.0.0.1' });
      expect(served.output()).toMatch(/"level":"warn","msg":"FEISHU_ENCRYPT_KEY is not set/);
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string; warnings: string[] };
      expect(ready.status).toBe('ready');
      expect(ready.warnings[0]).toMatch(/FEISHU_ENCRYPT_KEY is not set/);
      // the tour's steps: sign in to the dashboard with the token, and the API with it as bearer
      const base = `http://127.0.0.1:${port}`;
      const login = await fetch(`${base}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: env.ADMIN_TOKEN! }), headers: { origin: base }, redirect: 'manual' });
      expect(login.status).toBe(303);
      const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
      expect(cookie).toMatch(/^lb_session=/);
      expect((await fetch(`${base}/dashboard`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${base}/api/reconciliation?from=2024-09-01&to=2024-09-30`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).status).toBe(200);
    } finally {
      served.proc.kill('SIGTERM');
    }
    expect((await served.exited).code, served.output()).toBe(0);
  }, 90_000);
});
