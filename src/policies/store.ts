import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.js';
import { leavePolicies, leaves } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { BLOCKING_KINDS } from '../leave/types.js';
import { enqueue, type OutboxKind } from '../outbox/enqueue.js';
import { teamCalendarOn, teamOutboxKey } from '../leave/team.js';
import { lockKey } from '../outbox/queries.js';
import { ANY, type PolicyBody, type PolicyEntry } from './body.js';
import { PolicySet, policyDefaults, type EffectivePolicy, type Policy, type StoredPolicy } from './resolve.js';

/**
 * What a policy change re-syncs: for each outbox kind, the policy fields whose change affects what it
 * writes. A record is queued for a kind only when one of its fields changes for that record.
 */
export const POLICY_RESYNCS: ReadonlyArray<{
  kind: OutboxKind;
  fields: ReadonlyArray<keyof Policy>;
  /** the row's key (default: the instance code) */
  key?: (instanceCode: string) => string;
  /** only when this holds (default: always) */
  when?: (config: StoreDeps['config']) => boolean;
}> = [
  { kind: 'calendar.upsert', fields: ['calendar', 'decline_mode', 'title'] },
  // the team calendar's event shows the visibility (src/outbox/team-calendar.ts), under its own key
  { kind: 'team_calendar.sync', fields: ['visibility'], key: teamOutboxKey, when: teamCalendarOn },
];

/** A stored policy as the API shows it: unset fields are null (they take the defaults). */
export interface PolicyView {
  kind: string;
  leave_type: string;
  calendar: string;
  decline_mode: string | null;
  title: string | null;
  visibility: string;
  payroll_code: string | null;
  counts_as_leave: boolean | null;
  updated_at: Date;
}

export const viewOf = (r: StoredPolicy): PolicyView => ({
  kind: r.kind,
  leave_type: r.leaveType,
  calendar: r.calendar,
  decline_mode: r.declineMode,
  title: r.title,
  visibility: r.visibility,
  payroll_code: r.payrollCode,
  counts_as_leave: r.countsAsLeave,
  updated_at: r.updatedAt,
});

type StoreDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'onOutboxWritten'>;

/** Every stored policy, defaults (`*`) first, then by kind and type. */
export async function listPolicies(db: Deps['db']): Promise<PolicyView[]> {
  const rows = await db.select().from(leavePolicies).orderBy(asc(leavePolicies.kind), asc(leavePolicies.leaveType));
  const star = (s: string) => (s === ANY ? 0 : 1);
  return rows.sort((a, b) => star(a.kind) - star(b.kind) || star(a.leaveType) - star(b.leaveType)).map(viewOf);
}

/** One stored policy (or null) and what a record of that kind and type gets. */
export async function getPolicy(
  deps: Pick<Deps, 'db' | 'config'>,
  kind: string,
  leaveType: string,
): Promise<{ kind: string; leave_type: string; policy: PolicyView | null; effective: EffectivePolicy }> {
  const rows = await deps.db.select().from(leavePolicies).where(inArray(leavePolicies.leaveType, [...new Set([leaveType, ANY])]));
  const set = new PolicySet(rows, policyDefaults(deps.config));
  const own = rows.find((r) => r.kind === kind && r.leaveType === leaveType) ?? null;
  // `*` as a type or a kind asks what the default gives: a record of a type nobody named, a leave
  const effective = set.resolve(kind === ANY ? 'leave' : kind, leaveType === ANY ? null : leaveType);
  return { kind, leave_type: leaveType, policy: own ? viewOf(own) : null, effective };
}

export interface PolicyChange {
  /** the policies stored now (PUT, import), or the one removed (DELETE) */
  policies: PolicyView[];
  /** approvals not yet over whose block changes, queued for a calendar sync */
  resynced: number;
}

const rowOf = (kind: string, leaveType: string, body: Omit<PolicyBody, 'kind'>, now: Date) => ({
  kind,
  leaveType,
  calendar: body.calendar,
  declineMode: body.decline_mode ?? null,
  title: body.title ?? null,
  visibility: body.visibility,
  payrollCode: body.payroll_code ?? null,
  countsAsLeave: body.counts_as_leave ?? null,
  updatedAt: now,
});

/** Store (create or replace) the policy of (kind, leave type) and re-sync the future blocks it changes. */
export async function setPolicy(deps: StoreDeps, kind: string, leaveType: string, body: Omit<PolicyBody, 'kind'>): Promise<PolicyChange> {
  return importPolicies(deps, [{ ...body, kind: kind as PolicyEntry['kind'], leave_type: leaveType }]);
}

/** Store several policies at once (`leave-bridge policy import`): one transaction, one re-sync. */
export async function importPolicies(deps: StoreDeps, entries: PolicyEntry[]): Promise<PolicyChange> {
  const now = deps.clock.now();
  return change(deps, async (tx) => {
    const stored: PolicyView[] = [];
    for (const e of entries) {
      const row = rowOf(e.kind ?? ANY, e.leave_type, e, now);
      const { kind: _k, leaveType: _t, ...set } = row;
      const [saved] = await tx.insert(leavePolicies).values(row).onConflictDoUpdate({ target: [leavePolicies.kind, leavePolicies.leaveType], set }).returning();
      stored.push(viewOf(saved!));
    }
    return stored;
  }, entries.map((e) => [e.kind ?? ANY, e.leave_type]));
}

/** Remove the policy of (kind, leave type): its records fall back to the next one. Null: there was none. */
export async function deletePolicy(deps: StoreDeps, kind: string, leaveType: string): Promise<PolicyChange | null> {
  const result = await change(deps, async (tx) => {
    const removed = await tx.delete(leavePolicies).where(and(eq(leavePolicies.kind, kind), eq(leavePolicies.leaveType, leaveType))).returning();
    return removed.map(viewOf);
  }, [[kind, leaveType]]);
  return result.policies.length === 0 ? null : result;
}

/**
 * A change of stored policies and its re-sync, in one transaction. Policy writes take one lock, so
 * two changes do not compute their re-syncs from each other's half. The records a change can
 * touch are those of the kinds and types it names (all of them for `*`) whose block is still to
 * come or under way (they end after now); of those, only the ones whose effective policy changes
 * in a field an outbox kind depends on (POLICY_RESYNCS; a more specific policy may shadow the
 * change) are queued for that kind. Past blocks stay as they were made.
 */
async function change(deps: StoreDeps, write: (tx: Tx) => Promise<PolicyView[]>, touched: Array<[string, string]>): Promise<PolicyChange> {
  const defaults = policyDefaults(deps.config);
  const now = deps.clock.now();
  const keys: string[] = [];
  let resynced = 0;
  const policies = await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('leave_policies', 0))`);
    const before = new PolicySet(await tx.select().from(leavePolicies), defaults);
    const policies = await write(tx);
    const after = new PolicySet(await tx.select().from(leavePolicies), defaults);
    const candidates = await futureRecords(tx, deps.config.DEFAULT_TIMEZONE, now, touched);
    for (const r of candidates) {
      const a = before.resolve(r.kind, r.leaveType);
      const b = after.resolve(r.kind, r.leaveType);
      const kinds = POLICY_RESYNCS.filter((x) => (x.when?.(deps.config) ?? true) && x.fields.some((f) => a[f] !== b[f]));
      if (kinds.length === 0) continue;
      // the lock every writer of the record takes: its row and its pending outbox rows change together
      await lockKey(tx, r.instanceCode);
      for (const x of kinds) {
        const key = x.key?.(r.instanceCode) ?? r.instanceCode;
        await enqueue(tx, key, x.kind, { reason: 'policy change' });
        keys.push(key);
      }
      resynced += 1;
    }
    return policies;
  });
  if (keys.length > 0) deps.onOutboxWritten?.(keys);
  return { policies, resynced };
}

/**
 * Approved (or held, pending) records of a kind with blocks that end after `now`, of the kinds and
 * types named (`*`: any), in instance order (the order locks are taken in).
 */
async function futureRecords(tx: Tx, defaultZone: string, now: Date, touched: Array<[string, string]>) {
  const typeOf = sql`coalesce(${leaves.leaveType}, ${leaves.leaveTypeKey})`;
  const kindOf = sql`coalesce(${leaves.kind}, 'leave')`;
  const any = touched.map(([kind, type]) =>
    and(kind === ANY ? undefined : sql`${kindOf} = ${kind}`, type === ANY ? undefined : sql`${typeOf} = ${type}`) ?? sql`true`,
  );
  const rows = await tx
    .select({ instanceCode: leaves.instanceCode, kind: leaves.kind, leaveType: sql<string | null>`${typeOf}` })
    .from(leaves)
    .where(
      and(
        inArray(leaves.status, ['approved', 'pending']),
        sql`${kindOf} in ${[...BLOCKING_KINDS]}`,
        sql`${leaves.endLocal} is not null`,
        // the end's wall-clock time in the record's zone, as an instant
        sql`(${leaves.endLocal}::timestamp at time zone coalesce(${leaves.timezone}, ${defaultZone})) > ${now.toISOString()}::timestamptz`,
        sql`(${sql.join(any, sql` or `)})`,
      ),
    )
    .orderBy(asc(leaves.instanceCode));
  return rows;
}
