import { and, eq, sql } from 'drizzle-orm';
import pRetry from 'p-retry';
import type { Config } from '../config.js';
import { queryRows } from '../db/client.js';
import { createGroupCommit } from '../db/group-commit.js';
import { outbox } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { isConnectionError } from '../errors.js';
import { ExternalError, type FailureClass } from '../ports.js';
import { backoffDelayMs, DEFAULT_BACKOFF, DEFAULT_QUICK_RETRY, type BackoffPolicy, type QuickRetryPolicy } from './backoff.js';
import { enqueue } from './enqueue.js';
import {
  handleMessage,
  readSyncStates,
  recordsCtes,
  type BlockRecord,
  type HandlerDeps,
  type HandlerOutcome,
  type OutboxMessage,
  type SyncState,
} from './handlers.js';
import { lockKey, registerOutboxMetrics, releaseHeld, requeue } from './queries.js';

/*
 * The outbox drainer. Shared by the Node loop (start/stop/wake) and the Workers entry
 * (drainOnce inside ctx.waitUntil), so nothing here may use Node-only APIs: plain setTimeout,
 * AbortController and globalThis.crypto only.
 *
 * Row life: pending --claim--> running (leased) --> done | dead | held | pending (backoff).
 * Time comparisons use the DATABASE clock (now()), never the process clock: several drainers on
 * several machines must agree on when a lease has expired.
 */

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

export interface DrainSummary {
  claimed: number;
  done: number;
  retried: number;
  dead: number;
  held: number;
  /** fenced out: another drainer holds the row now */
  lost: number;
  released: number;
  databaseUnavailable: boolean;
  budgetExhausted: boolean;
}

export interface Drainer {
  readonly workerId: string;
  start(): void;
  stop(): Promise<void>;
  wake(keys?: string[]): void;
  drainOnce(opts?: { keys?: string[]; budgetMs?: number }): Promise<DrainSummary>;
  /** rows this process is running now */
  inFlight(): number;
}

export type DrainerDeps = HandlerDeps & Pick<Deps, 'metrics' | 'onOutboxWritten'>;

interface Claimed extends OutboxMessage {
  token: string;
  takeover: boolean;
  /** the leave's state, read for the whole claim in one query (absent: the run reads it) */
  state?: SyncState;
}

interface Completion {
  row: Claimed;
  outcome: HandlerOutcome;
}

interface InFlight {
  row: Claimed;
  ctl: AbortController;
  /** the lease was given back (stop) or taken by another drainer: never finish this run */
  abandoned: boolean;
}

type Outcome = 'done' | 'retry' | 'dead' | 'held' | 'lost' | 'released';

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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function unref(t: unknown): void {
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

export function createDrainer(deps: DrainerDeps, options: DrainerOptions): Drainer {
  const opts = {
    backoff: DEFAULT_BACKOFF,
    quickRetry: DEFAULT_QUICK_RETRY,
    runTimeoutMs: 60_000,
    // a run still going after half a lease is better handed to another process at once
    stopTimeoutMs: Math.min(10_000, (options.leaseSeconds * 1000) / 2),
    releaseHeldOnStart: true,
    maxDatabasePauseMs: 30_000,
    ...options,
  };
  const workerId = opts.workerId ?? `drainer-${globalThis.crypto.randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseSeconds * 1000;
  const inFlight = new Map<number, InFlight>();
  /**
   * Loop mode keeps up to `lookahead` claimed rows waiting beside the runs in flight: a finished
   * run starts the next at once, and one claim (the heaviest statement of a message's life) serves
   * several messages instead of one. Waiting rows are leased like running ones, kept by the same
   * heartbeat, and given back at stop(). If the process dies, their leases expire and count as an
   * attempt, like a run's.
   */
  const lookahead = Math.min(opts.batchSize, Math.max(1, opts.concurrency));
  const waiting: Claimed[] = [];
  const runs = new Set<Promise<unknown>>();
  let batchSeq = 0;

  // loop state (start/stop/wake)
  let running = false;
  let stopping = false;
  let pumping: Promise<void> | null = null;
  let pumpAgain = false;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let wakeTimer: ReturnType<typeof setTimeout> | null = null;
  let heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  let heldReleased = !opts.releaseHeldOnStart;
  let pausedUntil = 0;
  let databaseFailures = 0;

  registerOutboxMetrics(deps);

  const count = (kind: string, outcome: Outcome) =>
    deps.metrics.inc('leave_bridge_outbox_handled_total', 'Outbox messages handled, by kind and outcome', { kind, outcome });

  /**
   * Claim up to `limit` due rows. A row is due when pending with run_after passed, or running
   * with an expired lease (its drainer died or stalled: anyone may take it over). Per-key order:
   * a row waits while an EARLIER row of its key is pending, running or held (and while any row of
   * its key holds a live lease), so in one claim at most one row per key is taken and a delete
   * never overtakes the upsert before it. Dead rows do not block: the later row reads the leave's
   * current state anyway. SKIP LOCKED lets
   * several drainers claim side by side without waiting on each other's candidates.
   */
  async function claim(limit: number, keys?: string[]): Promise<Claimed[]> {
    if (limit <= 0 || (keys && keys.length === 0)) return [];
    const token = `${workerId}#${++batchSeq}`;
    // Per-key order: nothing earlier of the key still to do, and never two live runs for one key
    // (an operator retry can put an EARLIER row back while a later one runs).
    const orderGuard = sql`not exists (
      select 1 from outbox e
      where e.key = o.key and e.id <> o.id
        and ((e.id < o.id and e.status in ('pending', 'running', 'held'))
             or (e.status = 'running' and e.lease_until >= now()))
    )`;
    const rows = await queryRows<{ id: string | number; key: string; kind: string; payload: unknown; attempts: number; prev_status: string; prev_leased_by: string | null }>(
      deps.db,
      sql`
        with pend as (
          select o.id, o.status as prev_status, o.leased_by as prev_leased_by
          from outbox o
          where o.status = 'pending' and o.run_after <= now()
            ${keys ? sql`and o.key in ${keys}` : sql``}
            and ${orderGuard}
          order by o.run_after, o.id
          limit ${limit}
          for update of o skip locked
        ),
        expired as (
          select o.id, o.status as prev_status, o.leased_by as prev_leased_by
          from outbox o
          where o.status = 'running' and o.lease_until < now()
            ${keys ? sql`and o.key in ${keys}` : sql``}
            and ${orderGuard}
          order by o.run_after, o.id
          limit ${limit}
          for update of o skip locked
        ),
        -- Two branches rather than one OR: each can walk its own index (the partial
        -- outbox_due_idx for pending rows), where the OR scanned and sorted the whole table.
        due as (
          select * from expired
          union all
          select * from pend
          limit ${limit}
        )
        update outbox m
        set status = 'running',
            leased_by = ${token},
            lease_until = now() + ${opts.leaseSeconds}::float8 * interval '1 second',
            -- a takeover means the previous run never finished: it counts as an attempt, so a
            -- message that kills its drainer every time still ends dead instead of looping
            attempts = case when due.prev_status = 'running' then m.attempts + 1 else m.attempts end,
            last_error = case when due.prev_status = 'running'
                              then 'lease of ' || coalesce(due.prev_leased_by, '?') || ' expired; taken over'
                              else m.last_error end,
            updated_at = now()
        from due
        where m.id = due.id
        returning m.id, m.key, m.kind, m.payload, m.attempts, due.prev_status, due.prev_leased_by`,
    );
    const claimed: Claimed[] = rows.map((r) => ({
      id: Number(r.id),
      key: r.key,
      kind: r.kind,
      payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as unknown) : r.payload,
      attempts: Number(r.attempts),
      token,
      takeover: r.prev_status === 'running',
    }));
    // The rows are leased now, so no later row of their keys runs before them: read their leaves
    // for all of them at once (one query per claim instead of one per message).
    if (claimed.length > 0) {
      try {
        const states = await readSyncStates(deps.db, [...new Set(claimed.map((c) => c.key))]);
        for (const c of claimed) {
          const state = states.get(c.key);
          if (state) c.state = state;
        }
      } catch (err) {
        // each run reads its own state instead (and meets the same database)
        deps.logger.debug('outbox: could not read the claimed leaves; each run reads its own', { err });
      }
    }
    return claimed;
  }

  /** A completion write that the database refused is retried for a while: the work is done. */
  async function persist<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await fn();
      } catch (err) {
        // past the lease, someone else may own the row; the fenced write would fail anyway
        if (!isConnectionError(err) || Date.now() - started + delay > leaseMs || stopping) throw err;
        await sleep(delay);
      }
    }
  }

  const fence = (row: Claimed) => and(eq(outbox.id, row.id), eq(outbox.status, 'running'), eq(outbox.leasedBy, row.token));

  async function recordOnly(record: BlockRecord): Promise<void> {
    try {
      await deps.db.execute(sql`with ${recordsCtes([record])!} select 1`);
    } catch (err) {
      // the next run of the leave reads Google again (deterministic event ids) and records it then
      deps.logger.warn('outbox: could not record a calendar block of an abandoned run', { key: record.instanceCode, err });
    }
  }

  /**
   * Done, fenced, with what each run learned about Google recorded in the same statement (the
   * record is written even where the fence keeps the row: it describes Google, not the row).
   * One completion or several; false where fenced out.
   */
  async function writeDone(items: Completion[]): Promise<boolean[]> {
    const done = items.map(({ row, outcome }) => ({ id: row.id, token: row.token, result: outcome.result }));
    const records = items.flatMap(({ outcome }) => (outcome.record ? [outcome.record] : []));
    const ctes = recordsCtes(records);
    const rows = await queryRows<{ id: string | number }>(
      deps.db,
      sql`${ctes ? sql`with ${ctes}` : sql``}
          update outbox o set status = 'done', result = d.result, lease_until = null, done_at = now(), updated_at = now()
          from jsonb_to_recordset(${JSON.stringify(done)}::jsonb) as d(id bigint, token text, result jsonb)
          where o.id = d.id and o.id in ${done.map((d) => d.id)} and o.status = 'running' and o.leased_by = d.token
          returning o.id`,
    );
    const kept = new Set(rows.map((r) => Number(r.id)));
    return items.map(({ row }) => kept.has(row.id));
  }

  /**
   * Completions go through a group commit (src/db/group-commit.ts): while two completion
   * statements run, runs that finish queue and are written together in the next, one round trip
   * and one commit for several messages. A batch that fails is written one by one (with the
   * retries of persist()); if it had committed after all (the connection dropped on the way
   * back), the fenced retries find their rows done, count them lost and queue a repair sync,
   * which only reads Google again.
   */
  const completions = createGroupCommit<Completion, boolean>({
    maxInFlight: 2,
    maxBatch: 32,
    runOne: async (c) => (await persist(() => writeDone([c])))[0]!,
    runBatch: writeDone,
    onBatchFailed: (err, size) => deps.logger.warn('outbox: a batch of completions failed; writing them one by one', { size, err }),
  });

  async function finishDone(row: Claimed, outcome: HandlerOutcome): Promise<boolean> {
    const committed = await completions.submit({ row, outcome });
    if (committed.batchSize > 1) {
      deps.metrics.inc('leave_bridge_outbox_completions_batched_total', 'Outbox completions written together with others (group commit)');
    }
    return committed.value;
  }

  async function finishFinal(row: Claimed, status: 'dead' | 'held', reason: string, attempts: number): Promise<boolean> {
    const r = await persist(() =>
      deps.db
        .update(outbox)
        .set({
          status,
          lastError: reason,
          attempts,
          leaseUntil: null,
          updatedAt: sql`now()`,
          ...(status === 'dead' ? { doneAt: sql`now()` } : {}),
        })
        .where(fence(row))
        .returning({ id: outbox.id }),
    );
    return r.length > 0;
  }

  /** Back to pending (backoff, release); under the key lock because pending is unique per key+kind. */
  async function finishRequeue(row: Claimed, delayMs: number, attempts: number, lastError: string | undefined): Promise<boolean> {
    return persist(() =>
      deps.db.transaction(async (tx) => {
        await lockKey(tx, row.key);
        const [mine] = await tx.select({ id: outbox.id }).from(outbox).where(fence(row)).for('update').limit(1);
        if (!mine) return false;
        await requeue(tx, row, { delayMs, attempts, ...(lastError !== undefined ? { lastError } : {}) });
        return true;
      }),
    );
  }

  /**
   * We finished a run whose lease another drainer had taken over. Our Google calls may have
   * landed after theirs (a stale upsert after a revert's delete), so queue one more sync of the
   * leave: it runs after the current holder (per-key order) and reads the current state.
   */
  async function repairAfterLostLease(row: Claimed): Promise<void> {
    try {
      await deps.db.transaction(async (tx) => {
        await lockKey(tx, row.key);
        await enqueue(tx, row.key, 'calendar.upsert', { repair: `lease of message ${row.id} lost` });
      });
      deps.onOutboxWritten?.([row.key]);
    } catch (err) {
      deps.logger.warn('outbox: could not queue a repair after a lost lease', { id: row.id, key: row.key, err });
    }
  }

  async function runOne(row: Claimed, summary: DrainSummary): Promise<Outcome> {
    const entry: InFlight = { row, ctl: new AbortController(), abandoned: false };
    inFlight.set(row.id, entry);
    ensureHeartbeat();
    const msg: OutboxMessage = { id: row.id, key: row.key, kind: row.kind, payload: row.payload, attempts: row.attempts };
    let outcome: Outcome;
    try {
      if (row.takeover && row.attempts >= opts.maxAttempts) {
        // Its drainers keep dying or stalling on it (a poison message): stop feeding it to them.
        const reason = `abandoned ${row.attempts} times: every lease on it expired before the run finished`;
        deps.logger.error('outbox: message keeps losing its drainer, dead', { id: row.id, key: row.key });
        outcome = (await finishFinal(row, 'dead', reason, row.attempts)) ? 'dead' : 'lost';
      } else {
        outcome = await execute(entry, msg);
      }
    } catch (err) {
      // only the completion writes can land here (database gone for longer than the lease)
      deps.logger.warn('outbox: could not record a result; the lease will expire and the row runs again', { id: row.id, err });
      outcome = 'lost';
    } finally {
      inFlight.delete(row.id);
      if (inFlight.size === 0) stopHeartbeat();
    }
    summary[outcome === 'retry' ? 'retried' : outcome]++;
    // a run released by stop() was counted there (it may never come back)
    if (!entry.abandoned || outcome !== 'released') count(row.kind, outcome);
    return outcome;
  }

  async function execute(entry: InFlight, msg: OutboxMessage): Promise<Outcome> {
    const { row, ctl } = entry;
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
          signal: ctl.signal,
          shouldRetry: ({ error }) => classify(error) === 'transient' && !ctl.signal.aborted,
        }),
        opts.runTimeoutMs,
        ctl,
      );
    } catch (err) {
      if (entry.abandoned) return entry.ctl.signal.reason === 'released' ? 'released' : 'lost';
      return fail(entry, err);
    }
    if (entry.abandoned) {
      // The row went back (stop) or to another drainer, but Google did change: keep the record.
      if (outcome.record) await recordOnly(outcome.record);
      return entry.ctl.signal.reason === 'released' ? 'released' : 'lost';
    }
    if (await finishDone(row, outcome)) {
      deps.logger.debug('outbox: done', { id: row.id, key: row.key, kind: row.kind, action: outcome.result.action });
      return 'done';
    }
    return lostLease(row);
  }

  async function lostLease(row: Claimed): Promise<Outcome> {
    deps.logger.warn('outbox: lease lost before completion; another drainer owns the row', { id: row.id, key: row.key });
    if (!stopping) await repairAfterLostLease(row);
    return 'lost';
  }

  async function fail(entry: InFlight, err: unknown): Promise<Outcome> {
    const { row } = entry;
    const cls = classify(err);
    const reason = describe(err);
    const log = { id: row.id, key: row.key, kind: row.kind, attempts: row.attempts, reason };
    if (cls === 'database') {
      // Not the message's fault: hand it back without burning an attempt.
      deps.logger.warn('outbox: database unavailable during a run; releasing the row', log);
      return (await finishRequeue(row, Math.max(opts.pollMs, 1000), row.attempts, undefined)) ? 'released' : lostLease(row);
    }
    if (cls === 'configuration') {
      deps.logger.warn('outbox: held until the configuration is fixed', log);
      return (await finishFinal(row, 'held', reason, row.attempts)) ? 'held' : lostLease(row);
    }
    if (cls === 'permanent') {
      deps.logger.error('outbox: permanent failure, dead', log);
      return (await finishFinal(row, 'dead', reason, row.attempts + 1)) ? 'dead' : lostLease(row);
    }
    const attempts = row.attempts + 1;
    if (attempts >= opts.maxAttempts) {
      deps.logger.error('outbox: out of attempts, dead', { ...log, attempts });
      return (await finishFinal(row, 'dead', `${reason} (after ${attempts} attempts)`, attempts)) ? 'dead' : lostLease(row);
    }
    const delay = backoffDelayMs(attempts, opts.backoff);
    deps.logger.info('outbox: transient failure, retrying later', { ...log, attempts, delay_ms: delay });
    return (await finishRequeue(row, delay, attempts, reason)) ? 'retry' : lostLease(row);
  }

  // Leases are extended while a run is in flight, so a slow but alive drainer keeps its rows
  // and only a dead or partitioned one loses them.
  function ensureHeartbeat(): void {
    if (heartbeatTimer) return;
    heartbeatTimer = setInterval(() => void heartbeat(), Math.max(250, Math.floor(leaseMs / 3)));
    unref(heartbeatTimer);
  }

  function stopHeartbeat(): void {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    heartbeatTimer = null;
  }

  async function heartbeat(): Promise<void> {
    const byToken = new Map<string, { runs: InFlight[]; waits: Claimed[] }>();
    const group = (token: string) => {
      let g = byToken.get(token);
      if (!g) byToken.set(token, (g = { runs: [], waits: [] }));
      return g;
    };
    for (const e of inFlight.values()) if (!e.abandoned) group(e.row.token).runs.push(e);
    for (const w of waiting) group(w.token).waits.push(w);
    for (const [token, { runs: entries, waits }] of byToken) {
      try {
        const ids = [...entries.map((e) => e.row.id), ...waits.map((w) => w.id)];
        const kept = await queryRows<{ id: string | number }>(
          deps.db,
          sql`update outbox set lease_until = now() + ${opts.leaseSeconds}::float8 * interval '1 second'
              where id in ${ids} and status = 'running' and leased_by = ${token} returning id`,
        );
        const keptIds = new Set(kept.map((k) => Number(k.id)));
        for (const e of entries) {
          if (!keptIds.has(e.row.id)) {
            // Taken over: stop quick retries now; the run's result will be fenced out.
            e.ctl.abort('lost');
          }
        }
        for (const w of waits) {
          if (keptIds.has(w.id)) continue;
          // taken over before it started (its lease ran out): it is the other drainer's now
          const i = waiting.indexOf(w);
          if (i >= 0) waiting.splice(i, 1);
          deps.logger.warn('outbox: lease of a waiting row lost; another drainer owns it', { id: w.id, key: w.key });
        }
      } catch (err) {
        if (!isConnectionError(err)) deps.logger.warn('outbox: lease heartbeat failed', { err });
      }
    }
  }

  function emptySummary(): DrainSummary {
    return { claimed: 0, done: 0, retried: 0, dead: 0, held: 0, lost: 0, released: 0, databaseUnavailable: false, budgetExhausted: false };
  }

  /** Start waiting rows while slots are free; each finished run wakes the loop again. */
  function launchWaiting(summary: DrainSummary): void {
    while (waiting.length > 0 && inFlight.size < opts.concurrency && running && !stopping) {
      const row = waiting.shift()!;
      const run = runOne(row, summary).finally(() => {
        runs.delete(run);
        if (running && !stopping) wake();
      });
      runs.add(run);
    }
  }

  /**
   * Loop mode: start what is waiting; once no more than half the lookahead is left waiting, claim
   * enough to fill the free slots and the lookahead (at most batchSize); launch without waiting,
   * come back when woken.
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
        if (waiting.length > lookahead / 2) return;
        const limit = Math.min(opts.batchSize, opts.concurrency - inFlight.size + lookahead - waiting.length);
        if (limit <= 0) return;
        const claimed = await claim(limit);
        if (databaseFailures > 0) deps.logger.info('outbox: database reachable again', { failures: databaseFailures });
        databaseFailures = 0;
        summary.claimed += claimed.length;
        // stop() waits for this pump and then gives back whatever is still waiting
        waiting.push(...claimed);
        launchWaiting(summary);
        if (claimed.length === limit) pumpAgain = true;
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

  function wake(): void {
    if (!running || stopping) return;
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

  /** Back to pending now, attempts untouched (stop): another process need not wait for the lease. */
  async function giveBack(row: Claimed): Promise<void> {
    try {
      await deps.db.transaction(async (tx) => {
        await lockKey(tx, row.key);
        const [mine] = await tx.select({ id: outbox.id }).from(outbox).where(fence(row)).for('update').limit(1);
        if (mine) await requeue(tx, row, { delayMs: 0 });
      });
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
    stopHeartbeat();
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
        claimed = await claim(Math.min(opts.batchSize, Math.max(1, opts.concurrency)), o.keys);
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        summary.databaseUnavailable = true;
        break;
      }
      if (claimed.length === 0) break;
      summary.claimed += claimed.length;
      await Promise.all(claimed.map((row) => runOne(row, summary)));
    }
    return summary;
  }

  return {
    workerId,
    start,
    stop,
    wake: () => wake(),
    drainOnce,
    inFlight: () => inFlight.size,
  };
}
