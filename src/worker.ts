/**
 * Cloudflare Workers entry: the same Hono app as `leave-bridge serve`, with Postgres behind
 * Hyperdrive. What differs from Node, and why:
 *
 * - Everything that does I/O is built per invocation (one request, or one cron run) and ended in
 *   ctx.waitUntil: the database client, the Google and Feishu clients with their token caches, the
 *   drainer. workerd does not let one request use a socket another request opened, and a promise
 *   one request awaits must not belong to another request that may be cancelled first. Only plain
 *   data lives per isolate: the parsed config, the parsed service-account key, the logger.
 * - No background loop: the outbox is drained by ctx.waitUntil right after a request that wrote
 *   outbox rows (only those leaves' keys), and by the cron trigger (everything due), each within a
 *   time budget (src/worker-config.ts). The cron also queues the periodic CoreHR sync.
 * - No embedded PGlite (no file system) and no long connection (no process that outlives a
 *   request): both are configuration errors here rather than silent fallbacks.
 *
 * Nothing here may import a Node-only module of ours (src/db/node-client.ts, src/node-deps.ts,
 * src/cli/*): scripts/bundle-size.ts fails when one appears in the bundle.
 */
import type { ExecutionContext } from 'hono';
import { createApp } from './app.js';
import { ConfigError, secretValues, webhookWarnings, type Config } from './config.js';
import type { Database } from './db/client.js';
import { connectWorkerPostgres } from './db/worker-client.js';
import { systemClock, type Deps } from './deps.js';
import { DatabaseUnavailableError, errorBody } from './errors.js';
import { createFeishuClient } from './feishu/client.js';
import { queuePeriodicSync } from './feishu/corehr-sync.js';
import { parseServiceAccountKey, type ServiceAccountKey } from './google/auth.js';
import { createGoogleCalendar } from './google/calendar.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { createDrainer, drainerOptions, type DrainSummary } from './outbox/drain.js';
import { createPacer, quotaSettings } from './outbox/pacing.js';
import { registerOutboxMetrics, releaseHeld } from './outbox/queries.js';
import { purgeExpired } from './retention/purge.js';
import {
  CRON_BUDGET_MS,
  PURGE_CRON,
  RUN_TIMEOUT_MS,
  WAIT_UNTIL_BUDGET_MS,
  workerConfig,
  type WorkerEnv,
} from './worker-config.js';

/** The part of workerd's ScheduledController we use. */
interface ScheduledController {
  cron: string;
  scheduledTime: number;
}

/** Plain data kept for the life of the isolate. */
interface Isolate {
  config: Config;
  logger: Logger;
  serviceAccountKey: ServiceAccountKey | null;
  /** held outbox rows are released once per isolate, as `serve` does once per process start */
  heldReleased: boolean;
}

const isolates = new WeakMap<object, Isolate>();

function isolateFor(env: WorkerEnv): Isolate {
  let isolate = isolates.get(env);
  if (!isolate) {
    const config = workerConfig(env);
    const serviceAccountKey =
      config.GOOGLE_SERVICE_ACCOUNT_JSON === undefined ? null : parseServiceAccountKey(config.GOOGLE_SERVICE_ACCOUNT_JSON);
    const logger = createLogger({
      level: config.LOG_LEVEL,
      secrets: [...secretValues(config), serviceAccountKey?.private_key],
    });
    isolate = { config, logger, serviceAccountKey, heldReleased: false };
    isolates.set(env, isolate);
    for (const warning of webhookWarnings(config)) logger.warn(warning);
  }
  return isolate;
}

interface Invocation {
  deps: Deps;
  database: Database;
  /** leave keys whose outbox rows this invocation wrote */
  touched: Set<string>;
}

function invocation(isolate: Isolate): Invocation {
  const { config, logger } = isolate;
  const database = connectWorkerPostgres(config.DATABASE_URL!);
  const touched = new Set<string>();
  const feishu =
    config.FEISHU_APP_ID && config.FEISHU_APP_SECRET
      ? createFeishuClient({ appId: config.FEISHU_APP_ID, appSecret: config.FEISHU_APP_SECRET, baseUrl: config.FEISHU_BASE_URL, logger })
      : undefined;
  const metrics = new Metrics();
  // Per invocation, on its own connection; the quota table is what the invocations share.
  const pacer = isolate.serviceAccountKey ? createPacer({ db: database.db, logger, metrics }, quotaSettings(config)) : undefined;
  const deps: Deps = {
    config,
    db: database.db,
    dbKind: database.kind,
    clock: systemClock,
    logger,
    // Per invocation: counters of one isolate are not a series Prometheus can use (a scrape lands
    // on any isolate, and isolates come and go); /metrics here serves the database-derived outbox
    // gauges. Request counts and errors come from Workers observability.
    metrics,
    onOutboxWritten: (keys) => keys.forEach((k) => touched.add(k)),
    calendar: pacer && isolate.serviceAccountKey
      ? createGoogleCalendar({ key: isolate.serviceAccountKey, baseUrl: config.GOOGLE_CALENDAR_BASE_URL, pacer })
      : undefined,
    ...(pacer ? { pacer } : {}),
    feishu,
    feishuSignIn: feishu,
  };
  registerOutboxMetrics(deps);
  return { deps, database, touched };
}

async function drain(inv: Invocation, opts: { keys?: string[]; budgetMs: number }): Promise<DrainSummary> {
  const drainer = createDrainer(inv.deps, drainerOptions(inv.deps.config, { runTimeoutMs: RUN_TIMEOUT_MS }));
  return drainer.drainOnce(opts);
}

async function fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
  let isolate: Isolate;
  try {
    isolate = isolateFor(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg: err.message }));
    // 503, not 500: Feishu re-pushes for about 7 h, so events sent while an operator fixes a
    // setting are delivered again rather than lost. The body names no variable and no value.
    return Response.json(errorBody('misconfigured', 'service misconfigured; see the worker logs'), { status: 503 });
  }
  const inv = invocation(isolate);
  let response: Response;
  try {
    response = await createApp(inv.deps).fetch(request, env, ctx);
  } catch (err) {
    ctx.waitUntil(afterResponse(inv));
    throw err;
  }
  if (!response.body) {
    ctx.waitUntil(afterResponse(inv));
    return response;
  }
  // A streamed body (the payroll export) still reads the database after the handler returned:
  // the client is closed once the body has gone out, or the client went away.
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const sent = response.body.pipeTo(writable).catch((err: unknown) => inv.deps.logger.warn('response body not sent in full', { err }));
  ctx.waitUntil(sent.then(() => afterResponse(inv)));
  return new Response(readable, response);
}

/**
 * The Node drainer is woken by onOutboxWritten; here the rows the request wrote are drained right
 * after the response went out, so Feishu's 3 s clock never waits on Google. What does not finish
 * in the budget (Google failing, backoff) is left to the cron.
 */
async function afterResponse(inv: Invocation): Promise<void> {
  const { deps, database, touched } = inv;
  try {
    if (touched.size > 0) {
      const summary = await drain(inv, { keys: [...touched], budgetMs: WAIT_UNTIL_BUDGET_MS });
      deps.logger.debug('outbox drained after response', { keys: [...touched], ...summary });
    }
  } catch (err) {
    deps.logger.error('outbox drain after response failed; the cron will retry', { err });
  } finally {
    await database.close();
  }
}

async function scheduled(controller: ScheduledController, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
  // A config error throws here: the cron run shows as failed in the dashboard and the logs.
  const isolate = isolateFor(env);
  const inv = invocation(isolate);
  if (controller.cron === PURGE_CRON) {
    try {
      await purgeExpired(inv.deps);
    } catch (err) {
      inv.deps.logger.error('retention purge failed; the next hourly run tries again', { cron: controller.cron, err });
      throw err;
    } finally {
      await inv.database.close();
    }
    return;
  }
  try {
    if (!isolate.heldReleased) {
      // Rows held for configuration (no key, no email) get another chance when an isolate starts,
      // which is when new secrets or vars take effect.
      const released = await releaseHeld(inv.deps.db);
      isolate.heldReleased = true;
      if (released.count > 0) inv.deps.logger.info('outbox: released held messages', { count: released.count });
    }
    const corehrInterval = inv.deps.config.COREHR_SYNC_INTERVAL;
    if (inv.deps.config.COREHR_ENABLED && corehrInterval !== undefined) {
      // COREHR_SYNC_INTERVAL: the minute cron queues a CoreHR sync once an interval has passed
      // (the time is kept in the database, shared by every isolate); this drain runs it.
      if (await queuePeriodicSync(inv.deps, corehrInterval)) inv.deps.logger.info('periodic CoreHR sync queued', { cron: controller.cron });
    }
    const summary = await drain(inv, { budgetMs: CRON_BUDGET_MS });
    // A database that cannot be reached fails the run, so it shows as failed in the cron history.
    if (summary.databaseUnavailable) throw new DatabaseUnavailableError();
    (summary.claimed > 0 ? inv.deps.logger.info : inv.deps.logger.debug)('outbox drained by cron', { cron: controller.cron, ...summary });
  } catch (err) {
    inv.deps.logger.error('cron drain failed', { cron: controller.cron, err });
    throw err;
  } finally {
    await inv.database.close();
  }
}

export default { fetch, scheduled };
