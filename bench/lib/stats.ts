export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

/** Nearest-rank percentiles of latencies in ms, rounded to 0.01 ms. */
export function summarise(latenciesMs: ArrayLike<number>): LatencySummary {
  const n = latenciesMs.length;
  if (n === 0) return { p50: NaN, p99: NaN, max: NaN, mean: NaN, count: 0 };
  const sorted = Float64Array.from(latenciesMs).sort();
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(at(50)), p99: r(at(99)), max: r(sorted[n - 1]!), mean: r(sum / n), count: n };
}

/** A growable Float64 buffer: latencies of a whole run without millions of boxed numbers. */
export class Samples {
  private buf = new Float64Array(1 << 14);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}
