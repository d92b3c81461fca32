import { describe, expect, it } from 'vitest';
import { createGroupCommit } from '../src/db/group-commit.js';

/** A statement we finish by hand. */
interface Pending {
  items: number[];
  finish: (results?: string[]) => void;
  fail: (err: Error) => void;
}

function harness(opts: { maxBatch?: number; maxInFlight?: number; refuseAlone?: (n: number) => boolean } = {}) {
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
});
