import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client.js';
import type { Deps } from '../deps.js';
import { baseUnitOf, daysOf } from './days.js';
import type { Effect, IngestRow } from './ingest-statement.js';
import type { AppliedEvent } from './plan.js';
import { teamCalendarOn } from './team.js';
import { COREHR_SYNC_KEY, type DayQuantity } from './types.js';

export interface Applied {
  effect: Effect;
  outboxKeys: string[];
  ignoredReason: string | null;
}

/**
 * Apply a canonical event to its leave inside the caller's transaction (replay; ingest does the
 * same inside its own statement). Takes the leave's lock; the rules are those of
 * src/db/sql/leave_bridge_apply_locked.sql.
 */
export async function applyLeaveEvent(
  tx: Tx,
  deps: Pick<Deps, 'config' | 'clock'>,
  event: AppliedEvent,
  days: DayQuantity[] | null,
): Promise<Applied> {
  const allocation = event.kind === 'approve' ? (days ?? daysOf(event)) : [];
  const [row] = await queryRows<{ r: IngestRow }>(
    tx,
    sql`select leave_bridge_apply(${JSON.stringify(teamCalendarOn(deps.config) ? { ...event, teamCalendar: true } : event)}::jsonb, ${JSON.stringify(allocation)}::jsonb,
      ${event.kind === 'approve' ? baseUnitOf(event) : null}::text, ${deps.clock.now().toISOString()}::timestamptz,
      ${deps.config.DEFAULT_TIMEZONE}::text) as r`,
  );
  const r = row!.r;
  const key = event.kind === 'doorbell' ? COREHR_SYNC_KEY : event.instanceCode;
  return { effect: r.effect!, outboxKeys: r.outbox ? [key] : [], ignoredReason: r.ignored_reason ?? null };
}
