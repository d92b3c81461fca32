import { serve as serveHttp, type ServerType } from '@hono/node-server';
import { createApp } from '../app.js';
import { requireWebhookSecrets, type Config } from '../config.js';
import { buildNodeRuntime } from '../node-deps.js';

/**
 * `leave-bridge serve`: HTTP (webhook, admin API, dashboard) plus the background parts that
 * the other commands wire in. Stops on SIGTERM/SIGINT: stop accepting, finish in-flight work,
 * close the database, exit 0.
 */
export async function serve(config: Config): Promise<void> {
  requireWebhookSecrets(config);
  const runtime = await buildNodeRuntime(config);
  const { deps } = runtime;
  const app = createApp(deps);
  const server: ServerType = serveHttp({
    fetch: app.fetch,
    port: config.PORT,
    hostname: '0.0.0.0',
    serverOptions: {
      // A slow or stalled sender must not hold a socket for long (slowloris).
      requestTimeout: 15_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
    },
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  deps.logger.info('leave-bridge listening', { port, database: deps.dbKind, mode: config.FEISHU_EVENT_MODE });

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
    await runtime.close();
    deps.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
