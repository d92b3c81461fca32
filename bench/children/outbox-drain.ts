/**
 * The outbox side of the outbox benchmark: the real drainer (src/outbox/drain.ts, loop mode, as
 * `leave-bridge serve` runs it) with the real Google Calendar adapter, deps built by the service's
 * own buildNodeRuntime from the environment (GOOGLE_SERVICE_ACCOUNT_JSON and
 * GOOGLE_CALENDAR_BASE_URL point at the fake). Runs until EXPECTED calendar upserts are done and
 * nothing is in flight, then prints one JSON line: { elapsedS, cpuMs, peakRssMb, upserts,
 * attemptsBurnt (attempts of every row, summed), throttled (rate-limit answers), pacerStatements
 * (statements that took quota tokens), statuses }.
 *
 * env: the service's (DATABASE_URL, OUTBOX_*, GOOGLE_*), EXPECTED, TIMEOUT_S, PROGRESS_FILE (optional)
 */
import { appendFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { queryRows } from '../../src/db/client.js';
import { buildNodeRuntime } from '../../src/node-deps.js';
import { createDrainer, drainerOptions } from '../../src/outbox/drain.js';
import type { CalendarPort } from '../../src/ports.js';

const expected = Number(process.env.EXPECTED);
const timeoutMs = Number(process.env.TIMEOUT_S ?? 900) * 1000;
const config = loadConfig(process.env);
const runtime = await buildNodeRuntime(config, { migrate: false });
const { deps } = runtime;
if (!deps.calendar) throw new Error('no calendar configured');

// Counts finished upserts, so the run ends the moment the last one is recorded (no polling query).
const calendar: CalendarPort = deps.calendar;
let upserts = 0;
deps.calendar = {
  ...calendar,
  upsertBlock: async (block) => {
    const state = await calendar.upsertBlock(block);
    upserts++;
    return state;
  },
};

const drainer = createDrainer(deps, drainerOptions(config, { workerId: `bench:${process.pid}` }));
deps.onOutboxWritten = () => drainer.wake();
// Touch the pool first, as graphile-worker's run() does before its clock starts.
await deps.db.execute(sql`select 1`);

let peakRssKb = 0;
const rssTimer = setInterval(() => {
  peakRssKb = Math.max(peakRssKb, process.memoryUsage.rss() / 1024);
}, 50);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
// PROGRESS_FILE: a line a second of how the drain goes (done, in flight, the adaptive limit, calls
// waiting for quota tokens), to see what holds a run back
const progressFile = process.env.PROGRESS_FILE;
const progressTimer = progressFile
  ? setInterval(() => {
      const limit = deps.metrics.value('leave_bridge_outbox_concurrency', { worker: `bench:${process.pid}` });
      appendFileSync(
        progressFile,
        `${((performance.now() - t0) / 1000).toFixed(1)}s done=${upserts} inFlight=${drainer.inFlight()} limit=${limit} pacerWaiting=${deps.pacer?.waiting() ?? 0} statements=${deps.pacer?.statements() ?? 0} cpu=${Math.round((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000)}ms\n`,
      );
    }, 1000)
  : null;
drainer.start();
await new Promise<void>((resolve, reject) => {
  const deadline = t0 + timeoutMs;
  const check = setInterval(() => {
    if (upserts >= expected && drainer.inFlight() === 0) {
      clearInterval(check);
      resolve();
    } else if (performance.now() > deadline) {
      clearInterval(check);
      reject(new Error(`timed out with ${upserts} of ${expected} upserts done`));
    }
  }, 5);
});
const elapsedS = (performance.now() - t0) / 1000;
if (progressTimer) clearInterval(progressTimer);
const cpu = process.cpuUsage(cpu0);
clearInterval(rssTimer);
peakRssKb = Math.max(peakRssKb, process.memoryUsage.rss() / 1024);
await drainer.stop();
const statuses = await queryRows<{ status: string; n: number }>(deps.db, sql`select status, count(*)::int as n from outbox group by status`);
const [burnt] = await queryRows<{ n: number }>(deps.db, sql`select coalesce(sum(attempts), 0)::int as n from outbox`);
const metricsText = await deps.metrics.render();
const throttled = [...metricsText.matchAll(/^leave_bridge_google_throttled_total(?:\{[^}]*\})? (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
await runtime.close();
process.stdout.write(
  `${JSON.stringify({
    elapsedS,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMb: Math.round(peakRssKb / 102.4) / 10,
    upserts,
    attemptsBurnt: Number(burnt?.n ?? 0),
    throttled,
    pacerStatements: deps.pacer?.statements() ?? 0,
    statuses: Object.fromEntries(statuses.map((s) => [s.status, Number(s.n)])),
  })}\n`,
);
process.exit(0);
