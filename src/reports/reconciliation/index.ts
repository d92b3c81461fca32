import type { Deps } from '../../deps.js';
import type { Period } from '../period.js';
import { loadPolicies, policyDefaults } from '../../policies/resolve.js';
import { checkDuplicateSources, checkEmails, checkLeaves, checkQuarantined, checkUnmappedTypes } from './checks.js';
import { loadFacts } from './facts.js';
import { CATEGORIES, type Category, type DriftItem, type ReconciliationReport, type VerifyOptions } from './types.js';
import { verifyFeishu } from './verify-feishu.js';
import { verifyGoogle } from './verify-google.js';
import { verifyTeamCalendar } from './verify-team.js';

export { formatAge } from './checks.js';
export { leavesInPeriod } from './facts.js';
export * from './types.js';

/**
 * Drift between what we recorded, what we asked Google to hold, and what Feishu says — for the
 * leaves of a period. Only problems are listed, each with what to do. Google and Feishu are asked
 * only when `verify` says so; their failures become `verify_failed` items, never an error of the
 * report itself.
 */
export async function reconcile(
  deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu' | 'config'>,
  input: Period & { verify?: VerifyOptions },
): Promise<ReconciliationReport> {
  const { db } = deps;
  const now = deps.clock.now();
  const period = { from: input.from, to: input.to };
  const items: DriftItem[] = [];

  const facts = await loadFacts(db, period);
  const policies = await loadPolicies(db, policyDefaults(deps.config));
  const { scope, blockByCode, emailOf, messagesByKey } = facts;
  checkLeaves(facts, now, items, policies);
  checkEmails(facts, items);
  checkQuarantined(facts, items);
  checkUnmappedTypes(facts, policies, items);
  checkDuplicateSources(facts, items);

  const verified = { google: false, feishu: false };
  if (input.verify?.google) {
    verified.google = true;
    await verifyGoogle(deps, period, scope, blockByCode, emailOf, messagesByKey, items);
  }
  // the team absence calendar, when there is one: our records always, Google with verify=google
  await verifyTeamCalendar(deps, period, scope, input.verify?.google === true, items);
  if (input.verify?.feishu) {
    verified.feishu = true;
    await verifyFeishu(deps, scope, items);
  }

  const order = new Map(CATEGORIES.map((c, i) => [c, i]));
  // Stable: items without an instance (a service that stopped answering) keep their place after the others.
  const byCode = (a: DriftItem, b: DriftItem) =>
    a.instance_code === b.instance_code ? 0 : a.instance_code === null ? 1 : b.instance_code === null ? -1 : a.instance_code < b.instance_code ? -1 : 1;
  items.sort((a, b) => order.get(a.category)! - order.get(b.category)! || byCode(a, b));
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const i of items) counts[i.category]++;
  return {
    from: period.from,
    to: period.to,
    generated_at: now.toISOString(),
    verified,
    summary: { ...counts, total: items.length, leaves_checked: scope.length },
    items,
  };
}

