import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../db/client.js';
import type { CallPacer } from '../google/calendar.js';
import type { QuotaScope } from '../google/calendar-errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

const unref = (t: unknown) => (t as { unref?: () => void }).unref?.();

/*
 * Pacing of Google Calendar calls to the project's and each user's per-minute quota
 * (https://developers.google.com/workspace/calendar/api/guides/quota), shared by every process and
 * Worker invocation through the google_quota table: token buckets refilled by time.
 *
 * A bucket refills at share × quota / 60 tokens per second and holds at most one second of that
 * (BURST_SECONDS), so over any 60 s window it lets through at most (60 + 1) / 60 × share × quota
 * calls: under the quota however Google counts its minute, as long as share ≤ 0.98.
 *
 * Every call takes one token of the project bucket and one of its user's (`user:<email>`, the
 * calendar acted on). Tokens are taken from the table with one statement for everything waiting at
 * that moment (the project's and each waiting user's), and for the calls a drainer said it is about
 * to make (expect()), so calls made side by side share a round trip; what a statement grants beyond
 * what is needed at once stays in this process's reserve for the next call, and goes back at
 * release().
 */

export interface QuotaSettings {
  /** GOOGLE_QUOTA_PER_MINUTE */
  projectPerMinute: number;
  /** GOOGLE_USER_QUOTA_PER_MINUTE */
  userPerMinute: number;
  /** GOOGLE_QUOTA_SHARE: the part of each quota we use */
  share: number;
}

export interface Pacer extends CallPacer {
  /**
   * Calls about to be made as these users (the rows a drainer just claimed): their tokens are
   * taken in the next statement, with those of the calls waiting, so a claimed batch costs one
   * round trip to the quota table rather than one per call.
   */
  expect(subjects: string[]): void;
  /** give tokens taken and not used back to their buckets (stop, end of a Worker drain) */
  release(): Promise<void>;
  /** calls waiting for a token now */
  waiting(): number;
  /** database statements that took tokens so far */
  statements(): number;
}

const PROJECT = 'project';
const userBucket = (subject: string) => `user:${subject.toLowerCase()}`;
const BURST_SECONDS = 1;
/** a pass that got nothing waits at least this long before the next: tokens accumulate meanwhile */
const MIN_WAIT_MS = 50;
const MAX_WAIT_MS = 1_000;

interface Rate {
  perS: number;
  cap: number;
}

interface Waiter {
  subject: string;
  user: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Taken {
  name: string;
  granted: number;
  tokens: number;
}

export function quotaSettings(config: {
  GOOGLE_QUOTA_PER_MINUTE: number;
  GOOGLE_USER_QUOTA_PER_MINUTE: number;
  GOOGLE_QUOTA_SHARE: number;
}): QuotaSettings {
  return { projectPerMinute: config.GOOGLE_QUOTA_PER_MINUTE, userPerMinute: config.GOOGLE_USER_QUOTA_PER_MINUTE, share: config.GOOGLE_QUOTA_SHARE };
}

function rates(s: QuotaSettings): { project: Rate; user: Rate } {
  const rate = (perMinute: number): Rate => {
    const perS = (perMinute * s.share) / 60;
    return { perS, cap: Math.max(1, perS * BURST_SECONDS) };
  };
  return { project: rate(s.projectPerMinute), user: rate(s.userPerMinute) };
}

/**
 * Take up to `want` whole tokens of each bucket, refilling it first for the time since its last
 * take. The rows are locked in name order, so two statements over overlapping buckets never
 * deadlock; a bucket not in the table yet is left out of the answer (see ensureBuckets).
 */
async function takeTokens(db: Db, wants: Array<{ name: string; rate: Rate; want: number }>): Promise<Taken[]> {
  const input = JSON.stringify(wants.map((w) => ({ name: w.name, rate: w.rate.perS, cap: w.rate.cap, want: w.want })));
  const rows = await queryRows<{ name: string; granted: number | string; tokens: number | string }>(
    db,
    sql`
      with w as (
        select * from jsonb_to_recordset(${input}::jsonb) as w(name text, rate float8, cap float8, want float8)
      ),
      locked as (
        select q.name, q.tokens, q.refilled_at from google_quota q
        where q.name in (select name from w)
        order by q.name
        for update
      ),
      fill as (
        select l.name, w.want,
               least(w.cap, l.tokens + greatest(0, extract(epoch from (now() - l.refilled_at))) * w.rate) as avail
        from locked l join w on w.name = l.name
      )
      update google_quota q
      set granted = least(f.want, greatest(0, floor(f.avail))),
          tokens = f.avail - least(f.want, greatest(0, floor(f.avail))),
          refilled_at = greatest(q.refilled_at, now())
      from fill f
      where q.name = f.name
      returning q.name, q.granted, q.tokens`,
  );
  return rows.map((r) => ({ name: r.name, granted: Number(r.granted), tokens: Number(r.tokens) }));
}

/** New buckets start full. */
async function ensureBuckets(db: Db, buckets: Array<{ name: string; rate: Rate }>): Promise<void> {
  const input = JSON.stringify(buckets.map((b) => ({ name: b.name, cap: b.rate.cap })).sort((a, b) => (a.name < b.name ? -1 : 1)));
  await db.execute(sql`
    insert into google_quota (name, tokens, granted, refilled_at)
    select name, cap, 0, now() from jsonb_to_recordset(${input}::jsonb) as w(name text, cap float8)
    order by name
    on conflict (name) do nothing`);
}

/** Add tokens back to buckets (never above what they hold at most). */
async function addTokens(db: Db, adds: Array<{ name: string; rate: Rate; add: number }>): Promise<void> {
  const input = JSON.stringify(adds.map((a) => ({ name: a.name, cap: a.rate.cap, add: a.add })).sort((a, b) => (a.name < b.name ? -1 : 1)));
  await db.execute(sql`
    update google_quota q set tokens = least(w.cap, q.tokens + w.add)
    from jsonb_to_recordset(${input}::jsonb) as w(name text, cap float8, add float8)
    where q.name = w.name`);
}

/**
 * Google refused a call for the quota: empty the bucket, and when it said how long to wait, owe
 * that many seconds of tokens, so every process waits it out.
 */
async function drainBucket(db: Db, name: string, rate: Rate, waitMs: number): Promise<void> {
  const owed = -(rate.perS * waitMs) / 1000;
  await db.execute(sql`
    update google_quota set tokens = least(tokens, ${owed}::float8), refilled_at = greatest(refilled_at, now())
    where name = ${name}`);
}

export function createPacer(deps: { db: Db; logger: Logger; metrics?: Metrics }, settings: QuotaSettings): Pacer {
  const { db, logger } = deps;
  const r = rates(settings);
  const rateOf = (name: string) => (name === PROJECT ? r.project : r.user);
  const reserve = new Map<string, number>();
  const queue: Waiter[] = [];
  const known = new Set<string>();
  /** calls announced by expect() and not yet given tokens: bucket → count */
  const expected = new Map<string, number>();
  let passing = false;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let statements = 0;

  const held = (name: string) => reserve.get(name) ?? 0;
  const use = (name: string) => reserve.set(name, held(name) - 1);

  /** Start every waiter whose two tokens are in the reserve, first come first served. */
  function satisfy(): void {
    for (let i = 0; i < queue.length; ) {
      const w = queue[i]!;
      if (held(PROJECT) >= 1 && held(w.user) >= 1) {
        use(PROJECT);
        use(w.user);
        queue.splice(i, 1);
        w.resolve();
      } else i++;
    }
  }

  function wants(): Array<{ name: string; rate: Rate; want: number }> {
    const need = new Map<string, number>([[PROJECT, 0]]);
    for (const [name, n] of expected) need.set(name, (need.get(name) ?? 0) + n);
    for (const w of queue) {
      need.set(PROJECT, need.get(PROJECT)! + 1);
      need.set(w.user, (need.get(w.user) ?? 0) + 1);
    }
    const out: Array<{ name: string; rate: Rate; want: number }> = [];
    for (const [name, n] of need) {
      const want = n - Math.floor(held(name));
      if (want > 0) out.push({ name, rate: rateOf(name), want });
    }
    return out;
  }

  async function pass(): Promise<number> {
    satisfy();
    const w = wants();
    // expectations are met (or dropped) by this statement: a call that comes waits like any other
    expected.clear();
    if ((queue.length === 0 && !w.some((b) => b.name === PROJECT)) || w.length === 0) return 0;
    const missing = w.filter((b) => !known.has(b.name));
    if (missing.length > 0) {
      await ensureBuckets(db, missing);
      for (const b of missing) known.add(b.name);
    }
    statements++;
    const taken = await takeTokens(db, w);
    const after = new Map<string, number>();
    for (const t of taken) {
      reserve.set(t.name, held(t.name) + t.granted);
      after.set(t.name, t.tokens);
    }
    // a bucket missing from the table (someone deleted it) is made again by the next pass
    for (const b of w) if (!after.has(b.name)) known.delete(b.name);
    satisfy();
    if (queue.length === 0) return 0;
    // The earliest a waiter can have both its tokens: each short bucket refills at its rate.
    const ready = (name: string) => {
      if (held(name) >= 1) return 0;
      const tokens = after.get(name);
      if (tokens === undefined) return 0;
      return ((1 - tokens) / rateOf(name).perS) * 1000;
    };
    let wait = Infinity;
    for (const q of queue) wait = Math.min(wait, Math.max(ready(PROJECT), ready(q.user)));
    return Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, wait));
  }

  function run(): void {
    if (passing) {
      again = true;
      return;
    }
    if (timer) {
      // a pass is already scheduled for when tokens will be there; an earlier one would find none
      return;
    }
    passing = true;
    again = false;
    pass().then(
      (waitMs) => {
        passing = false;
        if (queue.length === 0 && expected.size === 0) return;
        if (waitMs > 0 && !again) {
          timer = setTimeout(() => {
            timer = null;
            run();
          }, waitMs);
          unref(timer);
          return;
        }
        run();
      },
      (err: unknown) => {
        passing = false;
        // The database is unreachable: fail the calls waiting (the outbox releases their rows).
        for (const w of queue.splice(0)) w.reject(err);
      },
    );
  }

  deps.metrics?.collect('leave_bridge_google_quota_tokens', 'Google quota tokens available now: the project bucket, and the emptiest user bucket', async () => {
    const rows = await queryRows<{ project: number | string | null; user_min: number | string | null }>(
      db,
      sql`
        select
          max(least(${r.project.cap}::float8, tokens + greatest(0, extract(epoch from (now() - refilled_at))) * ${r.project.perS}::float8))
            filter (where name = ${PROJECT}) as project,
          min(least(${r.user.cap}::float8, tokens + greatest(0, extract(epoch from (now() - refilled_at))) * ${r.user.perS}::float8))
            filter (where name like 'user:%') as user_min
        from google_quota`,
    );
    const row = rows[0];
    return [
      { labels: { bucket: 'project' }, value: row?.project === null || row?.project === undefined ? r.project.cap : Number(row.project) },
      { labels: { bucket: 'user_min' }, value: row?.user_min === null || row?.user_min === undefined ? r.user.cap : Number(row.user_min) },
    ];
  });

  return {
    expect(subjects) {
      if (subjects.length === 0) return;
      for (const s of subjects) {
        expected.set(PROJECT, (expected.get(PROJECT) ?? 0) + 1);
        const u = userBucket(s);
        expected.set(u, (expected.get(u) ?? 0) + 1);
      }
      run();
    },

    take(subject) {
      return new Promise<void>((resolve, reject) => {
        const user = userBucket(subject);
        if (queue.length === 0 && held(PROJECT) >= 1 && held(user) >= 1) {
          use(PROJECT);
          use(user);
          resolve();
          return;
        }
        queue.push({ subject, user, resolve, reject });
        run();
      });
    },

    async refused(subject, scope: QuotaScope, retryAfterMs) {
      const name = scope === 'project' ? PROJECT : userBucket(subject);
      // what we hold of it was counted by Google already
      reserve.set(name, Math.min(0, held(name)));
      try {
        await drainBucket(db, name, rateOf(name), retryAfterMs ?? 0);
      } catch (err) {
        logger.warn('google pacing: could not record a rate limit in the quota table', { bucket: name, err });
      }
    },

    async release() {
      if (timer && queue.length === 0) {
        clearTimeout(timer);
        timer = null;
      }
      const adds = [...reserve]
        .filter(([, n]) => n >= 1)
        .map(([name, n]) => ({ name, rate: rateOf(name), add: Math.floor(n) }));
      reserve.clear();
      if (adds.length === 0) return;
      try {
        await addTokens(db, adds);
      } catch (err) {
        logger.debug('google pacing: could not give unused tokens back; they refill with time', { err });
      }
    },

    waiting: () => queue.length,
    statements: () => statements,
  };
}
