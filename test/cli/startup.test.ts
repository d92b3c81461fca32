import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { freePort, ROOT, runBuilt, runCli, waitForReady } from '../support/process.js';
import { DOC_TOKEN, leaveApprovalV1 } from '../support/feishu.js';
import { createPostgresDatabase } from '../support/db.js';

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8787);
    expect(c.DATA_DIR).toBe('./.data');
    expect(c.FEISHU_BASE_URL).toBe('https://open.feishu.cn');
    expect(c.FEISHU_EVENT_MODE).toBe('webhook');
    expect(c.GOOGLE_CALENDAR_BASE_URL).toBe('https://www.googleapis.com/');
    expect(c.DEFAULT_TIMEZONE).toBe('Asia/Shanghai');
    expect(c.DATABASE_URL).toBeUndefined();
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DEFAULT_TIMEZONE: 'Asia/Shangai' }, 'DEFAULT_TIMEZONE'],
    [{ FEISHU_EVENT_MODE: 'poll' }, 'FEISHU_EVENT_MODE'],
    [{ FEISHU_BASE_URL: 'not a url' }, 'FEISHU_BASE_URL'],
    [{ FEISHU_APP_ID: 'cli_x' }, 'FEISHU_APP_SECRET'],
    [{ FEISHU_EVENT_MODE: 'ws' }, 'FEISHU_APP_ID'],
    [{ BACKFILL_INTERVAL: 'often' }, 'BACKFILL_INTERVAL'],
    [{ OUTBOX_CONCURRENCY: '-1' }, 'OUTBOX_CONCURRENCY'],
  ];
  for (const [env, variable] of bad) {
    it(`names ${variable} when ${JSON.stringify(env)}`, () => {
      try {
        loadConfig(env);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toContain(variable);
      }
    });
  }

  it('never echoes a secret value in its message', () => {
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:s3cr3t-pass@host/db' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t-pass');
    }
  });

  it('stops the process with exit 78 and the variable named', async () => {
    const child = runCli(['serve'], { DEFAULT_TIMEZONE: 'Mars/Olympus', FEISHU_VERIFICATION_TOKEN: 't' });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.output()).toMatch(/DEFAULT_TIMEZONE/);
  });

  it('refuses ws mode with an app id the long connection would silently ignore (exit 78, not 1)', async () => {
    const child = runCli(['serve'], { FEISHU_EVENT_MODE: 'ws', FEISHU_APP_ID: 'cli_xxx', FEISHU_APP_SECRET: 's', DATA_DIR: path.join(os.tmpdir(), 'lb-never') });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.output()).toMatch(/FEISHU_APP_ID: the long connection needs an app id like cli_/);
  });

  it('refuses webhook mode without a verification token', async () => {
    const child = runCli(['serve'], { DATA_DIR: path.join(os.tmpdir(), 'lb-never') });
    const { code } = await child.exited;
    expect(code).toBe(78);
    expect(child.output()).toMatch(/FEISHU_VERIFICATION_TOKEN/);
  });
});

describe('embedded PGlite in DATA_DIR', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('serves on PGlite and refuses a second process on the same directory', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-pglite-'));
    dirs.push(dir);
    const port = await freePort();
    const first = runCli(['serve'], { DATA_DIR: dir, PORT: String(port), FEISHU_VERIFICATION_TOKEN: 'tok' });
    try {
      await waitForReady(port);
      const second = runCli(['migrate'], { DATA_DIR: dir });
      const { code } = await second.exited;
      expect(code).not.toBe(0);
      expect(second.output()).toMatch(/in use by another leave-bridge process/);
    } finally {
      first.proc.kill('SIGTERM');
    }
    expect((await first.exited).code).toBe(0);
    // released on a clean stop: the next process opens it
    const third = runCli(['migrate'], { DATA_DIR: dir });
    expect((await third.exited).code).toBe(0);
    expect(third.output()).toMatch(/migrations applied \(pglite/);
  });

  it('the build (what npm start runs) serves: migrations, the webhook and the dashboard from dist/', async () => {
    const BUILT_ADMIN = 'built-admin-token-0123456789abcdef';
    const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-built-'));
    dirs.push(dir);
    const port = await freePort();
    const served = runBuilt(['serve'], { DATA_DIR: dir, PORT: String(port), FEISHU_VERIFICATION_TOKEN: DOC_TOKEN, ADMIN_TOKEN: BUILT_ADMIN });
    try {
      await waitForReady(port);
      const hook = await fetch(`http://127.0.0.1:${port}/webhook/feishu`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: leaveApprovalV1({ instanceCode: 'BUILT-1' }),
      });
      expect(hook.status).toBe(200);
      const leaves = await fetch(`http://127.0.0.1:${port}/api/leaves/BUILT-1`, { headers: { authorization: `Bearer ${BUILT_ADMIN}` } });
      expect(await leaves.text()).toContain('BUILT-1');
      const dash = await fetch(`http://127.0.0.1:${port}/dashboard`, { headers: { authorization: `Bearer ${BUILT_ADMIN}` } });
      expect(dash.status).toBe(200);
      expect(await dash.text()).toMatch(/<html/i);
    } finally {
      served.proc.kill('SIGTERM');
    }
    expect((await served.exited).code, served.output()).toBe(0);
    expect(served.output()).not.toMatch(/tsx/);
  });

  it('migrate on Postgres is idempotent and safe to run concurrently', async () => {
    const db = await createPostgresDatabase('lb_migrate');
    try {
      const runs = [runCli(['migrate'], { DATABASE_URL: db.url! }), runCli(['migrate'], { DATABASE_URL: db.url! })];
      for (const r of runs) expect((await r.exited).code).toBe(0);
    } finally {
      await db.close();
    }
  });
});
