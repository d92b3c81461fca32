import type { Deps } from '../deps.js';
import type { Visibility } from './team.js';

/** What visibilityOf reads of a record. */
export interface VisibilitySource {
  kind: string | null;
  leaveType: string | null;
}

/**
 * How much of each record's absence the team calendar and the feeds show, by its leave type's
 * policy.
 */
export async function visibilitiesOf(_deps: Pick<Deps, 'db'>, records: VisibilitySource[]): Promise<Visibility[]> {
  return records.map(() => 'name_and_type');
}
