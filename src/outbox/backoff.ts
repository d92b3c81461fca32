/**
 * Durable retry schedule of the outbox (pure). Exponential with "equal jitter": half of the
 * exponential step is fixed and half is random, so the delay always grows with the attempt while
 * many rows that failed together (a Google outage, a 429 burst) spread out instead of coming back
 * in one thundering herd.
 */
export interface BackoffPolicy {
  /** delay before the first durable retry, before jitter */
  baseMs: number;
  /** ceiling of any single delay */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 60 * 60_000 };

/**
 * Delay before the next run after `attempts` failed runs (attempts ≥ 1). `random` is [0, 1) and
 * injectable so the schedule is testable.
 */
export function backoffDelayMs(attempts: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempts));
  // 2 ** 60 is still finite; clamp the exponent anyway so a huge attempt count cannot overflow.
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(n - 1, 40));
  const half = step / 2;
  return Math.round(half + random() * half);
}

/** Quick in-process retries (p-retry) before a failure is written back to the database. */
export interface QuickRetryPolicy {
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
}

export const DEFAULT_QUICK_RETRY: QuickRetryPolicy = { retries: 2, minTimeoutMs: 250, maxTimeoutMs: 2_000 };
