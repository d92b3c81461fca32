import type { Config } from '../config.js';
import { DEFAULT_BACKOFF, DEFAULT_QUICK_RETRY, type BackoffPolicy, type QuickRetryPolicy } from './backoff.js';

export interface DrainerOptions {
  /** names this process in leased_by; defaults to a random id */
  workerId?: string;
  batchSize: number;
  concurrency: number;
  leaseSeconds: number;
  pollMs: number;
  maxAttempts: number;
  backoff?: BackoffPolicy;
  quickRetry?: QuickRetryPolicy;
  /** one run of one message (quick retries included) gives up after this and counts as a transient failure */
  runTimeoutMs?: number;
  /** stop() waits this long for in-flight handlers before releasing their leases */
  stopTimeoutMs?: number;
  /** put held rows back to pending at start (configuration may have been fixed); default true */
  releaseHeldOnStart?: boolean;
  /** pause after the database refused us, doubled per failure up to this */
  maxDatabasePauseMs?: number;
}

export type ResolvedDrainerOptions = Required<Omit<DrainerOptions, 'workerId'>> & { workerId: string };

export function drainerOptions(config: Config, extra: Partial<DrainerOptions> = {}): DrainerOptions {
  return {
    batchSize: config.OUTBOX_BATCH_SIZE,
    concurrency: config.OUTBOX_CONCURRENCY,
    leaseSeconds: config.OUTBOX_LEASE_SECONDS,
    pollMs: config.OUTBOX_POLL_MS,
    maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
    ...extra,
  };
}

export function resolveDrainerOptions(options: DrainerOptions): ResolvedDrainerOptions {
  return {
    backoff: DEFAULT_BACKOFF,
    quickRetry: DEFAULT_QUICK_RETRY,
    runTimeoutMs: 60_000,
    // a run still going after half a lease is better handed to another process at once
    stopTimeoutMs: Math.min(10_000, (options.leaseSeconds * 1000) / 2),
    releaseHeldOnStart: true,
    maxDatabasePauseMs: 30_000,
    ...options,
    workerId: options.workerId ?? `drainer-${globalThis.crypto.randomUUID().slice(0, 8)}`,
  };
}

/** What one drain (or one pump of the loop) did. */
export interface DrainSummary {
  claimed: number;
  done: number;
  retried: number;
  dead: number;
  held: number;
  /** fenced out: another drainer holds the row now */
  lost: number;
  released: number;
  /** refused by Google for the quota: pending again later, attempts untouched */
  throttled: number;
  databaseUnavailable: boolean;
  budgetExhausted: boolean;
}

export function emptySummary(): DrainSummary {
  return { claimed: 0, done: 0, retried: 0, dead: 0, held: 0, lost: 0, released: 0, throttled: 0, databaseUnavailable: false, budgetExhausted: false };
}

/** How a run of one claimed row ended. */
export type Outcome = 'done' | 'retry' | 'dead' | 'held' | 'lost' | 'released' | 'throttled';
