/**
 * The Worker's configuration: what Hyperdrive supplies, and what cannot work on Workers failing
 * loudly (a named variable) instead of falling back to something Node-only.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../src/config.js';
import worker from '../src/worker.js';
import { workerConfig } from '../src/worker-config.js';

const BASE = { FEISHU_VERIFICATION_TOKEN: 'token-0123456789', HYPERDRIVE: { connectionString: 'postgres://u:p@abc.hyperdrive.local:5432/db' } };

function issuesOf(env: Record<string, unknown>): string[] {
  try {
    workerConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('workerConfig', () => {
  it('takes DATABASE_URL from the Hyperdrive binding, over a DATABASE_URL var', () => {
    const config = workerConfig({ ...BASE, DATABASE_URL: 'postgres://direct@db.example.com/x' });
    expect(config.DATABASE_URL).toBe(BASE.HYPERDRIVE.connectionString);
  });

  it('uses a DATABASE_URL secret when no Hyperdrive is bound', () => {
    const config = workerConfig({ FEISHU_VERIFICATION_TOKEN: 'token-0123456789', DATABASE_URL: 'postgres://direct@db.example.com/x' });
    expect(config.DATABASE_URL).toBe('postgres://direct@db.example.com/x');
  });

  it('reads [vars] and secrets, ignoring bindings that are not strings', () => {
    const config = workerConfig({ ...BASE, DEFAULT_TIMEZONE: 'Europe/Berlin', SOME_KV: { get() {} }, OUTBOX_BATCH_SIZE: '4' });
    expect(config.DEFAULT_TIMEZONE).toBe('Europe/Berlin');
    expect(config.OUTBOX_BATCH_SIZE).toBe(4);
  });

  it('refuses to run without a database instead of falling back to PGlite', () => {
    expect(issuesOf({ FEISHU_VERIFICATION_TOKEN: 'token-0123456789' })).toEqual([expect.stringMatching(/^DATABASE_URL: .*Hyperdrive.*PGlite/)]);
  });

  it('names every setting that only works on Node', () => {
    const issues = issuesOf({ ...BASE, FEISHU_EVENT_MODE: 'ws', FEISHU_APP_ID: 'cli_0123456789abcdef', FEISHU_APP_SECRET: 'secret-0123456789', GOOGLE_SERVICE_ACCOUNT_FILE: '/etc/key.json', BACKFILL_INTERVAL: '1h' });
    expect(issues.map((i) => i.split(':')[0])).toEqual(['FEISHU_EVENT_MODE', 'GOOGLE_SERVICE_ACCOUNT_FILE', 'BACKFILL_INTERVAL']);
  });

  it('requires the verification token, as `serve` does in webhook mode', () => {
    expect(issuesOf({ HYPERDRIVE: BASE.HYPERDRIVE })).toEqual([expect.stringMatching(/^FEISHU_VERIFICATION_TOKEN: required/)]);
  });
});

describe('the Worker with a bad configuration', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers 503 (Feishu re-pushes) with a body that names nothing, and logs what is wrong', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void logged.push(String(line)));
    const waits: Promise<unknown>[] = [];
    const env = { FEISHU_VERIFICATION_TOKEN: 'do-not-leak-0123456789', FEISHU_EVENT_MODE: 'ws' };
    const res = await worker.fetch(new Request('http://worker/webhook/feishu', { method: 'POST', body: '{}' }), env, {
      waitUntil: (p: Promise<unknown>) => void waits.push(p),
      passThroughOnException: () => {},
      props: {},
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'misconfigured', message: 'service misconfigured; see the worker logs' } });
    expect(waits).toHaveLength(0); // no database client was opened
    expect(logged.join('\n')).toMatch(/FEISHU_EVENT_MODE/);
    expect(logged.join('\n')).toMatch(/DATABASE_URL/);
    expect(logged.join('\n')).not.toContain('do-not-leak');
  });

  it('fails the cron run', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(
      worker.scheduled({ cron: '* * * * *', scheduledTime: Date.now() }, { FEISHU_VERIFICATION_TOKEN: 'token-0123456789' }, { waitUntil: () => {}, passThroughOnException: () => {}, props: {} }),
    ).rejects.toThrow(ConfigError);
  });
});
