/**
 * Configuration of the Workers entry (src/worker.ts), kept apart from it because a Worker module may
 * export nothing but its handlers.
 */
import { ConfigError, loadConfig, requireWebhookSecrets, type Config } from './config.js';

/** The bindings wrangler.toml declares: Hyperdrive, [vars] and secrets (strings). */
export interface WorkerEnv {
  HYPERDRIVE?: { connectionString: string };
  [name: string]: unknown;
}

/**
 * Time budgets of the Worker's drains. A budget stops the drainer from CLAIMING new rows; a run
 * already going may take up to RUN_TIMEOUT_MS more (its Google and Feishu calls have their own
 * 15 s timeouts and quick retries inside it). Workers cut waitUntil work off 30 s after the
 * response (limits: "Duration"), so WAIT_UNTIL_BUDGET_MS + RUN_TIMEOUT_MS stays under 30 s: no
 * run is killed mid-way with its lease still held. A cron run may last much longer (15 min wall
 * clock), but the cron fires every minute: a 25 s budget keeps consecutive runs from piling up and
 * stays within the paid plan's default 30 s of CPU even if it were all CPU (it is mostly waiting).
 */
export const WAIT_UNTIL_BUDGET_MS = 10_000;
export const CRON_BUDGET_MS = 25_000;
export const RUN_TIMEOUT_MS = 15_000;

/**
 * The hourly trigger in wrangler.toml: it runs the retention purge (src/retention/purge.ts), the
 * every-minute one drains the outbox.
 */
export const PURGE_CRON = '17 * * * *';

/**
 * Config from the bindings: [vars] and secrets are strings; Hyperdrive supplies DATABASE_URL (a
 * DATABASE_URL secret is used when no Hyperdrive is bound, e.g. a database Workers reach directly).
 * What cannot work on Workers is a configuration error naming the variable, never a silent fallback.
 */
export function workerConfig(env: WorkerEnv): Config {
  const vars: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === 'string') vars[name] = value;
  }
  const hyperdrive = env.HYPERDRIVE?.connectionString;
  if (typeof hyperdrive === 'string' && hyperdrive !== '') vars.DATABASE_URL = hyperdrive;

  // Checked on the raw values, so they are reported together with any other bad setting.
  const set = (name: string) => (vars[name] ?? '').trim() !== '';
  const issues: string[] = [];
  if (!set('DATABASE_URL')) {
    issues.push('DATABASE_URL: no database: bind Hyperdrive as HYPERDRIVE in wrangler.toml (embedded PGlite runs on Node only)');
  }
  if (vars.FEISHU_EVENT_MODE?.trim() === 'ws') {
    issues.push('FEISHU_EVENT_MODE: ws (long connection) runs on Node only; on Workers Feishu delivers by webhook');
  }
  if (set('GOOGLE_SERVICE_ACCOUNT_FILE')) {
    issues.push('GOOGLE_SERVICE_ACCOUNT_FILE: Workers have no files; put the key JSON in the GOOGLE_SERVICE_ACCOUNT_JSON secret');
  }
  if (set('BACKFILL_INTERVAL') && !['0', 'off'].includes(vars.BACKFILL_INTERVAL!.trim().toLowerCase())) {
    issues.push('BACKFILL_INTERVAL: periodic backfill runs inside `leave-bridge serve`; on Workers run `leave-bridge backfill` from Node');
  }

  let config: Config | undefined;
  try {
    config = loadConfig(vars);
    requireWebhookSecrets(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.unshift(...err.issues);
  }
  if (issues.length > 0 || config === undefined) throw new ConfigError(issues);
  return config;
}
