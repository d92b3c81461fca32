import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { HandlerDeps, OutboxMessage } from './handler-types.js';
import { readSyncStates, type SyncState } from './sync-state.js';

/** A row this drainer holds the lease of, from claim until its completion. */
export interface Claimed extends OutboxMessage {
  /** the claim that leased it (leased_by): completions are fenced on it */
  token: string;
  /** the previous holder's lease expired: this run counts as an attempt already */
  takeover: boolean;
  /** the leave's state, read for the whole claim in one query (absent: the run reads it) */
  state?: SyncState;
}

/**
 * Claim up to `limit` due rows under the lease `token`. A row is due when pending with run_after
 * passed, or running with an expired lease (its drainer died or stalled: anyone may take it over).
 * Per-key order: a row waits while an EARLIER row of its key is pending, running or held (and
 * while any row of its key holds a live lease), so in one claim at most one row per key is taken
 * and a delete never overtakes the upsert before it. Dead rows do not block: the later row reads
 * the leave's current state anyway. SKIP LOCKED lets several drainers claim side by side without
 * waiting on each other's candidates. All times are the database's now(): drainers on several
 * machines must agree on when a lease has expired.
 */
export async function claimDue(
  deps: Pick<HandlerDeps, 'db'> & { logger: Logger },
  claim: { token: string; limit: number; leaseSeconds: number; keys?: string[] },
): Promise<Claimed[]> {
  const { token, limit, leaseSeconds, keys } = claim;
  if (limit <= 0 || (keys && keys.length === 0)) return [];
  // Per-key order: nothing earlier of the key still to do, and never two live runs for one key
  // (an operator retry can put an EARLIER row back while a later one runs).
  const orderGuard = sql`not exists (
    select 1 from outbox e
    where e.key = o.key and e.id <> o.id
      and ((e.id < o.id and e.status in ('pending', 'running', 'held'))
           or (e.status = 'running' and e.lease_until >= now()))
  )`;
  const rows = await queryRows<{ id: string | number; key: string; kind: string; payload: unknown; attempts: number; prev_status: string; prev_leased_by: string | null }>(
    deps.db,
    sql`
      with pend as (
        select o.id, o.status as prev_status, o.leased_by as prev_leased_by
        from outbox o
        where o.status = 'pending' and o.run_after <= now()
          ${keys ? sql`and o.key in ${keys}` : sql``}
          and ${orderGuard}
        order by o.run_after, o.id
        limit ${limit}
        for update of o skip locked
      ),
      expired as (
        select o.id, o.status as prev_status, o.leased_by as prev_leased_by
        from outbox o
        where o.status = 'running' and o.lease_until < now()
          ${keys ? sql`and o.key in ${keys}` : sql``}
          and ${orderGuard}
        order by o.run_after, o.id
        limit ${limit}
        for update of o skip locked
      ),
      -- Two branches rather than one OR: each can walk its own index (the partial
      -- outbox_due_idx for pending rows), where the OR scanned and sorted the whole table.
      due as (
        select * from expired
        union all
        select * from pend
        limit ${limit}
      )
      update outbox m
      set status = 'running',
          leased_by = ${token},
          lease_until = now() + ${leaseSeconds}::float8 * interval '1 second',
          -- a takeover means the previous run never finished: it counts as an attempt, so a
          -- message that kills its drainer every time still ends dead instead of looping
          attempts = case when due.prev_status = 'running' then m.attempts + 1 else m.attempts end,
          last_error = case when due.prev_status = 'running'
                            then 'lease of ' || coalesce(due.prev_leased_by, '?') || ' expired; taken over'
                            else m.last_error end,
          updated_at = now()
      from due
      where m.id = due.id
      returning m.id, m.key, m.kind, m.payload, m.attempts, due.prev_status, due.prev_leased_by`,
  );
  const claimed: Claimed[] = rows.map((r) => ({
    id: Number(r.id),
    key: r.key,
    kind: r.kind,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as unknown) : r.payload,
    attempts: Number(r.attempts),
    token,
    takeover: r.prev_status === 'running',
  }));
  // The rows are leased now, so no later row of their keys runs before them: read their leaves
  // for all of them at once (one query per claim instead of one per message).
  if (claimed.length > 0) {
    try {
      const states = await readSyncStates(deps.db, [...new Set(claimed.map((c) => c.key))]);
      for (const c of claimed) {
        const state = states.get(c.key);
        if (state) c.state = state;
      }
    } catch (err) {
      // each run reads its own state instead (and meets the same database)
      deps.logger.debug('outbox: could not read the claimed leaves; each run reads its own', { err });
    }
  }
  return claimed;
}
