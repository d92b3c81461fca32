/**
 * Group commit: statements that would each commit alone are written together while the database
 * is busy. Ingest uses it for deliveries (leave_bridge_ingest_batch), the outbox for completions.
 * Nothing waits for a timer: an item that finds a free slot goes at once, alone; only while
 * `maxInFlight` statements are running do new items queue, and the next free slot takes up to
 * `maxBatch` of them into one statement: one round trip, one WAL flush and one snapshot for the
 * lot. So a quiet service pays nothing, and a busy one gets batches about as large as its
 * concurrency.
 *
 * Each item still gets its own result, only after its statement committed. If a batch fails for
 * any reason (one item the database refuses, a lost connection, a deadlock), its items are run
 * again one by one, so one bad item never fails the others and each gets its own error. Callers
 * make that safe: a batch that failed after it committed (the connection dropped on the way
 * back) must be harmless to run again item by item (ingest finds its rows as duplicates; a
 * completion's fence finds its row done and the drainer queues a harmless repair sync).
 *
 * With `overlapAfterMs`, statements do not overlap while they are quick: the next starts when the
 * running one finishes (taking everything that queued meanwhile), or once every running statement
 * has run longer than `overlapAfterMs` (a lock wait, a slow disk), up to `maxInFlight` in all.
 * Statements that overlap only compete for the same cores and flush the WAL more often, for
 * smaller batches (docs/decisions/0004-one-ingest-statement-in-flight.md); the stall allowance
 * keeps one slow statement from holding up every delivery behind it.
 *
 * Items with the same key (ingest: the leave's instance code, whose lock every delivery of it
 * takes) never run in two statements at once: an item whose key a running statement holds waits
 * for it, then goes in the next statement, with the other items of its key; items queued behind
 * it with free keys go ahead. Sent to two statements, the later one would wait for the earlier's
 * lock, holding the locks it has already taken and a slot, while every statement waiting on
 * those waited too.
 *
 * Pure scheduling: how a batch and a single item are run is handed in.
 */

export interface GroupCommitOptions<I, R> {
  /** run several items in one statement; results in the same order */
  runBatch: (items: I[]) => Promise<R[]>;
  /** run one item alone */
  runOne: (item: I) => Promise<R>;
  /** most items in one batch */
  maxBatch: number;
  /** statements (batches or single items) running at once */
  maxInFlight: number;
  /**
   * start another statement beside running ones only once all of them have run this long
   * (stalled); absent: up to maxInFlight at once
   */
  overlapAfterMs?: number;
  /** items with the same key never run in two statements at once (null: no key) */
  keyOf?: (item: I) => string | null;
  /** a batch failed and its items are being retried one by one */
  onBatchFailed?: (err: unknown, size: number) => void;
}

/** An item's result, and how it was committed. */
export interface Committed<R> {
  value: R;
  /** items in the statement that committed it (1: alone) */
  batchSize: number;
  /** its batch failed and it was run again alone */
  retriedAlone: boolean;
}

export interface GroupCommit<I, R> {
  submit(item: I): Promise<Committed<R>>;
  /** items waiting for a slot, statements running (for tests and metrics) */
  stats(): { queued: number; inFlight: number };
}

interface Waiting<I, R> {
  item: I;
  key: string | null;
  resolve: (r: Committed<R>) => void;
  reject: (err: unknown) => void;
}

export function createGroupCommit<I, R>(opts: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  let queue: Waiting<I, R>[] = [];
  let inFlight = 0;
  /** start times of the running statements that are not stalled yet (overlapAfterMs) */
  const fresh = new Set<{ startedAt: number }>();
  let stallTimer: ReturnType<typeof setTimeout> | null = null;
  /** keys of the items in running statements, with how many statements hold each */
  const running = new Map<string, number>();

  const alone = (w: Waiting<I, R>, retriedAlone: boolean) =>
    opts.runOne(w.item).then((value) => w.resolve({ value, batchSize: 1, retriedAlone }), w.reject);

  async function run(batch: Waiting<I, R>[]): Promise<void> {
    if (batch.length === 1) {
      await alone(batch[0]!, false);
      return;
    }
    let results: R[];
    try {
      results = await opts.runBatch(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} returned ${results.length} results`);
    } catch (err) {
      try {
        opts.onBatchFailed?.(err, batch.length);
      } catch {
        // a report that failed must not strand the batch's items
      }
      await Promise.all(batch.map((w) => alone(w, true)));
      return;
    }
    batch.forEach((w, i) => w.resolve({ value: results[i]!, batchSize: batch.length, retriedAlone: false }));
  }

  /** The next statement's items: the oldest whose key no running statement holds, in order. */
  function take(): Waiting<I, R>[] {
    if (running.size === 0 && queue.length <= opts.maxBatch) {
      const all = queue;
      queue = [];
      return all;
    }
    const batch: Waiting<I, R>[] = [];
    const rest: Waiting<I, R>[] = [];
    for (const w of queue) {
      if (batch.length < opts.maxBatch && (w.key === null || !running.has(w.key))) batch.push(w);
      else rest.push(w);
    }
    queue = rest;
    return batch;
  }

  function hold(batch: Waiting<I, R>[], delta: 1 | -1): void {
    for (const { key } of batch) {
      if (key === null) continue;
      const n = (running.get(key) ?? 0) + delta;
      if (n > 0) running.set(key, n);
      else running.delete(key);
    }
  }

  /** May another statement start now? Never past maxInFlight; with overlapAfterMs, only beside stalled ones. */
  function slotFree(): boolean {
    if (inFlight >= opts.maxInFlight) return false;
    if (opts.overlapAfterMs === undefined || fresh.size === 0) return true;
    const now = Date.now();
    for (const s of fresh) if (now - s.startedAt >= opts.overlapAfterMs) fresh.delete(s);
    if (fresh.size === 0) return true;
    // come back when the youngest running statement counts as stalled (its finish pumps sooner)
    if (stallTimer === null) {
      const youngest = Math.max(...[...fresh].map((s) => s.startedAt));
      stallTimer = setTimeout(() => {
        stallTimer = null;
        pump();
      }, youngest + opts.overlapAfterMs - now);
      (stallTimer as { unref?: () => void }).unref?.();
    }
    return false;
  }

  function pump(): void {
    while (queue.length > 0 && slotFree()) {
      const batch = take();
      if (batch.length === 0) return; // every queued key is held: the holders' completions pump
      hold(batch, 1);
      inFlight++;
      const started = { startedAt: Date.now() };
      fresh.add(started);
      void run(batch).finally(() => {
        inFlight--;
        fresh.delete(started);
        hold(batch, -1);
        // pump() sets it again from the statements still running, if it must wait
        if (stallTimer !== null) clearTimeout(stallTimer);
        stallTimer = null;
        pump();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<Committed<R>>((resolve, reject) => {
        queue.push({ item, key: opts.keyOf?.(item) ?? null, resolve, reject });
        pump();
      });
    },
    stats: () => ({ queued: queue.length, inFlight }),
  };
}
