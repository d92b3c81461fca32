import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../src/outbox/backoff.js';

describe('outbox backoff (pure)', () => {
  it('stays within [step/2, step] of the capped exponential step, for any attempt and any draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempts, baseMs, extra, r) => {
          const policy = { baseMs, maxMs: baseMs + extra };
          const step = Math.min(policy.maxMs, baseMs * 2 ** Math.min(attempts - 1, 40));
          const d = backoffDelayMs(attempts, policy, () => r);
          expect(Number.isFinite(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(step / 2));
          expect(d).toBeLessThanOrEqual(Math.ceil(step));
        },
      ),
    );
  });

  it('grows with the attempt until the cap', () => {
    const low = (n: number) => backoffDelayMs(n, DEFAULT_BACKOFF, () => 0);
    const high = (n: number) => backoffDelayMs(n, DEFAULT_BACKOFF, () => 0.999999);
    expect([1, 2, 3, 4].map(low)).toEqual([2_500, 5_000, 10_000, 20_000]);
    for (let n = 1; n < 30; n++) expect(low(n + 1)).toBeGreaterThanOrEqual(low(n));
    expect(high(40)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    expect(low(40)).toBe(DEFAULT_BACKOFF.maxMs / 2);
  });

  it('spreads a burst: 1000 rows failing together do not come back at one instant', () => {
    const delays = Array.from({ length: 1000 }, () => backoffDelayMs(3));
    expect(new Set(delays).size).toBeGreaterThan(500);
  });
});
