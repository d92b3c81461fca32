import { withCommitDeadline } from '../db/deadline.js';
import type { Deps } from '../deps.js';
import { storable } from '../shared/storable.js';
import { daysOf } from './days.js';
import { ingestCall, submitIngest, type Delivery, type Effect } from './ingest-statement.js';
import { teamCalendarOn, withTeamKeys } from './team.js';
import { instanceCodeOf, withCorehrPolicy, withHoldsPolicy, type Planned } from './plan.js';
import { COREHR_SYNC_KEY, type LeaveApproval, type LeaveRevert } from './types.js';

export type { Delivery, Effect, IngestSource } from './ingest-statement.js';

/** What ingest needs of the deps object (webhook, long connection, backfill all hand in theirs). */
export type IngestDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'metrics' | 'onOutboxWritten' | 'logger'>;

export interface IngestResult {
  status: 'applied' | 'ignored' | 'quarantined' | 'duplicate';
  inboxId: number | null;
  instanceCode: string | null;
  effect: Effect | null;
  reason: string | null;
  /** leave keys whose outbox got a new message in this transaction */
  outboxKeys: string[];
}

/**
 * Store one planned delivery: inbox row (dedupe) + leave + attendance days + outbox rows, in one
 * statement and one transaction (the rules: src/db/sql/leave_bridge_ingest_batch.sql and the
 * functions it calls). Returns after commit; only then may the caller ack Feishu. Under load the
 * statement carries other deliveries too (group commit, src/db/group-commit.ts).
 */
export async function ingest(deps: IngestDeps, delivery: Delivery, given: Planned): Promise<IngestResult> {
  const planned = withCorehrPolicy(withHoldsPolicy(given, deps.config.CALENDAR_TENTATIVE_HOLDS), deps.config.COREHR_ENABLED);
  const instanceCode = instanceCodeOf(planned);
  const committed = await withCommitDeadline(() =>
    submitIngest(deps.db, deps.logger, ingestCall(delivery, planned, deps.clock.now(), deps.config.DEFAULT_TIMEZONE, teamCalendarOn(deps.config))),
  );
  const r = committed.value;
  if (committed.batchSize > 1) {
    deps.metrics.inc('leave_bridge_ingest_batched_total', 'Deliveries committed together with others (group commit)', { source: delivery.source });
  }
  if (committed.retriedAlone) {
    deps.metrics.inc('leave_bridge_ingest_batch_retries_total', 'Deliveries run again alone because their batch failed', { source: delivery.source });
  }
  const result: IngestResult =
    r.status === 'duplicate'
      ? { status: 'duplicate', inboxId: null, instanceCode: null, effect: null, reason: null, outboxKeys: [] }
      : {
          status: r.status,
          inboxId: Number(r.inbox_id),
          instanceCode,
          effect: r.effect ?? null,
          reason: r.reason ?? null,
          outboxKeys: !r.outbox ? [] : planned.status === 'applied' && planned.event.kind === 'doorbell' ? [COREHR_SYNC_KEY] : instanceCode ? [instanceCode] : [],
        };
  deps.metrics.inc('leave_bridge_events_total', 'Feishu events by outcome', { source: delivery.source, status: result.status });
  if (result.outboxKeys.length > 0) deps.onOutboxWritten?.(withTeamKeys(deps.config, result.outboxKeys));
  return result;
}

/**
 * Ingest an event that is already canonical (backfill builds its LeaveApproval from the instance
 * API): the same transaction and inbox dedupe on (eventKey, eventType) as a webhook delivery.
 * Throws AllocationError instead of quarantining: the caller reports it and a rerun retries it.
 */
export async function ingestNormalised(deps: IngestDeps, delivery: Delivery, event: LeaveApproval | LeaveRevert): Promise<IngestResult> {
  const clean = storable(event);
  const days = clean.kind === 'approve' ? daysOf(clean) : null;
  return ingest(deps, delivery, { status: 'applied', event: clean, days });
}
