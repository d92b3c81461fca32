import { isConnectionError } from '../db/connection-errors.js';
import { createAimd } from './aimd.js';
import { claimDue, type Claimed } from './claim.js';
import { createCompletions } from './complete.js';
import { createHeartbeat } from './lease.js';
import { emptySummary, resolveDrainerOptions, type DrainerOptions, type DrainSummary, type Outcome } from './options.js';
import { registerOutboxMetrics, releaseHeld } from './queries.js';
import { runClaimed, unref, type DrainerDeps, type InFlight, type RunContext } from './run.js';

export { drainerOptions, type DrainerOptions, type DrainSummary } from './options.js';
export type { DrainerDeps } from './run.js';

/*
 * The outbox drainer. Shared by the Node loop (start/stop/wake) and the Workers entry
 * (drainOnce inside ctx.waitUntil), so nothing here may use Node-only APIs: plain setTimeout,
 * AbortController and globalThis.crypto only.
 *
 * Row life: pending --claim--> running (leased) --> done | dead | held | pending (backoff).
 * Claiming: claim.ts; running one row and its failure classes: run.ts; completions: complete.ts;
 * lease heartbeat: lease.ts. This file keeps the loop.
 */

export interface Drainer {
  readonly workerId: string;
  start(): void;
  stop(): Promise<void>;
  /**
   * Something is due now. With keys (the leaves a transaction just gave outbox rows), those rows
   * are claimed first and run before rows claimed earlier are started, so a fresh approval does
   * not wait behind a backlog.
   */
  wake(keys?: string[]): void;
  drainOnce(opts?: { keys?: string[]; budgetMs?: number }): Promise<DrainSummary>;
  /** rows this process is running now */
  inFlight(): number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const INITIAL_CONCURRENCY = 8;

/** The calendar a claimed row's call will most likely act on (its block's, else its employee's). */
function calendarOf(row: Claimed): string | null {
  const s = row.state;
  if (!s) return null;
  return s.block?.calendarId ?? s.stored.emailOverride ?? s.stored.email;
}

export function createDrainer(deps: DrainerDeps, options: DrainerOptions): Drainer {
  const opts = resolveDrainerOptions(options);
  const { workerId } = opts;
  const inFlight = new Map<number, InFlight>();
  /**
   * Loop mode keeps up to `lookahead` claimed rows waiting beside the runs in flight: a finished
   * run starts the next at once, and one claim (the heaviest statement of a message's life) serves
   * several messages instead of one. Waiting rows are leased like running ones, kept by the same
   * heartbeat, and given back at stop(). If the process dies, their leases expire and count as an
   * attempt, like a run's.
   */
  const lookahead = Math.min(opts.batchSize, Math.max(1, opts.concurrency));
  /**
   * How many rows run at once: adapted to what Google takes (aimd.ts), OUTBOX_CONCURRENCY at most.
   * It starts where a fixed concurrency of 8 did and grows from there while calls succeed.
   */
  const concurrency = createAimd(Math.max(1, opts.concurrency), {
    start: INITIAL_CONCURRENCY,
    onChange: (n) => setConcurrencyGauge(n),
  });
  const setConcurrencyGauge = (n: number) =>
    deps.metrics.set('leave_bridge_outbox_concurrency', 'Rows the drainer lets run at once now (adaptive, OUTBOX_CONCURRENCY at most)', { worker: workerId }, n);
  setConcurrencyGauge(concurrency.limit());
  const waiting: Claimed[] = [];
  const runs = new Set<Promise<unknown>>();
  /** keys a wake-up named that no claim has looked at yet */
  const wokenKeys = new Set<string>();
  let batchSeq = 0;

  // loop state (start/stop/wake)
  let running = false;
  let stopping = false;
  let pumping: Promise<void> | null = null;
  let pumpAgain = false;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let wakeTimer: ReturnType<typeof setTimeout> | null = null;
  let heldReleased = !opts.releaseHeldOnStart;
  let pausedUntil = 0;
  let databaseFailures = 0;

  registerOutboxMetrics(deps);

  const completions = createCompletions(deps, { leaseMs: opts.leaseSeconds * 1000, isStopping: () => stopping });
  const heartbeat = createHeartbeat(deps, opts, { inFlight, waiting });
  const ctx: RunContext = { deps, opts, completions, isStopping: () => stopping };

  const count = (kind: string, outcome: Outcome) =>
    deps.metrics.inc('leave_bridge_outbox_handled_total', 'Outbox messages handled, by kind and outcome', { kind, outcome });

  const claim = async (limit: number, keys?: string[]) => {
    const rows = await claimDue(deps, { token: `${workerId}#${++batchSeq}`, limit, leaseSeconds: opts.leaseSeconds, ...(keys ? { keys } : {}) });
    // their Google calls are next: take the quota tokens of the whole claim in one statement
    if (deps.pacer && rows.length > 0) deps.pacer.expect(rows.flatMap((r) => calendarOf(r) ?? []));
    return rows;
  };

  async function runOne(row: Claimed, summary: DrainSummary): Promise<Outcome> {
    const entry: InFlight = { row, ctl: new AbortController(), abandoned: false };
    inFlight.set(row.id, entry);
    heartbeat.ensure();
    let outcome: Outcome;
    const full = inFlight.size >= concurrency.limit();
    try {
      outcome = await runClaimed(ctx, entry);
    } catch (err) {
      // only the completion writes can land here (database gone for longer than the lease)
      deps.logger.warn('outbox: could not record a result; the lease will expire and the row runs again', { id: row.id, err });
      outcome = 'lost';
    } finally {
      inFlight.delete(row.id);
      if (inFlight.size === 0) heartbeat.stop();
    }
    summary[outcome === 'retry' ? 'retried' : outcome]++;
    if (outcome === 'throttled') concurrency.limited();
    else if (outcome === 'done') concurrency.succeeded(full);
    // a run released by stop() was counted there (it may never come back)
    if (!entry.abandoned || outcome !== 'released') count(row.kind, outcome);
    return outcome;
  }

  /** Start waiting rows while slots are free; each finished run wakes the loop again. */
  function launchWaiting(summary: DrainSummary): void {
    while (waiting.length > 0 && inFlight.size < concurrency.limit() && running && !stopping) {
      const row = waiting.shift()!;
      const run = runOne(row, summary).finally(() => {
        runs.delete(run);
        if (running && !stopping) wake();
      });
      runs.add(run);
    }
  }

  /**
   * Loop mode: start what is waiting; claim the rows of keys a wake-up named and put them first
   * in line; once no more than half the lookahead is left waiting, claim enough to fill the free
   * slots and the lookahead (at most batchSize); launch without waiting, come back when woken.
   */
  async function pumpOnce(): Promise<void> {
    const summary = emptySummary();
    do {
      pumpAgain = false;
      if (!running || stopping) return;
      launchWaiting(summary);
      if (Date.now() < pausedUntil) return;
      try {
        if (!heldReleased) {
          const r = await releaseHeld(deps.db);
          heldReleased = true;
          if (r.count > 0) deps.logger.info('outbox: released held messages at start', { count: r.count });
        }
        if (wokenKeys.size > 0) {
          const keys = [...wokenKeys];
          wokenKeys.clear();
          const first = await claim(Math.min(opts.batchSize, keys.length), keys);
          summary.claimed += first.length;
          // ahead of rows claimed earlier: these are what someone is waiting for now
          waiting.unshift(...first);
          launchWaiting(summary);
        }
        if (waiting.length > lookahead / 2) return;
        const limit = Math.min(opts.batchSize, concurrency.limit() - inFlight.size + lookahead - waiting.length);
        if (limit <= 0) return;
        const claimed = await claim(limit);
        if (databaseFailures > 0) deps.logger.info('outbox: database reachable again', { failures: databaseFailures });
        databaseFailures = 0;
        summary.claimed += claimed.length;
        // stop() waits for this pump and then gives back whatever is still waiting
        waiting.push(...claimed);
        launchWaiting(summary);
        if (claimed.length === limit || wokenKeys.size > 0) pumpAgain = true;
      } catch (err) {
        if (isConnectionError(err)) {
          databaseFailures++;
          const pause = Math.min(opts.maxDatabasePauseMs, opts.pollMs * 2 ** Math.min(databaseFailures, 10));
          pausedUntil = Date.now() + pause;
          if (databaseFailures === 1 || databaseFailures % 10 === 0) {
            deps.logger.warn('outbox: database unavailable; pausing', { pause_ms: pause, failures: databaseFailures, err });
          }
          deps.metrics.inc('leave_bridge_outbox_database_unavailable_total', 'Drainer rounds skipped because the database was unreachable');
          scheduleWake(pause);
        } else {
          deps.logger.error('outbox: claim failed', { err });
        }
        return;
      }
    } while (pumpAgain);
  }

  function pump(): void {
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = pumpOnce().finally(() => {
      pumping = null;
      if (pumpAgain && running && !stopping) pump();
    });
  }

  function scheduleWake(ms: number): void {
    if (wakeTimer) clearTimeout(wakeTimer);
    wakeTimer = setTimeout(() => {
      wakeTimer = null;
      pump();
    }, ms);
    unref(wakeTimer);
  }

  function wake(keys?: string[]): void {
    if (!running || stopping) return;
    // Remembered even during a database pause: the next claim after it takes them first.
    for (const k of keys ?? []) wokenKeys.add(k);
    // a wake-up must not cut a database pause short: that is what keeps a down database quiet
    if (Date.now() < pausedUntil) return;
    pump();
  }

  function start(): void {
    if (running) return;
    running = true;
    stopping = false;
    pollTimer = setInterval(() => {
      if (Date.now() >= pausedUntil) pump();
    }, opts.pollMs);
    unref(pollTimer);
    pump();
  }

  async function giveBack(row: Claimed): Promise<void> {
    try {
      await completions.giveBack(row);
      count(row.kind, 'released');
    } catch (err) {
      deps.logger.warn('outbox: could not release a lease at stop; it will expire', { id: row.id, err });
    }
  }

  async function stop(): Promise<void> {
    if (!running || stopping) return;
    stopping = true;
    if (pollTimer) clearInterval(pollTimer);
    if (wakeTimer) clearTimeout(wakeTimer);
    pollTimer = null;
    wakeTimer = null;
    if (pumping) await pumping.catch(() => {});
    // rows claimed ahead and never started go back at once, attempts untouched
    for (const row of waiting.splice(0)) await giveBack(row);
    const settled = Promise.allSettled([...runs]);
    let timedOut = false;
    await Promise.race([
      settled,
      sleep(opts.stopTimeoutMs).then(() => {
        timedOut = true;
      }),
    ]);
    if (timedOut) {
      // Give unfinished rows back at once (attempts untouched) so another process need not wait
      // for the lease to expire. Their late results are fenced out.
      const left = [...inFlight.values()].filter((e) => !e.abandoned);
      for (const e of left) {
        e.abandoned = true;
        e.ctl.abort('released');
        await giveBack(e.row);
      }
      deps.logger.info('outbox: stopped with runs unfinished; their rows were released', { count: left.length });
    }
    heartbeat.stop();
    await deps.pacer?.release();
    running = false;
    stopping = false;
  }

  /**
   * Drain what is due now and return (Workers: inside ctx.waitUntil; tests; the CLI). With
   * `keys`, only those leaves' rows — still in per-key order, so a delete waits for its upsert.
   * `budgetMs` stops claiming new rows after that long (runs in flight finish).
   */
  async function drainOnce(o: { keys?: string[]; budgetMs?: number } = {}): Promise<DrainSummary> {
    const summary = emptySummary();
    const deadline = o.budgetMs === undefined ? Infinity : Date.now() + o.budgetMs;
    for (;;) {
      if (Date.now() >= deadline) {
        summary.budgetExhausted = true;
        break;
      }
      let claimed: Claimed[];
      try {
        // an explicit drain (the Worker, tests) runs even where the loop is off (OUTBOX_CONCURRENCY=0)
        claimed = await claim(Math.min(opts.batchSize, concurrency.limit()), o.keys);
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        summary.databaseUnavailable = true;
        break;
      }
      if (claimed.length === 0) break;
      summary.claimed += claimed.length;
      await Promise.all(claimed.map((row) => runOne(row, summary)));
    }
    await deps.pacer?.release();
    return summary;
  }

  return { workerId, start, stop, wake, drainOnce, inFlight: () => inFlight.size };
}
