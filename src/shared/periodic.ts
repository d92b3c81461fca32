/**
 * `serve`'s periodic jobs (backfill, the CoreHR sync): `run` once right away (it covers whatever
 * happened while the process was down), then `everyMs` after each run has finished, so runs never
 * overlap in a process. The timers do not keep the process alive. The returned function stops the
 * schedule and waits for a run in progress; `run` is told when to stop early through `stopped()`.
 */
export function runPeriodically(everyMs: number, run: (stopped: () => boolean) => Promise<void>): () => Promise<void> {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = null;
      running = run(() => stopped).finally(() => {
        running = null;
        schedule(everyMs);
      });
    }, delay);
    timer.unref();
  };
  schedule(0);
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = null;
    await running;
  };
}
