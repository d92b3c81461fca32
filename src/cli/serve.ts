import { serve as serveHttp, type ServerType } from '@hono/node-server';
import { createApp } from '../app.js';
import { requireWebhookSecrets, webhookWarnings, type Config } from '../config.js';
import { buildNodeRuntime } from '../node-deps.js';
import { createDrainer, drainerOptions } from '../outbox/drain.js';
import type { LongConnection } from '../feishu/long-connection.js';
import { startPeriodicBackfill } from '../feishu/backfill.js';
import { startPeriodicCorehrSync } from '../feishu/corehr-sync.js';
import { startPeriodicPurge } from '../retention/purge.js';
import { hostname } from 'node:os';

/**
 * `leave-bridge serve`: HTTP (webhook, admin API, dashboard) plus the background parts that
 * the other commands wire in. Stops on SIGTERM/SIGINT: stop accepting, finish in-flight work,
 * close the database, exit 0.
 */
export async function serve(config: Config): Promise<void> {
  requireWebhookSecrets(config);
  const runtime = await buildNodeRuntime(config);
  const { deps } = runtime;
  // Woken right after each ingest commit (no waiting for a poll tick), and on OUTBOX_POLL_MS.
  // OUTBOX_CONCURRENCY=0: this process only ingests (another `serve` drains).
  const draining = config.OUTBOX_CONCURRENCY > 0;
  const drainer = createDrainer(deps, drainerOptions(config, { workerId: `${hostname()}:${process.pid}` }));
  if (draining) deps.onOutboxWritten = (keys) => drainer.wake(keys);
  // The SDK is imported only in ws mode (it is heavy and webhook mode never needs it), and before
  // the server listens, so the connection's readiness check is in place from the first /readyz.
  const wsModule = config.FEISHU_EVENT_MODE === 'ws' ? await import('../feishu/long-connection.js') : undefined;
  const app = createApp(deps);
  const server: ServerType = serveHttp({
    fetch: app.fetch,
    port: config.PORT,
    hostname: config.HOST,
    serverOptions: {
      // A slow or stalled sender must not hold a socket for long (slowloris).
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      // node:http only checks those timeouts every connectionsCheckingInterval (30 s by default),
      // which would let a slow sender hold a socket up to 30 s longer than configured.
      connectionsCheckingInterval: Math.min(1_000, config.HTTP_HEADERS_TIMEOUT_MS),
      keepAliveTimeout: 5_000,
    },
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  deps.logger.info('leave-bridge listening', { port, host: config.HOST, database: deps.dbKind, mode: config.FEISHU_EVENT_MODE });
  for (const warning of webhookWarnings(config)) deps.logger.warn(warning);
  if (draining) drainer.start();
  else deps.logger.info('outbox draining off in this process (OUTBOX_CONCURRENCY=0)');
  // FEISHU_EVENT_MODE=ws: events arrive over the SDK's long connection (config ensures app credentials).
  const longConnection: LongConnection | undefined = wsModule?.startLongConnection(deps, {
    appId: config.FEISHU_APP_ID!,
    appSecret: config.FEISHU_APP_SECRET!,
    baseUrl: config.FEISHU_BASE_URL,
  });
  // BACKFILL_INTERVAL (off by default): closes gaps left by deliveries Feishu gave up on.
  const stopBackfill = startPeriodicBackfill(deps, config);
  // COREHR_SYNC_INTERVAL (off by default): queues a CoreHR sync, the net under missed doorbells
  const stopCorehr = startPeriodicCorehrSync(deps);
  // payloads, export emails, audit entries past their retention (src/retention/purge.ts)
  const stopPurge = startPeriodicPurge(deps);
  if (!deps.calendar) deps.logger.warn('calendar sync off: no Google service account configured; calendar messages are held until one is');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.logger.info('shutting down', { signal });
    const hardStop = setTimeout(() => {
      deps.logger.error('shutdown took too long, exiting');
      process.exit(1);
    }, 20_000);
    hardStop.unref();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stopBackfill();
    await stopCorehr();
    await stopPurge();
    // before the database closes: in-flight runs finish or give their leases back
    await drainer.stop();
    // in-flight events commit and are acked; later ones are answered 500 and re-pushed by Feishu
    await longConnection?.close();
    await runtime.close();
    deps.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
