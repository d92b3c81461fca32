import type { Deps } from '../deps.js';
import { loadPolicies, policyDefaults, type Visibility } from '../policies/resolve.js';

/** What visibilitiesOf reads of a record. */
export interface VisibilitySource {
  kind: string | null;
  leaveType: string | null;
  leaveTypeKey: string | null;
}

/** The type name a record's policy is looked up by, as the export and the block's policy use it. */
const policyType = (r: VisibilitySource): string | null => r.leaveType ?? r.leaveTypeKey;

/**
 * How much of each record's absence the team calendar and the feeds show: its (kind, leave type)
 * policy's visibility (src/policies/resolve.ts), in one query for all of them.
 */
export async function visibilitiesOf(deps: Pick<Deps, 'db' | 'config'>, records: VisibilitySource[]): Promise<Visibility[]> {
  if (records.length === 0) return [];
  const policies = await loadPolicies(deps.db, policyDefaults(deps.config), records.map(policyType));
  return records.map((r) => policies.resolve(r.kind, policyType(r)).visibility);
}
