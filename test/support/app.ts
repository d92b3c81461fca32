import { createApp, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Db } from '../../src/db/client.js';
import { systemClock, type Clock } from '../../src/deps.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { DOC_TOKEN, TEST_ENCRYPT_KEY } from './feishu.js';

/** ADMIN_TOKEN must be at least 32 characters. */
export const ADMIN = 'test-admin-token-0123456789abcdefghij';

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
    FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY,
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'silent',
    ...overrides,
  });
}

/** deps + app over a given database; anything else may be overridden. */
export function testApp(db: { db: Db; kind: 'postgres' | 'pglite' }, extra: Partial<AppDeps> & { env?: Record<string, string | undefined>; clock?: Clock; logger?: Logger } = {}) {
  const { env, ...rest } = extra;
  const deps: AppDeps = {
    config: testConfig(env),
    db: db.db,
    dbKind: db.kind,
    clock: systemClock,
    logger: silentLogger,
    metrics: new Metrics(),
    ...rest,
  };
  const app = createApp(deps);
  const admin = (path: string, init: RequestInit = {}) =>
    app.request(path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers ?? {}) } });
  const post = (req: { body: string; headers: Record<string, string> }) =>
    app.request('/webhook/feishu', { method: 'POST', body: req.body, headers: req.headers });
  return { app, deps, admin, post };
}
