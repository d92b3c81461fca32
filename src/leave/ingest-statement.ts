import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../db/client.js';
import { createGroupCommit, type Committed, type GroupCommit } from '../db/group-commit.js';
import type { Logger } from '../logger.js';
import { storable } from '../shared/storable.js';
import { instanceCodeOf, type Planned } from './plan.js';
import { baseUnitOf } from './days.js';
import type { DayQuantity, LeaveEvent } from './types.js';

/** What the inbox row records of a delivery. */
export interface Delivery {
  eventKey: string;
  eventType: string;
  source: IngestSource;
  /** what is stored: the decrypted body, with secrets already removed by the adapter */
  payload: unknown;
}

export type IngestSource = 'webhook' | 'ws' | 'backfill' | 'replay' | 'corehr';

export type Effect =
  | 'created'
  | 'enriched'
  | 'unchanged'
  | 'reverted'
  | 'revert_remembered'
  | 'already_reverted'
  | 'detail_after_revert'
  | 'task_recorded'
  | 'pending_recorded'
  | 'rejected'
  | 'approved'
  | 'sync_queued';

/** One delivery as leave_bridge_ingest and leave_bridge_ingest_batch (src/db/sql/) take it. */
export interface IngestCall {
  inbox: Record<string, unknown>;
  /** teamCalendar: also enqueue the team absence calendar's sync (src/db/sql/leave_bridge_apply_locked.sql) */
  ev: (LeaveEvent & { teamCalendar?: true }) | null;
  days: DayQuantity[] | null;
  baseUnit: string | null;
  now: string;
  defaultTz: string;
}

/** What leave_bridge_ingest, leave_bridge_ingest_batch and leave_bridge_apply return (jsonb). */
export interface IngestRow {
  status: 'applied' | 'ignored' | 'quarantined' | 'duplicate';
  inbox_id?: number | string;
  effect?: Effect;
  reason?: string | null;
  outbox?: boolean;
  ignored_reason?: string | null;
}

/**
 * One delivery as the ingest functions take it: its inbox row and, when it applies, the canonical
 * event with its days. (Exported for the benchmarks and the batch equivalence test, which call
 * the SQL functions directly.)
 */
export function ingestCall(delivery: Delivery, planned: Planned, now: Date, defaultTz: string, teamCalendar = false): IngestCall {
  const applied = planned.status === 'applied';
  return {
    inbox: {
      eventKey: storable(delivery.eventKey),
      eventType: storable(delivery.eventType),
      source: delivery.source,
      instanceCode: instanceCodeOf(planned),
      status: planned.status,
      reason: applied ? null : storable(planned.reason),
      payload: storable(delivery.payload) ?? {},
    },
    ev: applied ? (teamCalendar ? { ...planned.event, teamCalendar: true } : planned.event) : null,
    days: applied ? (planned.days ?? []) : null,
    baseUnit: applied && planned.event.kind === 'approve' ? baseUnitOf(planned.event) : null,
    now: now.toISOString(),
    defaultTz,
  };
}

/**
 * One ingest statement at a time per database while it is quick: deliveries that arrive while it
 * runs queue and go together in the next, as soon as it commits. A second statement starts only
 * beside one that has run for OVERLAP_AFTER_MS (a lock wait, a slow disk), up to IN_FLIGHT.
 * Overlapping statements on a small machine only compete for the same cores and flush the WAL
 * more often, for smaller batches (docs/decisions/0004-one-ingest-statement-in-flight.md).
 * The pool keeps connections free for the drainer, the admin API and the reports.
 */
const IN_FLIGHT = 4;
const OVERLAP_AFTER_MS = 50;
const MAX_BATCH = 32;

const groupCommits = new WeakMap<object, GroupCommit<IngestCall, IngestRow>>();

/** Submit one delivery's statement; resolves after the transaction that holds it committed. */
export function submitIngest(db: Db, logger: Logger, call: IngestCall): Promise<Committed<IngestRow>> {
  let gc = groupCommits.get(db);
  if (!gc) {
    gc = createGroupCommit<IngestCall, IngestRow>({
      maxInFlight: IN_FLIGHT,
      maxBatch: MAX_BATCH,
      overlapAfterMs: OVERLAP_AFTER_MS,
      // The lock each delivery takes first (src/db/sql/leave_bridge_ingest_batch.sql): Feishu
      // sends a leave's V1 and V2 events in the same moment, and the second would otherwise wait
      // in a statement of its own for the first's commit, holding up everything batched with it.
      keyOf: (c) =>
        typeof c.inbox.instanceCode === 'string' ? `leave:${c.inbox.instanceCode}` : `delivery:${String(c.inbox.eventType)}:${String(c.inbox.eventKey)}`,
      runOne: async (c) => {
        const [row] = await queryRows<{ r: IngestRow }>(
          db,
          sql`select leave_bridge_ingest(${JSON.stringify(c.inbox)}::jsonb, ${c.ev ? JSON.stringify(c.ev) : null}::jsonb,
            ${c.days ? JSON.stringify(c.days) : null}::jsonb, ${c.baseUnit}::text, ${c.now}::timestamptz, ${c.defaultTz}::text) as r`,
        );
        return row!.r;
      },
      runBatch: async (calls) => {
        const [row] = await queryRows<{ r: Record<string, IngestRow> }>(db, sql`select leave_bridge_ingest_batch(${JSON.stringify(calls)}::jsonb) as r`);
        return calls.map((_, i) => row!.r[String(i + 1)]!);
      },
      onBatchFailed: (err, size) => logger.warn('ingest: a batch failed; retrying its deliveries one by one', { size, err }),
    });
    groupCommits.set(db, gc);
  }
  return gc.submit(call);
}
