import type { Config } from './config.js';
import type { Db } from './db/client.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Pacer } from './outbox/pacing.js';
import type { CalendarPort, FeishuPort, FeishuSignInPort } from './ports.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Everything with I/O, built once at the entry point (node.ts, worker.ts, tests) and handed down.
 * Domain functions take the parts they need; nothing reads process.env below the entry.
 */
export interface Deps {
  config: Config;
  db: Db;
  dbKind: 'postgres' | 'pglite';
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /**
   * Called after a transaction that wrote outbox rows has committed, with the leave keys it
   * touched: the Node drainer wakes at once, the Worker hands them to ctx.waitUntil.
   */
  onOutboxWritten?: (keys: string[]) => void;
  /** Google Calendar; absent when no service account is configured (calendar sync off). */
  calendar?: CalendarPort;
  /**
   * The quota pacing the calendar's calls go through (src/outbox/pacing.ts): the drainer gives
   * its unused tokens back when it stops. Absent: calls are not paced.
   */
  pacer?: Pacer;
  /** Feishu Open API; absent without FEISHU_APP_ID/SECRET. */
  feishu?: FeishuPort;
  /** Feishu sign-in for the dashboard (the same app credentials); absent without them. */
  feishuSignIn?: FeishuSignInPort;
  /** Extra readiness checks (long connection state); name → ok */
  readiness?: () => Record<string, boolean>;
}
