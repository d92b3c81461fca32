import pRetry from 'p-retry';
import type { Deps } from '../deps.js';
import { isConnectionError } from '../db/connection-errors.js';
import { ExternalError, type FailureClass } from '../ports.js';
import { backoffDelayMs } from './backoff.js';
import type { Claimed } from './claim.js';
import type { Completions } from './complete.js';
import type { HandlerDeps, HandlerOutcome, OutboxMessage } from './handler-types.js';
import { handleMessage } from './handlers.js';
import type { Outcome, ResolvedDrainerOptions } from './options.js';

export type DrainerDeps = HandlerDeps & Pick<Deps, 'metrics' | 'onOutboxWritten' | 'pacer'>;

/** A claimed row being run. */
export interface InFlight {
  row: Claimed;
  ctl: AbortController;
  /** the lease was given back (stop) or taken by another drainer: never finish this run */
  abandoned: boolean;
}

export interface RunContext {
  deps: DrainerDeps;
  opts: ResolvedDrainerOptions;
  completions: Completions;
  isStopping: () => boolean;
}

class DeadlineError extends Error {
  constructor(ms: number) {
    super(`handler did not finish within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

function classify(err: unknown): FailureClass | 'database' {
  if (err instanceof ExternalError) return err.failure;
  if (isConnectionError(err)) return 'database';
  // Deadline, or a bug: retried durably and dead after maxAttempts with the message to read.
  return 'transient';
}

function describe(err: unknown): string {
  if (err instanceof ExternalError) {
    const tag = [err.failure, err.status, err.reason].filter((x) => x !== undefined && x !== null && x !== '').join(' ');
    return `[${tag}] ${err.message}`.slice(0, 2000);
  }
  const e = err as { name?: string; message?: string };
  return `[${e?.name ?? 'Error'}] ${e?.message ?? String(err)}`.slice(0, 2000);
}

export function unref(t: unknown): void {
  (t as { unref?: () => void } | undefined)?.unref?.();
}

function withDeadline<T>(p: Promise<T>, ms: number, ctl: AbortController): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      const err = new DeadlineError(ms);
      ctl.abort(err);
      reject(err);
    }, ms);
    unref(t);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * Run one claimed row to its end: the handler with quick in-process retries (p-retry) for
 * transient failures, under the run deadline; then the completion its outcome calls for. Failure
 * classes decide the row's fate: transient → durable retry with backoff, dead after maxAttempts;
 * permanent → dead at once; configuration → held, no attempt burned; database → released, no
 * attempt burned; rate_limited → pending again after Retry-After (or a backoff step), no attempt
 * burned. A completion the fence refuses means another drainer owns the row.
 */
export async function runClaimed(ctx: RunContext, entry: InFlight): Promise<Outcome> {
  const { deps, opts, completions } = ctx;
  const { row } = entry;
  if (row.takeover && row.attempts >= opts.maxAttempts) {
    // Its drainers keep dying or stalling on it (a poison message): stop feeding it to them.
    const reason = `abandoned ${row.attempts} times: every lease on it expired before the run finished`;
    deps.logger.error('outbox: message keeps losing its drainer, dead', { id: row.id, key: row.key });
    return (await completions.final(row, 'dead', reason, row.attempts)) ? 'dead' : 'lost';
  }
  const msg: OutboxMessage = { id: row.id, key: row.key, kind: row.kind, payload: row.payload, attempts: row.attempts };
  const q = opts.quickRetry;
  let outcome: HandlerOutcome;
  try {
    outcome = await withDeadline(
      // a quick retry reads the state again: the failed attempt may have changed Google already
      pRetry((attempt) => handleMessage(deps, msg, attempt === 1 ? row.state : undefined), {
        retries: q.retries,
        minTimeout: q.minTimeoutMs,
        maxTimeout: q.maxTimeoutMs,
        randomize: true,
        signal: entry.ctl.signal,
        shouldRetry: ({ error }) => classify(error) === 'transient' && !entry.ctl.signal.aborted,
      }),
      opts.runTimeoutMs,
      entry.ctl,
    );
  } catch (err) {
    if (entry.abandoned) return entry.ctl.signal.reason === 'released' ? 'released' : 'lost';
    return fail(ctx, entry, err);
  }
  if (entry.abandoned) {
    // The row went back (stop) or to another drainer, but Google did change: keep the record.
    if (outcome.record) await completions.recordOnly(outcome.record);
    return entry.ctl.signal.reason === 'released' ? 'released' : 'lost';
  }
  if (await completions.done(row, outcome)) {
    deps.logger.debug('outbox: done', { id: row.id, key: row.key, kind: row.kind, action: outcome.result.action });
    return 'done';
  }
  return lostLease(ctx, row);
}

async function lostLease(ctx: RunContext, row: Claimed): Promise<Outcome> {
  ctx.deps.logger.warn('outbox: lease lost before completion; another drainer owns the row', { id: row.id, key: row.key });
  if (!ctx.isStopping()) await ctx.completions.repairAfterLostLease(row);
  return 'lost';
}

async function fail(ctx: RunContext, entry: InFlight, err: unknown): Promise<Outcome> {
  const { deps, opts, completions } = ctx;
  const { row } = entry;
  const cls = classify(err);
  const reason = describe(err);
  const log = { id: row.id, key: row.key, kind: row.kind, attempts: row.attempts, reason };
  if (cls === 'database') {
    // Not the message's fault: hand it back without burning an attempt.
    deps.logger.warn('outbox: database unavailable during a run; releasing the row', log);
    return (await completions.requeue(row, Math.max(opts.pollMs, 1000), row.attempts, undefined)) ? 'released' : lostLease(ctx, row);
  }
  if (cls === 'rate_limited') {
    // Over Google's quota: a delay, not a failure. The attempt count stays as it was, so no
    // number of rate limits ever moves a row towards dead. Retry-After when Google gave one
    // (https://developers.google.com/workspace/calendar/api/guides/errors#429_too_many_requests).
    const retryAfter = err instanceof ExternalError ? err.retryAfterMs : undefined;
    const delay = retryAfter ?? backoffDelayMs(1, opts.backoff);
    const status = err instanceof ExternalError ? String(err.status ?? '') : '';
    const reasonLabel = err instanceof ExternalError ? (err.reason ?? '') : '';
    deps.metrics.inc('leave_bridge_google_throttled_total', 'Google calls refused for the quota (429, 403 rateLimitExceeded / userRateLimitExceeded)', {
      status,
      reason: reasonLabel,
    });
    deps.logger.info('outbox: rate limited by Google, running later', { ...log, delay_ms: delay, retry_after_ms: retryAfter });
    return (await completions.requeue(row, delay, row.attempts, reason)) ? 'throttled' : lostLease(ctx, row);
  }
  if (cls === 'configuration') {
    deps.logger.warn('outbox: held until the configuration is fixed', log);
    return (await completions.final(row, 'held', reason, row.attempts)) ? 'held' : lostLease(ctx, row);
  }
  if (cls === 'permanent') {
    deps.logger.error('outbox: permanent failure, dead', log);
    return (await completions.final(row, 'dead', reason, row.attempts + 1)) ? 'dead' : lostLease(ctx, row);
  }
  const attempts = row.attempts + 1;
  if (attempts >= opts.maxAttempts) {
    deps.logger.error('outbox: out of attempts, dead', { ...log, attempts });
    return (await completions.final(row, 'dead', `${reason} (after ${attempts} attempts)`, attempts)) ? 'dead' : lostLease(ctx, row);
  }
  const delay = backoffDelayMs(attempts, opts.backoff);
  deps.logger.info('outbox: transient failure, retrying later', { ...log, attempts, delay_ms: delay });
  return (await completions.requeue(row, delay, attempts, reason)) ? 'retry' : lostLease(ctx, row);
}
