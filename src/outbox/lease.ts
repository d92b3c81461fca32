import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import { isConnectionError } from '../db/connection-errors.js';
import type { Claimed } from './claim.js';
import type { CompletionDeps } from './complete.js';
import { unref, type InFlight } from './run.js';

/**
 * Leases are extended while a run is in flight (and while a claimed row waits for a slot), so a
 * slow but alive drainer keeps its rows and only a dead or partitioned one loses them. A run whose
 * lease was taken over is aborted (its quick retries stop; its result will be fenced out); a
 * waiting row whose lease ran out is dropped: it belongs to the other drainer now.
 */
export function createHeartbeat(
  deps: Pick<CompletionDeps, 'db' | 'logger'>,
  opts: { leaseSeconds: number },
  held: { inFlight: Map<number, InFlight>; waiting: Claimed[] },
): { ensure(): void; stop(): void } {
  let timer: ReturnType<typeof setInterval> | null = null;

  async function beat(): Promise<void> {
    const byToken = new Map<string, { runs: InFlight[]; waits: Claimed[] }>();
    const group = (token: string) => {
      let g = byToken.get(token);
      if (!g) byToken.set(token, (g = { runs: [], waits: [] }));
      return g;
    };
    for (const e of held.inFlight.values()) if (!e.abandoned) group(e.row.token).runs.push(e);
    for (const w of held.waiting) group(w.token).waits.push(w);
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
          const i = held.waiting.indexOf(w);
          if (i >= 0) held.waiting.splice(i, 1);
          deps.logger.warn('outbox: lease of a waiting row lost; another drainer owns it', { id: w.id, key: w.key });
        }
      } catch (err) {
        if (!isConnectionError(err)) deps.logger.warn('outbox: lease heartbeat failed', { err });
      }
    }
  }

  return {
    ensure() {
      if (timer) return;
      timer = setInterval(() => void beat(), Math.max(250, Math.floor((opts.leaseSeconds * 1000) / 3)));
      unref(timer);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
