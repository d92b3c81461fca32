/**
 * Adaptive concurrency of the drainer (pure): additive increase, multiplicative decrease, as TCP
 * congestion control does (https://www.rfc-editor.org/rfc/rfc5681). The window starts at `start`,
 * doubles per window of successful runs until the first rate limit (slow start), then grows by one
 * per window of successes; a rate limit halves it. It never leaves [1, max].
 *
 * Growth counts only runs that finished while the window was full: a drainer with less work than
 * its window learns nothing about how much more Google would take. One halving per window: the
 * runs already in flight when Google said stop answer the same, and must not halve it again.
 */
export interface Aimd {
  /** how many runs may be in flight now */
  limit(): number;
  /** a run finished well; `full`: the window was full when it did */
  succeeded(full: boolean): void;
  /** Google refused a run for the quota */
  limited(): void;
}

export function createAimd(max: number, opts: { start?: number; onChange?: (limit: number) => void } = {}): Aimd {
  const ceiling = Math.max(1, Math.floor(max));
  let window = Math.min(ceiling, Math.max(1, opts.start ?? ceiling));
  let slowStart = true;
  /** outcomes seen since the last halving; the next one needs a window's worth */
  let sinceCut = Infinity;
  let last = Math.floor(window);
  const changed = () => {
    const now = Math.floor(window);
    if (now !== last) {
      last = now;
      opts.onChange?.(now);
    }
  };
  return {
    limit: () => Math.floor(window),
    succeeded(full) {
      sinceCut++;
      if (!full || window >= ceiling) return;
      window = Math.min(ceiling, window + (slowStart ? 1 : 1 / window));
      changed();
    },
    limited() {
      slowStart = false;
      if (sinceCut < Math.floor(window)) return;
      sinceCut = 0;
      window = Math.max(1, window / 2);
      changed();
    },
  };
}
