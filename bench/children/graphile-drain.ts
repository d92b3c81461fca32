/**
 * The baseline side of the outbox benchmark: graphile-worker 0.16 running the jobs the parent
 * queued (graphile_worker.add_job, one per leave). Each job makes the same Google call as the
 * drainer's handler — the same CalendarPort (src/google/calendar.ts, @googleapis/calendar, the
 * same token cache) with the same WantedBlock — but none of the handler's database reads and
 * writes (leave, employee, calendar_blocks): the baseline gets the lighter job.
 * Runs until EXPECTED jobs are complete (result written back), then prints one JSON line.
 *
 * env: DATABASE_URL, CONCURRENCY, EXPECTED, GOOGLE_SERVICE_ACCOUNT_JSON, GOOGLE_CALENDAR_BASE_URL,
 *      TIMEOUT_S, GIVE_UP (1: at TIMEOUT_S, report how far it got instead of failing), plus the
 *      service's CALENDAR_* presentation settings (defaults)
 */
import { Logger, run, type Task } from 'graphile-worker';
import postgres from 'postgres';
import { loadConfig } from '../../src/config.js';
import { parseServiceAccountKey } from '../../src/google/auth.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { nodeFetch } from '../../src/google/node-fetch.js';
import { toInstant } from '../../src/shared/local-time.js';

const expected = Number(process.env.EXPECTED);
const timeoutMs = Number(process.env.TIMEOUT_S ?? 900) * 1000;
const config = loadConfig(process.env);
// the transport `serve` gives the adapter on Node (src/node-deps.ts calendarFor), so both sides
// make the same Google calls the same way
const calendar = createGoogleCalendar({
  key: parseServiceAccountKey(process.env.GOOGLE_SERVICE_ACCOUNT_JSON!),
  baseUrl: config.GOOGLE_CALENDAR_BASE_URL,
  fetch: nodeFetch,
});

interface Payload {
  instanceCode: string;
  calendarId: string;
  startLocal: string;
  endLocal: string;
  timezone: string;
}

const calendarUpsert: Task = async (payload) => {
  const p = payload as Payload;
  await calendar.upsertBlock({
    instanceCode: p.instanceCode,
    calendarId: p.calendarId,
    start: toInstant(p.startLocal, p.timezone),
    end: toInstant(p.endLocal, p.timezone),
    timeZone: p.timezone,
    summary: config.CALENDAR_EVENT_TITLE,
    declineMode: config.CALENDAR_DECLINE_MODE,
    declineMessage: config.CALENDAR_DECLINE_MESSAGE,
  });
};

const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

let completed = 0;
let failed = 0;
let peakRssKb = 0;
const rssTimer = setInterval(() => {
  peakRssKb = Math.max(peakRssKb, process.memoryUsage.rss() / 1024);
}, 50);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  noHandleSignals: true,
  pollInterval: 1000,
  logger,
  taskList: { calendar_upsert: calendarUpsert },
});
runner.events.on('job:complete', ({ error }) => {
  if (error) failed++;
  else completed++;
});
await new Promise<void>((resolve, reject) => {
  const deadline = t0 + timeoutMs;
  const check = setInterval(() => {
    if (completed >= expected) {
      clearInterval(check);
      resolve();
    } else if (performance.now() > deadline) {
      clearInterval(check);
      // GIVE_UP=1: a run that cannot finish in time (retries far in the future) is a result too
      if (process.env.GIVE_UP === '1') resolve();
      else reject(new Error(`timed out with ${completed} of ${expected} jobs complete (${failed} failed)`));
    }
  }, 5);
});
const elapsedS = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(rssTimer);
peakRssKb = Math.max(peakRssKb, process.memoryUsage.rss() / 1024);
await runner.stop();
const sql = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
const [left] = await sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs`;
await sql.end({ timeout: 5 });
process.stdout.write(
  `${JSON.stringify({
    elapsedS,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMb: Math.round(peakRssKb / 102.4) / 10,
    completed,
    failed,
    jobsLeft: left!.n,
  })}\n`,
);
process.exit(0);
