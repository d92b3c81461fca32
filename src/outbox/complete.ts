import { and, eq, sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import { createGroupCommit } from '../db/group-commit.js';
import { outbox } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { isConnectionError } from '../db/connection-errors.js';
import type { Claimed } from './claim.js';
import { enqueue } from './enqueue.js';
import { recordsCtes, type BlockRecord } from './block-records.js';
import type { HandlerDeps, HandlerOutcome } from './handler-types.js';
import { lockKey, requeue } from './queries.js';
import { TEAM_OUTBOX_KIND } from '../leave/team.js';

export type CompletionDeps = Pick<HandlerDeps, 'db' | 'logger'> & Pick<Deps, 'metrics' | 'onOutboxWritten'>;

/**
 * Every way a claimed row leaves `running`. Each write is fenced (`status = 'running' AND
 * leased_by = <this claim>`): a drainer whose lease was taken over cannot complete, and each call
 * answers false where the fence kept the row.
 */
export interface Completions {
  /** done, with what the run learned about Google recorded in the same statement */
  done(row: Claimed, outcome: HandlerOutcome): Promise<boolean>;
  /** dead or held with the reason; attempts as given */
  final(row: Claimed, status: 'dead' | 'held', reason: string, attempts: number): Promise<boolean>;
  /** back to pending after `delayMs` (durable retry, release) */
  requeue(row: Claimed, delayMs: number, attempts: number, lastError: string | undefined): Promise<boolean>;
  /** back to pending now, attempts untouched (stop): another process need not wait for the lease */
  giveBack(row: Claimed): Promise<void>;
  /** what an abandoned run learned about Google, without touching its row */
  recordOnly(record: BlockRecord): Promise<void>;
  /** queue one more sync of a leave whose run finished after its lease was taken over */
  repairAfterLostLease(row: Claimed): Promise<void>;
}

const fence = (row: Claimed) => and(eq(outbox.id, row.id), eq(outbox.status, 'running'), eq(outbox.leasedBy, row.token));

export function createCompletions(deps: CompletionDeps, opts: { leaseMs: number; isStopping: () => boolean }): Completions {
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  /** A completion write that the database refused is retried for a while: the work is done. */
  async function persist<T>(fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await fn();
      } catch (err) {
        // past the lease, someone else may own the row; the fenced write would fail anyway
        if (!isConnectionError(err) || Date.now() - started + delay > opts.leaseMs || opts.isStopping()) throw err;
        await sleep(delay);
      }
    }
  }

  /**
   * Done, fenced, with what each run learned about Google recorded in the same statement (the
   * record is written even where the fence keeps the row: it describes Google, not the row).
   * One completion or several; false where fenced out.
   */
  async function writeDone(items: Array<{ row: Claimed; outcome: HandlerOutcome }>): Promise<boolean[]> {
    const done = items.map(({ row, outcome }) => ({ id: row.id, token: row.token, result: outcome.result }));
    const records = items.flatMap(({ outcome }) => (outcome.record ? [outcome.record] : []));
    const ctes = recordsCtes(records);
    const rows = await queryRows<{ id: string | number }>(
      deps.db,
      sql`${ctes ? sql`with ${ctes}` : sql``}
          update outbox o set status = 'done', result = d.result, lease_until = null, done_at = now(), updated_at = now()
          from jsonb_to_recordset(${JSON.stringify(done)}::jsonb) as d(id bigint, token text, result jsonb)
          where o.id = d.id and o.id in ${done.map((d) => d.id)} and o.status = 'running' and o.leased_by = d.token
          returning o.id`,
    );
    const kept = new Set(rows.map((r) => Number(r.id)));
    return items.map(({ row }) => kept.has(row.id));
  }

  /**
   * Completions go through a group commit (src/db/group-commit.ts): while two completion
   * statements run, runs that finish queue and are written together in the next, one round trip
   * and one commit for several messages. A batch that fails is written one by one (with the
   * retries of persist()); if it had committed after all (the connection dropped on the way
   * back), the fenced retries find their rows done, count them lost and queue a repair sync,
   * which only reads Google again.
   */
  const completions = createGroupCommit<{ row: Claimed; outcome: HandlerOutcome }, boolean>({
    maxInFlight: 2,
    maxBatch: 32,
    runOne: async (c) => (await persist(() => writeDone([c])))[0]!,
    runBatch: writeDone,
    onBatchFailed: (err, size) => deps.logger.warn('outbox: a batch of completions failed; writing them one by one', { size, err }),
  });

  /** Back to pending; under the key lock because pending is unique per key+kind. */
  async function requeueFenced(row: Claimed, set: Parameters<typeof requeue>[2]): Promise<boolean> {
    return deps.db.transaction(async (tx) => {
      await lockKey(tx, row.key);
      const [mine] = await tx.select({ id: outbox.id }).from(outbox).where(fence(row)).for('update').limit(1);
      if (!mine) return false;
      await requeue(tx, row, set);
      return true;
    });
  }

  return {
    async done(row, outcome) {
      const committed = await completions.submit({ row, outcome });
      if (committed.batchSize > 1) {
        deps.metrics.inc('leave_bridge_outbox_completions_batched_total', 'Outbox completions written together with others (group commit)');
      }
      return committed.value;
    },

    async final(row, status, reason, attempts) {
      const r = await persist(() =>
        deps.db
          .update(outbox)
          .set({
            status,
            lastError: reason,
            attempts,
            leaseUntil: null,
            updatedAt: sql`now()`,
            ...(status === 'dead' ? { doneAt: sql`now()` } : {}),
          })
          .where(fence(row))
          .returning({ id: outbox.id }),
      );
      return r.length > 0;
    },

    requeue(row, delayMs, attempts, lastError) {
      return persist(() => requeueFenced(row, { delayMs, attempts, ...(lastError !== undefined ? { lastError } : {}) }));
    },

    async giveBack(row) {
      await requeueFenced(row, { delayMs: 0 });
    },

    async recordOnly(record) {
      try {
        await deps.db.execute(sql`with ${recordsCtes([record])!} select 1`);
      } catch (err) {
        // the next run of the leave reads Google again (deterministic event ids) and records it then
        deps.logger.warn('outbox: could not record a calendar block of an abandoned run', { key: record.instanceCode, err });
      }
    },

    /**
     * Our Google calls may have landed after the new holder's (a stale upsert after a revert's
     * delete), so one more sync of the leave is queued: it runs after the current holder (per-key
     * order) and reads the current state.
     */
    async repairAfterLostLease(row) {
      try {
        await deps.db.transaction(async (tx) => {
          await lockKey(tx, row.key);
          // a team calendar row repairs with its own kind, under its own key
          const kind = row.kind === TEAM_OUTBOX_KIND ? TEAM_OUTBOX_KIND : 'calendar.upsert';
          await enqueue(tx, row.key, kind, { repair: `lease of message ${row.id} lost` });
        });
        deps.onOutboxWritten?.([row.key]);
      } catch (err) {
        deps.logger.warn('outbox: could not queue a repair after a lost lease', { id: row.id, key: row.key, err });
      }
    },
  };
}
