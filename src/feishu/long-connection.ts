import { EventDispatcher, LoggerLevel, WSClient } from '@larksuiteoapi/node-sdk';
import type { Deps } from '../deps.js';
import { ConfigError, LONG_CONNECTION_APP_ID } from '../config.js';
import { COMMIT_DEADLINE_MS } from '../db/deadline.js';
import type { IngestDeps, IngestResult } from '../leave/ingest.js';
import { sdkLogText, type Logger } from '../logger.js';
import { decryptEvent } from './crypto.js';
import { identifyEvent } from './envelope.js';
import { receive } from './inbound.js';
import { parseJsonLenient } from './json.js';

/**
 * Feishu's long connection (FEISHU_EVENT_MODE=ws) through the SDK's WSClient, feeding the same
 * ingest as the webhook. What the SDK does, read from node_modules/@larksuiteoapi/node-sdk/lib/index.js
 * (1.74.0):
 *
 * - `WSClient.pullConnectConfig`: POST {domain}/callback/ws/endpoint `{AppID, AppSecret}` → `URL` and
 *   `ClientConfig` {PingInterval, ReconnectCount, ReconnectInterval, ReconnectNonce} (seconds). A
 *   code other than 0 or 1000040343 (internal error) is "not retryable": the client calls
 *   `onError` and stops for good. `start()` also returns silently, having only logged, when the app
 *   id does not match /^cli_[0-9a-fA-F]{16}$/.
 * - frames are protobuf `pbbp2.Frame` (SeqID 1, LogID 2, service 3, method 4, headers 5 {key 1,
 *   value 2}, payloadEncoding 6, payloadType 7, payload 8, LogIDNew 9); method 0 = control
 *   (ping/pong), 1 = data; fragments are joined by `message_id`/`sum`/`seq` (`DataCache`).
 * - `handleEventData` JSON-parses the joined payload and awaits `eventDispatcher.invoke(body,
 *   {needCheck: false})`; then it sends the frame back with payload `{"code": 200}`, or
 *   `{"code": 500}` if invoke threw. So the ack waits for our promise: we resolve it only after
 *   ingest's transaction committed, and throw when it did not.
 * - the stock `EventDispatcher.invoke` → `RequestHandle.parse` flattens a v1 body as
 *   `{...event, ...rest}`, so the envelope's `type: "event_callback"` (and `uuid`, `ts`, `token`)
 *   overwrite the event's own fields, and the real type survives only under a private Symbol.
 *   We therefore override `invoke` itself and read the untouched body: type from `event.type` (v1)
 *   or `header.event_type` (v2), dedupe key from `uuid` / `header.event_id` — as the webhook does.
 * - liveness: the client pings every PingInterval (server-set, 120 s at Feishu) and, only when
 *   `wsConfig.pingTimeout` is set, terminates the socket if nothing arrives within that many
 *   seconds of a ping (`armLiveness`), which runs the normal reconnect. Without it a path that
 *   dies silently (no FIN/RST) is never noticed: ws has no read timeout. `armLiveness` re-arms on
 *   every ping, so pingTimeout must stay below PingInterval or it never fires.
 * - `handshakeTimeoutMs` bounds a WebSocket handshake that hangs; without it, it hangs forever.
 */

export type LongConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface LongConnectionStatus {
  state: LongConnectionState;
  /** when the last event was received (whatever its outcome) */
  lastEventAt: Date | null;
  /** connections lost (or given up by the SDK) and re-established since start */
  reconnects: number;
  lastError: string | null;
}

export interface LongConnection {
  status(): LongConnectionStatus;
  /** Stop taking events, let in-flight ones commit and ack, then close the socket. */
  close(): Promise<void>;
}

export interface LongConnectionOptions {
  appId: string;
  appSecret: string;
  /** FEISHU_BASE_URL: the endpoint-discovery API lives there */
  baseUrl: string;
  /** seconds without any frame after a ping before the socket is dropped */
  pingTimeoutSeconds?: number;
  handshakeTimeoutMs?: number;
  /** an event not committed by then is answered 500, so Feishu re-pushes it */
  ackDeadlineMs?: number;
  /** delay before restarting a client the SDK gave up on (doubles up to 60 s) */
  restartDelayMs?: number;
  /** how often the supervisor looks for a client that stopped trying */
  superviseMs?: number;
  /** close(): how long in-flight events may take to commit and ack */
  drainTimeoutMs?: number;
}

/**
 * Defaults of the optional settings. The ack deadline is the webhook's commit deadline: an event
 * is taken on either path only if it commits in time for Feishu.
 */
export const LONG_CONNECTION_DEFAULTS = {
  pingTimeoutSeconds: 10,
  handshakeTimeoutMs: 10_000,
  ackDeadlineMs: COMMIT_DEADLINE_MS,
  restartDelayMs: 1000,
  superviseMs: 30_000,
  drainTimeoutMs: 5000,
} satisfies Partial<LongConnectionOptions>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The SDK logs through `logger.level([...args])`; its errors are mostly retries we recover from.
 * At debug it logs every event it receives: sdkLogText cuts those payloads out.
 */
function sdkLogger(logger: Logger) {
  return {
    error: (...a: unknown[]) => logger.warn(`feishu sdk: ${sdkLogText(a)}`),
    warn: (...a: unknown[]) => logger.warn(`feishu sdk: ${sdkLogText(a)}`),
    info: (...a: unknown[]) => logger.debug(`feishu sdk: ${sdkLogText(a)}`),
    debug: (...a: unknown[]) => logger.debug(`feishu sdk: ${sdkLogText(a)}`),
    trace: (...a: unknown[]) => logger.debug(`feishu sdk: ${sdkLogText(a)}`),
  };
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not committed within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Open the long connection and keep it open: the SDK reconnects after a drop, and a supervisor
 * restarts the client when the SDK gives up (it does so for good after a non-retryable discovery
 * answer or after ReconnectCount attempts). Registers `long_connection` on deps.readiness and its
 * gauges/counters on deps.metrics.
 */
export function startLongConnection(
  deps: IngestDeps & Pick<Deps, 'readiness'>,
  opts: LongConnectionOptions,
): LongConnection {
  if (!LONG_CONNECTION_APP_ID.test(opts.appId)) {
    // WSClient.start() would only log this and never connect (config refuses it at start too).
    throw new ConfigError(['FEISHU_APP_ID: the long connection needs an app id like cli_0123456789abcdef']);
  }
  const { logger, metrics } = deps;
  const pingTimeoutSeconds = opts.pingTimeoutSeconds ?? LONG_CONNECTION_DEFAULTS.pingTimeoutSeconds;
  const ackDeadlineMs = opts.ackDeadlineMs ?? LONG_CONNECTION_DEFAULTS.ackDeadlineMs;
  const baseRestartDelay = opts.restartDelayMs ?? LONG_CONNECTION_DEFAULTS.restartDelayMs;

  let closed = false;
  let hasConnected = false;
  let restarting = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restartDelay = baseRestartDelay;
  let lastEventAt: Date | null = null;
  let reconnects = 0;
  let lastError: string | null = null;
  const inFlight = new Set<Promise<unknown>>();

  const reconnected = (why: string) => {
    reconnects++;
    metrics.inc('leave_bridge_long_connection_reconnects_total', 'Long connection re-established after a loss');
    logger.info('long connection re-established', { why, reconnects });
  };

  const handle = async (body: Record<string, unknown>): Promise<IngestResult> => {
    if (isObject(body) && typeof body.encrypt === 'string') {
      // Feishu sends long-connection events in clear; honour an encrypt key if one is set anyway.
      const key = deps.config.FEISHU_ENCRYPT_KEY;
      if (!key) throw new Error('event is encrypted but FEISHU_ENCRYPT_KEY is not set');
      const plain = parseJsonLenient(await decryptEvent(key, body.encrypt));
      if (!isObject(plain)) throw new Error('decrypted event is not a JSON object');
      body = plain;
    }
    // No token check here: frames on this socket come from the gateway we logged in to with the
    // app secret (endpoint discovery over TLS), which is what the token stands in for on a webhook.
    const incoming = await identifyEvent(body);
    return receive(deps, { ...incoming, source: 'ws', body });
  };

  class IngestDispatcher extends EventDispatcher {
    override async invoke(data: unknown): Promise<undefined> {
      if (closed) throw new Error('long connection is closing');
      lastEventAt = deps.clock.now();
      const work = handle(isObject(data) ? data : {});
      inFlight.add(work);
      void work.catch(() => {}).finally(() => inFlight.delete(work));
      try {
        // Resolving means "ack 200": only after commit, and within Feishu's 3 s. A commit that
        // comes after the deadline is harmless: the re-push is then a duplicate.
        const result = await deadline(work, ackDeadlineMs, 'event');
        metrics.inc('leave_bridge_long_connection_acks_total', 'Long-connection events answered, by ack code', { code: '200' });
        logger.debug('long connection event', { status: result.status, instanceCode: result.instanceCode });
        return undefined;
      } catch (err) {
        metrics.inc('leave_bridge_long_connection_acks_total', 'Long-connection events answered, by ack code', { code: '500' });
        logger.warn('long connection event not taken; Feishu will re-push it', { err });
        throw err;
      }
    }
  }

  const logLevel = deps.config.LOG_LEVEL === 'debug' ? LoggerLevel.debug : LoggerLevel.warn;
  const dispatcher = new IngestDispatcher({ logger: sdkLogger(logger), loggerLevel: logLevel });
  const client = new WSClient({
    appId: opts.appId,
    appSecret: opts.appSecret,
    domain: opts.baseUrl.replace(/\/+$/, ''),
    logger: sdkLogger(logger),
    loggerLevel: logLevel,
    autoReconnect: true,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? LONG_CONNECTION_DEFAULTS.handshakeTimeoutMs,
    wsConfig: { pingTimeout: pingTimeoutSeconds },
    onReady: () => {
      lastError = null;
      restartDelay = baseRestartDelay;
      if (hasConnected) reconnected('restart');
      hasConnected = true;
      restarting = false;
      logger.info('long connection open');
    },
    onReconnecting: () => logger.warn('long connection lost, reconnecting'),
    onReconnected: () => {
      lastError = null;
      reconnected('reconnect');
    },
    onError: (err) => {
      lastError = err.message;
      logger.error('long connection gave up; restarting it', { err, inMs: restartDelay });
      scheduleRestart();
    },
  });

  const scheduleRestart = () => {
    if (closed || restartTimer) return;
    restarting = true;
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, 60_000);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (closed) return;
      client.close({ force: true });
      void client.start({ eventDispatcher: dispatcher });
    }, delay);
  };

  // The SDK's states are 'failed' once it gives up and 'idle' when nothing is open and nothing
  // is scheduled; neither should last while we are meant to be connected.
  const supervisor = setInterval(() => {
    const s = client.getConnectionStatus().state;
    if (!closed && (s === 'failed' || s === 'idle')) scheduleRestart();
  }, opts.superviseMs ?? LONG_CONNECTION_DEFAULTS.superviseMs);
  supervisor.unref();

  const status = (): LongConnectionStatus => {
    const s = client.getConnectionStatus().state;
    const state: LongConnectionState = closed
      ? 'closed'
      : s === 'connected' && !restarting
        ? 'connected'
        : hasConnected
          ? 'reconnecting'
          : 'connecting';
    return { state, lastEventAt, reconnects, lastError };
  };

  const previous = deps.readiness;
  deps.readiness = () => ({ ...(previous?.() ?? {}), long_connection: status().state === 'connected' });
  const STATES: LongConnectionState[] = ['connecting', 'connected', 'reconnecting', 'closed'];
  metrics.collect('leave_bridge_long_connection_state', 'Long connection state (1 for the current one)', () => {
    const now = status().state;
    return STATES.map((state) => ({ labels: { state }, value: state === now ? 1 : 0 }));
  });
  metrics.collect('leave_bridge_long_connection_last_event_timestamp_seconds', 'When the last long-connection event arrived', () =>
    lastEventAt ? [{ labels: {}, value: lastEventAt.getTime() / 1000 }] : [],
  );

  void client.start({ eventDispatcher: dispatcher });

  return {
    status,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(supervisor);
      if (restartTimer) clearTimeout(restartTimer);
      // Events already in ingest still get their ack on the open socket; what arrives from now on
      // is answered 500 and re-pushed by Feishu (to the next process).
      const drainTimeoutMs = opts.drainTimeoutMs ?? LONG_CONNECTION_DEFAULTS.drainTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inFlight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, drainTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      // Let the acks just resolved be written before the socket goes (the SDK sends them after
      // our promise settles, a few microtasks later).
      await new Promise<void>((resolve) => setImmediate(resolve));
      client.close();
      logger.info('long connection closed');
    },
  };
}
