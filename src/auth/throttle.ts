import { eq, lt, sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Queryable } from '../db/client.js';
import { authFailures } from '../db/schema.js';
import type { Clock } from '../deps.js';
import type { Logger } from '../logger.js';

/*
 * Throttling of failed authentication (bearer token, login form, Feishu sign-in callback) per
 * client address: AUTH_FAILURE_LIMIT failures within a window of AUTH_FAILURE_WINDOW that starts at
 * the first failure; from the limit on, every admin request from that address answers 429 (with the
 * right token too, or guessing would go on) until the window ends. Counters live in the database so
 * that every `serve` process and every Worker isolate sees the same count. The webhook never comes
 * here: Feishu's deliveries pay nothing for it.
 */

type ThrottleDeps = { db: Queryable; clock: Clock; config: Pick<Config, 'AUTH_FAILURE_LIMIT' | 'AUTH_FAILURE_WINDOW'> };

/** Seconds until `address` may try again, or null when it may now. */
export async function blockedFor(deps: ThrottleDeps, address: string): Promise<number | null> {
  const [row] = await deps.db.select().from(authFailures).where(eq(authFailures.address, address)).limit(1);
  if (!row || row.failures < deps.config.AUTH_FAILURE_LIMIT) return null;
  const left = row.windowStartedAt.getTime() + deps.config.AUTH_FAILURE_WINDOW - deps.clock.now().getTime();
  return left > 0 ? Math.ceil(left / 1000) : null;
}

/**
 * Count a failure (one statement: concurrent failures from one address all count) and log it,
 * without the secret that was tried. Returns the count in the current window.
 */
export async function recordFailure(
  deps: ThrottleDeps & { logger: Logger },
  input: { address: string; kind: 'bearer' | 'password' | 'feishu_sign_in'; why: string },
): Promise<number> {
  const now = deps.clock.now();
  const windowStart = new Date(now.getTime() - deps.config.AUTH_FAILURE_WINDOW).toISOString();
  const expired = sql`${authFailures.windowStartedAt} <= ${windowStart}::timestamptz`;
  const [row] = await deps.db
    .insert(authFailures)
    .values({ address: input.address, failures: 1, windowStartedAt: now })
    .onConflictDoUpdate({
      target: authFailures.address,
      set: {
        failures: sql`case when ${expired} then 1 else ${authFailures.failures} + 1 end`,
        windowStartedAt: sql`case when ${expired} then ${now.toISOString()}::timestamptz else ${authFailures.windowStartedAt} end`,
      },
    })
    .returning({ failures: authFailures.failures });
  const failures = row?.failures ?? 1;
  deps.logger.warn('admin authentication failed', {
    kind: input.kind,
    why: input.why,
    address: input.address,
    failures,
    limit: deps.config.AUTH_FAILURE_LIMIT,
  });
  return failures;
}

/** An attempt refused because the address is throttled: logged like a failure, not counted again. */
export function logThrottled(deps: { logger: Logger }, input: { address: string; kind: 'bearer' | 'password' | 'feishu_sign_in'; retryAfterSeconds: number }): void {
  deps.logger.warn('admin authentication failed', { kind: input.kind, why: 'throttled', address: input.address, retry_after_s: input.retryAfterSeconds });
}

/** Windows that have ended hold nothing anyone checks. */
export async function deleteEndedWindows(deps: ThrottleDeps): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - deps.config.AUTH_FAILURE_WINDOW);
  const rows = await deps.db.delete(authFailures).where(lt(authFailures.windowStartedAt, before)).returning({ address: authFailures.address });
  return rows.length;
}
