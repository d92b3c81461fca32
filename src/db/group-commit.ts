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
  resolve: (r: Committed<R>) => void;
  reject: (err: unknown) => void;
}

export function createGroupCommit<I, R>(opts: GroupCommitOptions<I, R>): GroupCommit<I, R> {
  const queue: Waiting<I, R>[] = [];
  let inFlight = 0;

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

  function pump(): void {
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, opts.maxBatch);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  }

  return {
    submit(item) {
      return new Promise<Committed<R>>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        pump();
      });
    },
    stats: () => ({ queued: queue.length, inFlight }),
  };
}
