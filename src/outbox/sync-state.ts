/** A run's starting state (leave, block, stored addresses, policy), read for several leaves in one prepared query. */
import { and, desc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { calendarBlocks, employees, leavePolicies, leaves } from '../db/schema.js';
import type { StoredEmail } from '../employees.js';
import type { StoredPolicy } from '../policies/resolve.js';

/**
 * What a run starts from: the leave, its block and its employee's stored addresses. The drainer
 * reads it for a whole claim at once (readSyncStates); a run without one reads its own.
 */
export interface SyncState {
  leave: LeaveRow;
  /**
   * the record's single block: its plain one (key `plain`, a busy or free policy) if it has one,
   * else its out-of-office one (key ''); a trip's blocks, and both of a record that has a plain
   * block, are read when its run starts
   */
  block: BlockRow | null;
  stored: StoredEmail;
  /** the most specific policy row of the record's kind and type (src/policies/resolve.ts), or none */
  policy: StoredPolicy | null;
}

export type LeaveRow = typeof leaves.$inferSelect;
export type BlockRow = typeof calendarBlocks.$inferSelect;

type JoinedState = { leave: LeaveRow; block: BlockRow | null; email: string | null; emailOverride: string | null; policy: StoredPolicy | null };
const toState = (j: JoinedState): SyncState => ({ leave: j.leave, block: j.block, stored: { email: j.email, emailOverride: j.emailOverride }, policy: j.policy });

/**
 * One leave's state in one round trip, built once per database with drizzle's prepare() (building
 * a query with this many columns from the query builder costs more CPU than Postgres spends
 * running it). The block and the employee are LATERAL lookups by key: as plain joins, on tables
 * analyzed while small (a new install, a backlog drained after it), the planner hashed the whole
 * employees table for every claim.
 */
function joinedState(db: Db) {
  const block = db
    .select()
    .from(calendarBlocks)
    .where(and(eq(calendarBlocks.instanceCode, leaves.instanceCode), inArray(calendarBlocks.blockKey, ['', 'plain'])))
    .orderBy(desc(calendarBlocks.blockKey))
    .limit(1)
    .as('b');
  // The policy row resolvePolicy would pick, most specific first: the type before the kind.
  const policy = db
    .select()
    .from(leavePolicies)
    .where(
      and(
        sql`${leavePolicies.kind} in (coalesce(${leaves.kind}, 'leave'), '*')`,
        sql`${leavePolicies.leaveType} in (coalesce(${leaves.leaveType}, ${leaves.leaveTypeKey}, '*'), '*')`,
      ),
    )
    .orderBy(sql`${leavePolicies.leaveType} = '*'`, sql`${leavePolicies.kind} = '*'`)
    .limit(1)
    .as('p');
  const employee = db
    .select({ email: employees.email, emailOverride: employees.emailOverride })
    .from(employees)
    .where(eq(employees.employeeId, leaves.employeeId))
    .limit(1)
    .as('e');
  // the block's columns as the subquery exposes them (aliased to b), typed as the table's
  const blockColumns = Object.fromEntries(
    Object.keys(getTableColumns(calendarBlocks)).map((k) => [k, block[k as keyof typeof block]]),
  ) as typeof block._.selectedFields;
  const policyColumns = Object.fromEntries(
    Object.keys(getTableColumns(leavePolicies)).map((k) => [k, policy[k as keyof typeof policy]]),
  ) as typeof policy._.selectedFields;
  return db
    .select({ leave: leaves, block: blockColumns, email: employee.email, emailOverride: employee.emailOverride, policy: policyColumns })
    .from(leaves)
    .leftJoinLateral(block, sql`true`)
    .leftJoinLateral(employee, sql`true`)
    .leftJoinLateral(policy, sql`true`);
}

function buildReadStates(db: Db) {
  return joinedState(db)
    .where(sql`${leaves.instanceCode} = any(${sql.placeholder('codes')}::text[])`)
    .prepare('lb_sync_read_states');
}
const prepared = new WeakMap<Db, ReturnType<typeof buildReadStates>>();

/**
 * The states of several leaves in one query (the drainer's claim, or one run); leaves that do not
 * exist are absent. Built once per database (see joinedState) and given the codes as one array.
 */
export async function readSyncStates(db: Db, instanceCodes: string[]): Promise<Map<string, SyncState>> {
  const out = new Map<string, SyncState>();
  if (instanceCodes.length === 0) return out;
  let q = prepared.get(db);
  if (!q) prepared.set(db, (q = buildReadStates(db)));
  const rows = await q.execute({ codes: instanceCodes });
  for (const r of rows) out.set(r.leave.instanceCode, toState(r));
  return out;
}
