import { eq } from 'drizzle-orm';
import { inboxEvents } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { AppError, notFound } from '../errors.js';
import { appliedResult, applyLeaveEvent, plan, storable, type IngestResult } from './ingest.js';

/**
 * Re-run a quarantined event: after a code fix, or with an operator-corrected event object. The
 * inbox row keeps its identity (so a Feishu re-push of the same uuid is still a duplicate) and
 * records what happened; the original reason stays in the row's history.
 */
export async function replayQuarantined(
  deps: Pick<Deps, 'db' | 'config' | 'clock' | 'onOutboxWritten'>,
  inboxId: number,
  correctedEvent?: unknown,
): Promise<IngestResult> {
  const result = await deps.db.transaction(async (tx) => {
    const [row] = await tx.select().from(inboxEvents).where(eq(inboxEvents.id, inboxId)).for('update').limit(1);
    if (!row) throw notFound('event_not_found', `no event ${inboxId}`);
    if (row.status !== 'quarantined') {
      throw new AppError(409, 'not_quarantined', `event ${inboxId} is ${row.status}, only quarantined events are replayed`);
    }
    const payload = row.payload as { event?: unknown };
    const event = storable(correctedEvent ?? payload.event);
    const planned = plan({ eventType: row.eventType, event, problem: null });
    if (planned.status === 'quarantined') {
      await tx.update(inboxEvents).set({ reason: storable(planned.reason) }).where(eq(inboxEvents.id, inboxId));
      throw new AppError(422, 'still_unusable', planned.reason);
    }
    const newPayload = correctedEvent === undefined ? row.payload : { ...(row.payload as object), event, original_event: payload.event };
    if (planned.status === 'ignored') {
      await tx.update(inboxEvents).set({ status: 'ignored', reason: planned.reason, payload: newPayload }).where(eq(inboxEvents.id, inboxId));
      return { status: 'ignored', inboxId, instanceCode: planned.instanceCode, effect: null, reason: planned.reason, outboxKeys: [] } satisfies IngestResult;
    }
    const applied = await applyLeaveEvent(tx, deps, planned.event, planned.days);
    await tx
      .update(inboxEvents)
      .set({
        status: applied.ignoredReason ? 'ignored' : 'applied',
        effect: applied.effect,
        instanceCode: planned.event.instanceCode,
        reason: `replayed; was quarantined: ${row.reason ?? ''}`,
        payload: newPayload,
      })
      .where(eq(inboxEvents.id, inboxId));
    return appliedResult(inboxId, planned.event.instanceCode, applied);
  });
  if (result.outboxKeys.length > 0) deps.onOutboxWritten?.(result.outboxKeys);
  return result;
}
