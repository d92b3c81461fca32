import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createGroupCommit } from '../../src/db/group-commit.js';

/** A statement we finish by hand. */
interface Pending {
  items: number[];
  finish: (results?: string[]) => void;
  fail: (err: Error) => void;
}

function harness(
  opts: {
    maxBatch?: number;
    maxInFlight?: number;
    overlapAfterMs?: number;
    refuseAlone?: (n: number) => boolean;
    keyOf?: (n: number) => string | null;
  } = {},
) {
  const batches: Pending[] = [];
  const singles: Pending[] = [];
  const failures: Array<{ err: unknown; size: number }> = [];
  const gc = createGroupCommit<number, string>({
    maxBatch: opts.maxBatch ?? 3,
    maxInFlight: opts.maxInFlight ?? 1,
    runBatch: (items) =>
      new Promise<string[]>((resolve, reject) => {
        batches.push({ items, finish: (r) => resolve(r ?? items.map((i) => `b${i}`)), fail: reject });
      }),
    runOne: (item) =>
      opts.refuseAlone?.(item)
        ? Promise.reject(new Error(`refused ${item}`))
        : new Promise<string>((resolve, reject) => {
            singles.push({ items: [item], finish: () => resolve(`s${item}`), fail: reject });
          }),
    onBatchFailed: (err, size) => failures.push({ err, size }),
    ...(opts.keyOf ? { keyOf: opts.keyOf } : {}),
    ...(opts.overlapAfterMs !== undefined ? { overlapAfterMs: opts.overlapAfterMs } : {}),
  });
  return { gc, batches, singles, failures };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('group commit', () => {
  it('a delivery that finds a free slot goes at once, alone', async () => {
    const h = harness({ maxInFlight: 2 });
    const a = h.gc.submit(1);
    const b = h.gc.submit(2);
    expect(h.singles.map((s) => s.items)).toEqual([[1], [2]]);
    expect(h.batches).toHaveLength(0);
    h.singles[0]!.finish();
    h.singles[1]!.finish();
    expect(await a).toEqual({ value: 's1', batchSize: 1, retriedAlone: false });
    expect(await b).toEqual({ value: 's2', batchSize: 1, retriedAlone: false });
  });

  it('while the slots are busy, deliveries queue and go in batches of at most maxBatch, each with its own result', async () => {
    const h = harness({ maxBatch: 3, maxInFlight: 1 });
    const first = h.gc.submit(0);
    const rest = [1, 2, 3, 4, 5].map((i) => h.gc.submit(i));
    expect(h.gc.stats()).toEqual({ queued: 5, inFlight: 1 });
    h.singles[0]!.finish();
    await first;
    await tick();
    expect(h.batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
    h.batches[0]!.finish();
    await tick();
    expect(h.batches.map((b) => b.items)).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    h.batches[1]!.finish();
    expect(await Promise.all(rest)).toEqual([1, 2, 3, 4, 5].map((i) => ({ value: `b${i}`, batchSize: i <= 3 ? 3 : 2, retriedAlone: false })));
    expect(h.gc.stats()).toEqual({ queued: 0, inFlight: 0 });
  });

  it('a failed batch is run again one by one: the delivery the database refuses fails alone', async () => {
    const h = harness({ maxBatch: 4, maxInFlight: 1, refuseAlone: (n) => n === 2 });
    const first = h.gc.submit(0);
    const rest = [1, 2, 3].map((i) => h.gc.submit(i).then((v) => v, (err: Error) => err.message));
    h.singles[0]!.finish();
    await first;
    await tick();
    h.batches[0]!.fail(new Error('22007 invalid input syntax'));
    await tick();
    expect(h.failures.map((f) => f.size)).toEqual([3]);
    // 1 and 3 run alone now (2 was refused at once)
    expect(h.singles.slice(1).map((s) => s.items)).toEqual([[1], [3]]);
    for (const s of h.singles.slice(1)) s.finish();
    expect(await Promise.all(rest)).toEqual([
      { value: 's1', batchSize: 1, retriedAlone: true },
      'refused 2',
      { value: 's3', batchSize: 1, retriedAlone: true },
    ]);
  });

  it('a batch that answers with the wrong number of results counts as failed', async () => {
    const h = harness({ maxBatch: 4, maxInFlight: 1 });
    const first = h.gc.submit(0);
    const rest = [1, 2].map((i) => h.gc.submit(i));
    h.singles[0]!.finish();
    await first;
    await tick();
    h.batches[0]!.finish(['only one']);
    await tick();
    expect(h.failures[0]!.err).toBeInstanceOf(Error);
    for (const s of h.singles.slice(1)) s.finish();
    expect((await Promise.all(rest)).map((r) => r.value)).toEqual(['s1', 's2']);
  });

  describe('keys (ingest: the leave an event belongs to)', () => {
    // items 10-19 belong to leave "A", 20-29 to "B", others to none
    const keyOf = (n: number) => (n >= 10 && n < 30 ? (n < 20 ? 'A' : 'B') : null);

    it('an item whose key a running statement holds waits, the free ones behind it go ahead', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 2, keyOf });
      const a1 = h.gc.submit(10); // runs alone, holds A
      const a2 = h.gc.submit(11); // second slot is free, but A is held: waits
      const b1 = h.gc.submit(20); // goes ahead, alone
      expect(h.singles.map((s) => s.items)).toEqual([[10], [20]]);
      expect(h.gc.stats()).toEqual({ queued: 1, inFlight: 2 });
      h.singles[1]!.finish(); // B done: a slot is free, A still held
      await b1;
      await tick();
      expect(h.singles).toHaveLength(2);
      expect(h.batches).toHaveLength(0);
      const others = [1, 12, 2].map((i) => h.gc.submit(i)); // 1 and 2 go, 12 waits with 11
      expect(h.batches.map((b) => b.items)).toEqual([]);
      expect(h.singles.map((s) => s.items)).toEqual([[10], [20], [1]]);
      h.singles[0]!.finish(); // A free: 11 and 12 go together, 2 with them
      await a1;
      await tick();
      expect(h.batches.map((b) => b.items)).toEqual([[11, 12, 2]]);
      h.singles[2]!.finish();
      h.batches[0]!.finish();
      expect((await a2).value).toBe('b11');
      expect((await Promise.all(others)).map((r) => r.value)).toEqual(['s1', 'b12', 'b2']);
      expect(h.gc.stats()).toEqual({ queued: 0, inFlight: 0 });
    });

    it('items of one key queued together go in one statement, in their order', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 1, keyOf });
      const first = h.gc.submit(0);
      const rest = [10, 20, 11, 21, 12].map((i) => h.gc.submit(i));
      h.singles[0]!.finish();
      await first;
      await tick();
      expect(h.batches.map((b) => b.items)).toEqual([[10, 20, 11, 21, 12]]);
      h.batches[0]!.finish();
      await Promise.all(rest);
    });

    it('a key stays held while its failed batch is retried item by item', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 2, keyOf });
      const first = [h.gc.submit(0), h.gc.submit(1)];
      const batch = [10, 11].map((i) => h.gc.submit(i));
      h.singles[0]!.finish();
      await first[0];
      await tick();
      expect(h.batches.map((b) => b.items)).toEqual([[10, 11]]);
      h.batches[0]!.fail(new Error('deadlock detected'));
      await tick();
      expect(h.singles.slice(2).map((s) => s.items)).toEqual([[10], [11]]);
      const late = h.gc.submit(12); // A is still held by the retries
      h.singles[1]!.finish();
      await first[1];
      await tick();
      expect(h.singles).toHaveLength(4);
      h.singles[2]!.finish();
      h.singles[3]!.finish();
      await Promise.all(batch);
      await tick();
      expect(h.singles.map((s) => s.items).at(-1)).toEqual([12]);
      h.singles.at(-1)!.finish();
      expect(await late).toEqual({ value: 's12', batchSize: 1, retriedAlone: false });
    });
  });

  describe('overlapAfterMs (ingest: statements one at a time unless one stalls)', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('while a statement runs quickly, the next waits for it and takes everything queued', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 4, overlapAfterMs: 50 });
      const first = h.gc.submit(0);
      const rest = [1, 2, 3].map((i) => h.gc.submit(i));
      // three slots are free, but the running statement is young
      expect(h.singles.map((s) => s.items)).toEqual([[0]]);
      expect(h.gc.stats()).toEqual({ queued: 3, inFlight: 1 });
      await vi.advanceTimersByTimeAsync(49);
      expect(h.gc.stats()).toEqual({ queued: 3, inFlight: 1 });
      h.singles[0]!.finish();
      await first;
      await vi.advanceTimersByTimeAsync(0);
      expect(h.batches.map((b) => b.items)).toEqual([[1, 2, 3]]);
      h.batches[0]!.finish();
      expect((await Promise.all(rest)).map((r) => r.batchSize)).toEqual([3, 3, 3]);
      // the timer set for the first statement must not fire into an idle group
      await vi.advanceTimersByTimeAsync(100);
      expect(h.singles).toHaveLength(1);
      expect(h.batches).toHaveLength(1);
    });

    it('a statement that runs past overlapAfterMs lets the next start beside it, up to maxInFlight', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 2, overlapAfterMs: 50 });
      const stuck = h.gc.submit(0);
      const queued = [1, 2].map((i) => h.gc.submit(i));
      await vi.advanceTimersByTimeAsync(50);
      // 0 has stalled: 1 and 2 go beside it
      expect(h.batches.map((b) => b.items)).toEqual([[1, 2]]);
      const more = [3, 4].map((i) => h.gc.submit(i));
      // both slots are taken now (maxInFlight 2), however long they run
      await vi.advanceTimersByTimeAsync(200);
      expect(h.batches).toHaveLength(1);
      expect(h.gc.stats()).toEqual({ queued: 2, inFlight: 2 });
      h.batches[0]!.finish();
      await Promise.all(queued);
      await vi.advanceTimersByTimeAsync(0);
      expect(h.batches.map((b) => b.items)).toEqual([[1, 2], [3, 4]]);
      h.batches[1]!.finish();
      h.singles[0]!.finish();
      await Promise.all([stuck, ...more]);
      await vi.advanceTimersByTimeAsync(0);
      expect(h.gc.stats()).toEqual({ queued: 0, inFlight: 0 });
    });

    it('only stalled statements are overlapped: a young one beside a stalled one makes the next wait', async () => {
      const h = harness({ maxBatch: 10, maxInFlight: 4, overlapAfterMs: 50 });
      const stuck = h.gc.submit(0);
      await vi.advanceTimersByTimeAsync(60);
      const second = h.gc.submit(1); // 0 has stalled: 1 starts at once
      expect(h.singles.map((s) => s.items)).toEqual([[0], [1]]);
      const third = h.gc.submit(2); // 1 is young: 2 waits
      await vi.advanceTimersByTimeAsync(30);
      expect(h.singles).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(20); // 1 has stalled too
      expect(h.singles.map((s) => s.items)).toEqual([[0], [1], [2]]);
      for (const s of h.singles) s.finish();
      await Promise.all([stuck, second, third]);
    });
  });
});
