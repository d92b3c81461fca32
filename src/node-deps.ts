import { secretValues, type Config } from './config.js';
import type { Database } from './db/client.js';
import { connectPostgres, migratePostgres, openPglite } from './db/node-client.js';
import { systemClock, type Deps } from './deps.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import type { CalendarPort, FeishuPort, FeishuSignInPort } from './ports.js';
import { loadServiceAccountKey, type ServiceAccountKey } from './google/auth.js';
import { createPacer, quotaSettings, type Pacer } from './outbox/pacing.js';

/** The logger, scrubbing every configured secret (and the private key of a key file, once read). */
export function loggerFor(config: Config, extraSecrets: Array<string | undefined> = []): Logger {
  return createLogger({ level: config.LOG_LEVEL, secrets: [...secretValues(config), ...extraSecrets] });
}

/** Postgres when DATABASE_URL is set (migrated at start), else embedded PGlite in DATA_DIR. */
export async function openDatabase(config: Config, logger: Logger, opts: { migrate?: boolean } = {}): Promise<Database> {
  if (config.DATABASE_URL) {
    if (opts.migrate !== false) await migratePostgres(config.DATABASE_URL);
    return connectPostgres(config.DATABASE_URL);
  }
  logger.info('DATABASE_URL not set: using embedded PGlite', { dataDir: config.DATA_DIR });
  return openPglite(config.DATA_DIR);
}

export interface NodeRuntime {
  deps: Deps;
  database: Database;
  close(): Promise<void>;
}

/** Build the deps object for Node entry points: database, logger, metrics, clock. */
export async function buildNodeRuntime(config: Config, opts: { migrate?: boolean; logger?: Logger } = {}): Promise<NodeRuntime> {
  // before the database: a bad key stops the start without leaving a connection behind. Read
  // before the logger exists, so a key from GOOGLE_SERVICE_ACCOUNT_FILE is scrubbed like the
  // _JSON variable is.
  const key = await loadServiceAccountKey(config);
  const logger = opts.logger ?? loggerFor(config, [key?.private_key]);
  const database = await openDatabase(config, logger, opts);
  const metrics = new Metrics();
  // One pacer per process: calls made side by side share its round trips to the quota table.
  const pacer = key ? createPacer({ db: database.db, logger, metrics }, quotaSettings(config)) : undefined;
  const calendar = await calendarFor(key, config, pacer);
  const deps: Deps = {
    config,
    db: database.db,
    dbKind: database.kind,
    clock: systemClock,
    logger,
    metrics,
    calendar,
    ...(pacer ? { pacer } : {}),
  };
  const feishu = await feishuFor(config, logger);
  deps.feishu = feishu;
  deps.feishuSignIn = feishu;
  return { deps, database, close: () => database.close() };
}

/** The Feishu Open API client when FEISHU_APP_ID/SECRET are set (config checks they go together). */
export async function feishuFor(config: Config, logger: Logger): Promise<(FeishuPort & FeishuSignInPort) | undefined> {
  if (!config.FEISHU_APP_ID || !config.FEISHU_APP_SECRET) return undefined;
  // Imported only when configured: the SDK is heavy for a process that never calls it.
  const { createFeishuClient } = await import('./feishu/client.js');
  return createFeishuClient({ appId: config.FEISHU_APP_ID, appSecret: config.FEISHU_APP_SECRET, baseUrl: config.FEISHU_BASE_URL, logger });
}

/**
 * Google Calendar when a service-account key is configured (calendar sync off otherwise: outbox
 * rows are then held with that reason). A key that cannot be used stops the start with a ConfigError
 * (loadServiceAccountKey).
 */
export async function calendarFor(
  key: ServiceAccountKey | null,
  config: Config,
  pacer?: Pacer,
): Promise<CalendarPort | undefined> {
  if (!key) return undefined;
  // Imported only when configured (googleapis and gaxios are heavy to load).
  const [{ createGoogleCalendar }, { nodeFetch }] = await Promise.all([import('./google/calendar.js'), import('./google/node-fetch.js')]);
  return createGoogleCalendar({ key, baseUrl: config.GOOGLE_CALENDAR_BASE_URL, fetch: nodeFetch, ...(pacer ? { pacer } : {}) });
}
