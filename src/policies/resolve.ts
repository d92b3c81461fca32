import { inArray } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Queryable } from '../db/client.js';
import { leavePolicies } from '../db/schema.js';
import { BLOCKING_KINDS, type ApprovalKind } from '../leave/types.js';
import { ANY, type CalendarEffect, type DeclineMode, type Visibility } from './body.js';

export { ANY, CALENDAR_EFFECTS, DECLINE_MODES, VISIBILITIES, type CalendarEffect, type DeclineMode, type Visibility } from './body.js';

/**
 * The effective policy of an approval's (kind, leave type): what its calendar block is, its title,
 * how it shows on the team calendar and in feeds, its payroll code, and whether it counts in the
 * dashboard's "on leave" figures. Every field is resolved: nothing is left for the caller to default.
 */
export interface Policy {
  calendar: CalendarEffect;
  /** the out-of-office block's decline mode; null for any other block */
  decline_mode: DeclineMode | null;
  /** the block's title */
  title: string;
  visibility: Visibility;
  payroll_code: string | null;
  counts_as_leave: boolean;
}

/** A policy and the stored row it came from (null: no row matched, the built-in default). */
export interface EffectivePolicy extends Policy {
  source: { kind: string; leave_type: string } | null;
}

/** A leave_policies row as stored. */
export type StoredPolicy = typeof leavePolicies.$inferSelect;

/** The settings a policy falls back to where it does not say: today's behaviour. */
export interface PolicyDefaults {
  declineMode: DeclineMode;
  title: string;
}

export const policyDefaults = (config: Pick<Config, 'CALENDAR_DECLINE_MODE' | 'CALENDAR_EVENT_TITLE'>): PolicyDefaults => ({
  declineMode: config.CALENDAR_DECLINE_MODE,
  title: config.CALENDAR_EVENT_TITLE,
});

/** A record's kind for policies: a record whose kind is not known yet (only a revert seen) was a leave. */
export const policyKindOf = (kind: string | null | undefined): string => kind ?? 'leave';

/**
 * The built-in policy, when no row matches: what every approval did before policies. Kinds with
 * blocks (leave, out, trip) get an out-of-office block with CALENDAR_DECLINE_MODE and the generic
 * CALENDAR_EVENT_TITLE; others none. Visibility is `name_only` ("Alice — away"): a type's name can
 * be health data ("Sick leave"), so showing it to everyone is a choice made per type, never the
 * default. Only leaves count in the "on leave" figures, as before.
 */
export function builtInPolicy(kind: string, defaults: PolicyDefaults): Policy {
  const blocks = (BLOCKING_KINDS as readonly string[]).includes(kind);
  return {
    calendar: blocks ? 'outOfOffice' : 'none',
    decline_mode: blocks ? defaults.declineMode : null,
    title: defaults.title,
    visibility: 'name_only',
    payroll_code: null,
    counts_as_leave: kind === 'leave',
  };
}

/** A stored row as the policy it sets, its unset fields filled from the defaults. */
export function policyOfRow(row: StoredPolicy, kind: string, defaults: PolicyDefaults): Policy {
  const calendar = row.calendar as CalendarEffect;
  return {
    calendar,
    decline_mode: calendar === 'outOfOffice' ? ((row.declineMode as DeclineMode | null) ?? defaults.declineMode) : null,
    title: row.title ?? defaults.title,
    visibility: row.visibility as Visibility,
    payroll_code: row.payrollCode,
    counts_as_leave: row.countsAsLeave ?? kind === 'leave',
  };
}

/** The effective policy of a record of `kind` whose most specific matching row is `row` (null: none matched). */
export function effectivePolicy(row: StoredPolicy | null, kind: string | null | undefined, defaults: PolicyDefaults): EffectivePolicy {
  const k = policyKindOf(kind);
  return row
    ? { ...policyOfRow(row, k, defaults), source: { kind: row.kind, leave_type: row.leaveType } }
    : { ...builtInPolicy(k, defaults), source: null };
}

/**
 * The rows tried for (kind, type), most specific first. The type comes before the kind: a policy
 * for "Sick leave" is about what sick leave reveals and codes as, whatever kind of approval
 * carries it, while `(leave, *)` is only the default for leaves.
 */
export function candidates(kind: string, leaveType: string | null): Array<[string, string]> {
  const typed: Array<[string, string]> = leaveType === null ? [] : [[kind, leaveType], [ANY, leaveType]];
  return [...typed, [kind, ANY], [ANY, ANY]];
}

const keyOf = (kind: string, leaveType: string) => `${kind}\u0000${leaveType}`;

/**
 * A set of stored policies, resolved without further queries. `resolve` gives the effective policy
 * of (kind, leave type); `explicit` says whether a row names the type itself (for the kind or for
 * every kind): a type without one is `unmapped_leave_type` in the reconciliation.
 */
export class PolicySet {
  private readonly byKey: Map<string, StoredPolicy>;
  /** resolved once per (kind, type): a report resolves every record of a period against few types */
  private readonly resolved = new Map<string, Readonly<EffectivePolicy>>();

  constructor(
    readonly rows: readonly StoredPolicy[],
    readonly defaults: PolicyDefaults,
  ) {
    this.byKey = new Map(rows.map((r) => [keyOf(r.kind, r.leaveType), r]));
  }

  /** `kind` null: a record whose kind is not known (a leave); `leaveType` null: a record without a type name. */
  resolve(kind: string | null | undefined, leaveType: string | null | undefined): Readonly<EffectivePolicy> {
    const k = policyKindOf(kind);
    // a type may be null (no name): its key differs from every named type's
    const memo = leaveType == null ? `${k}\u0001` : keyOf(k, leaveType);
    let policy = this.resolved.get(memo);
    if (!policy) {
      const row = candidates(k, leaveType ?? null)
        .map(([ck, ct]) => this.byKey.get(keyOf(ck, ct)))
        .find((r) => r !== undefined);
      // shared by every caller that asks for the same (kind, type): frozen, so none can change it for the others
      policy = Object.freeze(effectivePolicy(row ?? null, k, this.defaults));
      this.resolved.set(memo, policy);
    }
    return policy;
  }

  explicit(kind: string | null | undefined, leaveType: string): boolean {
    const k = policyKindOf(kind);
    return this.byKey.has(keyOf(k, leaveType)) || this.byKey.has(keyOf(ANY, leaveType));
  }
}

/**
 * The policies that can apply to the given types (their own rows and the `*` rows), in one query;
 * without `leaveTypes`, every stored policy. The batch form for reports: load once, resolve per line.
 */
export async function loadPolicies(db: Queryable, defaults: PolicyDefaults, leaveTypes?: Iterable<string | null | undefined>): Promise<PolicySet> {
  const types = leaveTypes === undefined ? undefined : [...new Set([ANY, ...[...leaveTypes].filter((t): t is string => typeof t === 'string')])];
  const rows = types === undefined ? await db.select().from(leavePolicies) : await db.select().from(leavePolicies).where(inArray(leavePolicies.leaveType, types));
  return new PolicySet(rows, defaults);
}

/** The effective policy of one (kind, leave type). */
export async function resolvePolicy(
  db: Queryable,
  defaults: PolicyDefaults,
  kind: ApprovalKind | string | null | undefined,
  leaveType: string | null | undefined,
): Promise<EffectivePolicy> {
  return (await loadPolicies(db, defaults, [leaveType])).resolve(kind, leaveType);
}

/** The effective policies of many (kind, leave type) pairs, in one query, keyed by policyKey. */
export async function resolvePolicies(
  db: Queryable,
  defaults: PolicyDefaults,
  pairs: Iterable<{ kind: string | null | undefined; leave_type: string | null | undefined }>,
): Promise<Map<string, EffectivePolicy>> {
  const list = [...pairs];
  const set = await loadPolicies(db, defaults, list.map((p) => p.leave_type));
  return new Map(list.map((p) => [policyKey(p.kind, p.leave_type), set.resolve(p.kind, p.leave_type)]));
}

/** The key resolvePolicies answers under. */
export const policyKey = (kind: string | null | undefined, leaveType: string | null | undefined): string =>
  keyOf(policyKindOf(kind), leaveType ?? '\u0000');
