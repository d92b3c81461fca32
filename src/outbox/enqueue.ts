import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
import { outbox } from '../db/schema.js';

export type OutboxKind = 'calendar.upsert' | 'calendar.delete' | 'team_calendar.sync';

/**
 * Add a message inside the caller's transaction. At most one PENDING message per (key, kind)
 * exists: handlers read the leave's current state when they run, so a second pending upsert would
 * do the same work twice. A message already running is not coalesced into (it may have read the
 * old state), so a change during a run gets a fresh pending row.
 */
export async function enqueue(tx: Tx, key: string, kind: OutboxKind, payload: Record<string, unknown> = {}): Promise<boolean> {
  const rows = await tx
    .insert(outbox)
    .values({ key, kind, payload })
    .onConflictDoNothing({ target: [outbox.key, outbox.kind], where: sql`status = 'pending'` })
    .returning({ id: outbox.id });
  return rows.length > 0;
}
