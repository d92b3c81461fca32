import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { auditLog } from '../db/schema.js';
import type { Clock } from '../deps.js';
import type { AdminActor } from './sessions.js';

/** One admin action, for the audit log. */
export interface AuditEntry {
  /**
   * null: nobody authenticated (a failed sign-in). `cli`: a `leave-bridge` command run by someone
   * with the database's credentials; its id is the operating-system user.
   */
  actor: (Pick<AdminActor, 'id' | 'name'> & { kind: AdminActor['kind'] | 'cli' }) | null;
  action: string;
  target?: string | null;
  outcome: 'ok' | 'failed';
  /** what was asked for, never a secret or a personal value (field names, a period, an error code) */
  detail?: Record<string, unknown> | null;
  address: string;
}

/**
 * Record an admin action. Every route that changes something, or hands out personal data in bulk,
 * calls this (through routes/audit.ts); so do sign-in, failed sign-in and sign-out.
 */
export async function recordAudit(deps: { db: Queryable; clock: Clock }, entry: AuditEntry): Promise<void> {
  await deps.db.insert(auditLog).values({
    at: deps.clock.now(),
    actorKind: entry.actor?.kind ?? 'anonymous',
    actorId: entry.actor?.id ?? null,
    actorName: entry.actor?.name ?? null,
    action: entry.action,
    target: entry.target ?? null,
    outcome: entry.outcome,
    detail: entry.detail ?? null,
    address: entry.address,
  });
}

export interface AuditFilter {
  action?: string;
  /** a Feishu user id, or `token` / `cli` / `anonymous` for those kinds */
  actor?: string;
  outcome?: 'ok' | 'failed';
  /** instants, inclusive */
  from?: Date;
  to?: Date;
  /** entries older than this id (the previous page's `next_before`) */
  before?: number;
  limit?: number;
}

/** Newest first, a page at a time. */
export async function listAudit(db: Queryable, f: AuditFilter) {
  const limit = Math.min(f.limit ?? 100, 500);
  const where: SQL[] = [];
  if (f.action) where.push(eq(auditLog.action, f.action));
  if (f.actor === 'token' || f.actor === 'cli' || f.actor === 'anonymous') where.push(eq(auditLog.actorKind, f.actor));
  else if (f.actor) where.push(eq(auditLog.actorId, f.actor));
  if (f.outcome) where.push(eq(auditLog.outcome, f.outcome));
  if (f.from) where.push(gte(auditLog.at, f.from));
  if (f.to) where.push(lte(auditLog.at, f.to));
  if (f.before) where.push(lt(auditLog.id, f.before));
  const rows = await db
    .select()
    .from(auditLog)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: r.id,
      at: r.at,
      actor: { kind: r.actorKind, id: r.actorId, name: r.actorName },
      action: r.action,
      target: r.target,
      outcome: r.outcome,
      detail: r.detail,
      address: r.address,
    })),
    next_before: rows.length > limit ? page.at(-1)!.id : null,
  };
}

export async function deleteAuditBefore(db: Queryable, before: Date): Promise<number> {
  const rows = await db.delete(auditLog).where(lt(auditLog.at, before)).returning({ id: auditLog.id });
  return rows.length;
}
