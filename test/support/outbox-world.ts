import { eq } from 'drizzle-orm';
import { outbox } from '../../src/db/schema.js';
import { createFeishuClient } from '../../src/feishu/client.js';
import { createGoogleCalendar } from '../../src/google/calendar.js';
import { eventIdFor } from '../../src/google/ids.js';
import { silentLogger } from '../../src/logger.js';
import { createDrainer, type Drainer, type DrainerOptions } from '../../src/outbox/drain.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeEvent, type FakeGoogle, type FakeGoogleOptions } from '../fakes/google.js';
import { testApp } from './app.js';
import type { TestDatabase } from './db.js';
import { encryptedRequest } from './feishu.js';

/** Fast schedules so fault-heavy tests finish in seconds. */
export const FAST_DRAINER: DrainerOptions = {
  batchSize: 16,
  concurrency: 8,
  leaseSeconds: 30,
  pollMs: 50,
  maxAttempts: 12,
  backoff: { baseMs: 20, maxMs: 200 },
  quickRetry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 20 },
  runTimeoutMs: 10_000,
};

export interface World {
  google: FakeGoogle;
  feishu: FakeFeishu;
  t: ReturnType<typeof testApp>;
  drainer: Drainer;
  /** POST a Feishu body (encrypted + signed) to the webhook; returns the parsed response */
  send(body: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** non-cancelled events of a calendar */
  confirmed(calendarId: string): FakeEvent[];
  /** insert calls that created an event on a calendar (the fake logs no event id for inserts) */
  committedInserts(calendarId: string): number;
  outboxRows(key?: string): Promise<Array<typeof outbox.$inferSelect>>;
  close(): Promise<void>;
}

/**
 * The app over a real database with the real Google and Feishu clients pointed at the fakes, and a
 * drainer on the same deps (not started: a test chooses drainOnce or start()).
 */
export async function startWorld(
  db: TestDatabase,
  opts: {
    env?: Record<string, string | undefined>;
    google?: FakeGoogleOptions;
    calendarTimeoutMs?: number;
    drainer?: Partial<DrainerOptions>;
    calendar?: boolean;
  } = {},
): Promise<World> {
  const google = await startFakeGoogle(opts.google);
  const feishu = await startFakeFeishu();
  const calendar =
    opts.calendar === false
      ? undefined
      : createGoogleCalendar({ key: google.serviceAccountKey, baseUrl: google.url, timeoutMs: opts.calendarTimeoutMs ?? 5_000 });
  const feishuClient = createFeishuClient({
    appId: feishu.appId,
    appSecret: feishu.appSecret,
    baseUrl: feishu.url,
    logger: silentLogger,
    retry: { retries: 1, minTimeout: 5, maxTimeout: 20 },
    timeoutMs: 5_000,
  });
  const t = testApp(db, { calendar, feishu: feishuClient, env: opts.env });
  const drainer = createDrainer(t.deps, { ...FAST_DRAINER, ...opts.drainer });
  t.deps.onOutboxWritten = (keys) => drainer.wake(keys);
  return {
    google,
    feishu,
    t,
    drainer,
    async send(body) {
      const res = await t.post(await encryptedRequest(body));
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    confirmed: (calendarId) => google.events(calendarId).filter((e) => e.status !== 'cancelled'),
    committedInserts: (calendarId) => google.calls.filter((c) => c.op === 'insert' && c.calendarId === calendarId && c.committed).length,
    outboxRows: (key) =>
      key === undefined
        ? db.db.select().from(outbox).orderBy(outbox.id)
        : db.db.select().from(outbox).where(eq(outbox.key, key)).orderBy(outbox.id),
    async close() {
      await drainer.stop();
      await google.close();
      await feishu.close();
    },
  };
}

export { eventIdFor };

/** start/end as Google stores them, as instants (ms) */
export function eventTimes(e: FakeEvent): { start: number; end: number; startZone: unknown; endZone: unknown } {
  const s = e.start as { dateTime: string; timeZone?: string };
  const en = e.end as { dateTime: string; timeZone?: string };
  return { start: Date.parse(s.dateTime), end: Date.parse(en.dateTime), startZone: s.timeZone, endZone: en.timeZone };
}
