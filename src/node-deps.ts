import type { Config } from './config.js';
import type { Database } from './db/client.js';
import { connectPostgres, migratePostgres, openPglite } from './db/node-client.js';
import { systemClock, type Deps } from './deps.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';

export function loggerFor(config: Config): Logger {
  return createLogger({
    level: config.LOG_LEVEL,
    secrets: [
      config.FEISHU_APP_SECRET,
      config.FEISHU_ENCRYPT_KEY,
      config.FEISHU_VERIFICATION_TOKEN,
      config.ADMIN_TOKEN,
      config.GOOGLE_SERVICE_ACCOUNT_JSON,
      // a password inside DATABASE_URL
      config.DATABASE_URL ? safePassword(config.DATABASE_URL) : undefined,
    ],
  });
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
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
  const logger = opts.logger ?? loggerFor(config);
  const database = await openDatabase(config, logger, opts);
  const deps: Deps = {
    config,
    db: database.db,
    dbKind: database.kind,
    clock: systemClock,
    logger,
    metrics: new Metrics(),
  };
  return { deps, database, close: () => database.close() };
}
