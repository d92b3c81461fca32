import { eq, sql } from 'drizzle-orm';
import { inboxEvents } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { storable } from '../shared/storable.js';
import { applyLeaveEvent } from './apply.js';
import type { IngestResult } from './ingest.js';
import { plan, withCorehrPolicy, withHoldsPolicy, type Reading } from './plan.js';
import { withTeamKeys } from './team.js';

/** How the source's adapter reads a stored delivery's event again (Feishu: src/feishu/inbound.ts). */
export type ReadEvent = (eventType: string, event: unknown) => Reading;

/** One replay of an inbox row, kept in its `history`. */
export interface ReplayRecord {
  at: string;
  /** whether an operator supplied a corrected event */
  corrected: boolean;
  /** the row's status and reason before this replay */
  was: { status: string; reason: string | null };
  status: 'applied' | 'ignored' | 'quarantined';
  reason: string | null;
}

type Replayed = { result: IngestResult } | { stillUnusable: string };

/**
 * Re-run a quarantined event: after a code fix, or with an operator-corrected event object. The
 * inbox row keeps its identity (so a Feishu re-push of the same uuid is still a duplicate), and
 * every replay, successful or not, is appended to the row's `history` with what the row was
 * before. A replay that is still unusable commits its new reason and history, then answers 422.
 */
export async function replayQuarantined(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'onOutboxWritten'>,
  inboxId: number,
  read: ReadEvent,
  correctedEvent?: unknown,
): Promise<IngestResult> {
  const replayed = await deps.db.transaction(async (tx): Promise<Replayed> => {
    const [row] = await tx.select().from(inboxEvents).where(eq(inboxEvents.id, inboxId)).for('update').limit(1);
    if (!row) throw new AppError('event_not_found', `no event ${inboxId}`);
    if (row.status !== 'quarantined') {
      throw new AppError('not_quarantined', `event ${inboxId} is ${row.status}, only quarantined events are replayed`);
    }
    if (row.payload === null && correctedEvent === undefined) {
      throw new AppError('payload_purged', `event ${inboxId}'s payload was purged after the retention period; replay it with a corrected {"event": …}`);
    }
    const payload = (row.payload ?? {}) as { event?: unknown };
    const event = storable(correctedEvent ?? payload.event);
    const planned = withCorehrPolicy(withHoldsPolicy(plan(read(row.eventType, event)), deps.config.CALENDAR_TENTATIVE_HOLDS), deps.config.COREHR_ENABLED);
    const record = (status: ReplayRecord['status'], reason: string | null): ReplayRecord => ({
      at: deps.clock.now().toISOString(),
      corrected: correctedEvent !== undefined,
      was: { status: row.status, reason: row.reason },
      status,
      reason,
    });
    const appendHistory = (r: ReplayRecord) => sql`${inboxEvents.history} || ${JSON.stringify([r])}::jsonb`;
    if (planned.status === 'quarantined') {
      const reason = storable(planned.reason);
      await tx
        .update(inboxEvents)
        .set({ reason, history: appendHistory(record('quarantined', reason)) })
        .where(eq(inboxEvents.id, inboxId));
      return { stillUnusable: reason };
    }
    const newPayload = correctedEvent === undefined ? row.payload : { ...payload, event, original_event: payload.event };
    if (planned.status === 'ignored') {
      await tx
        .update(inboxEvents)
        .set({ status: 'ignored', reason: planned.reason, payload: newPayload, history: appendHistory(record('ignored', planned.reason)) })
        .where(eq(inboxEvents.id, inboxId));
      return { result: { status: 'ignored', inboxId, instanceCode: planned.instanceCode, effect: null, reason: planned.reason, outboxKeys: [] } };
    }
    const applied = await applyLeaveEvent(tx, deps, planned.event, planned.days);
    const status = applied.ignoredReason ? 'ignored' : 'applied';
    await tx
      .update(inboxEvents)
      .set({
        status,
        effect: applied.effect,
        instanceCode: planned.event.instanceCode,
        reason: `replayed; was quarantined: ${row.reason ?? ''}`,
        payload: newPayload,
        history: appendHistory(record(status, applied.ignoredReason)),
      })
      .where(eq(inboxEvents.id, inboxId));
    return {
      result: {
        status,
        inboxId,
        instanceCode: planned.event.instanceCode,
        effect: applied.effect,
        reason: applied.ignoredReason,
        outboxKeys: applied.outboxKeys,
      },
    };
  });
  if ('stillUnusable' in replayed) throw new AppError('still_unusable', replayed.stillUnusable);
  if (replayed.result.outboxKeys.length > 0) deps.onOutboxWritten?.(withTeamKeys(deps.config, replayed.result.outboxKeys));
  return replayed.result;
}
