import type { Deps } from '../../deps.js';
import type { Period } from '../period.js';
import { loadPolicies, policyDefaults } from '../../policies/resolve.js';
import { teamCalendarOn } from '../../leave/team.js';
import { checkLeaves, checkQuarantined, checkSourcePairs, EmailCheck, UnmappedTypesCheck } from './checks.js';
import { leavesInPeriodPage, loadFacts, mergeFacts, quarantinedPage, sourcePairsPage, type Facts, type SourcePair } from './facts.js';
import { decodeCursor, encodeCursor, PageSelector, type ItemKey, type Phase } from './paging.js';
import { DEFAULT_PAGE_ITEMS } from './query.js';
import { CATEGORIES, type Category, type DriftItem, type ReconciliationReport, type Severity, type VerifyOptions } from './types.js';
import { feishuVerification } from './verify-feishu.js';
import { verifyGoogle } from './verify-google.js';
import { verifyTeamCalendar } from './verify-team.js';

export { formatAge } from './checks.js';
export { countLeavesInPeriod } from './facts.js';
export { decodeCursor } from './paging.js';
export { DEFAULT_PAGE_ITEMS, MAX_PAGE_ITEMS, ReconciliationQuery } from './query.js';
export * from './types.js';

/** Leaves judged together: one read of their outbox rows, blocks, sums and people. */
export const LEAVES_PER_CHUNK = 1_000;

export interface DriftTotals {
  summary: ReconciliationReport['summary'];
  by_severity: Record<Severity, number>;
  verified: { google: boolean; feishu: boolean };
}

/**
 * Drift between what we recorded, what we asked Google to hold, and what Feishu says — for the
 * leaves of a period. Only problems are found, each with what to do. Google and Feishu are asked
 * only when `verify` says so; their failures become `verify_failed` items, never an error of the
 * report itself.
 *
 * The period's leaves are judged a page at a time (LEAVES_PER_CHUNK), each item handed to `emit`
 * with its place in the report's order (ItemKey) and then forgotten, so what the report holds
 * does not grow with the period. verify=google and the team calendar are the exception: they judge
 * a calendar of the whole period at once (an event may belong to any of its leaves), so they keep
 * the period's records.
 */
export async function scanDrift(
  deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu' | 'config'>,
  input: Period & { verify?: VerifyOptions },
  emit: (item: DriftItem, key: ItemKey) => void,
): Promise<DriftTotals> {
  const { db } = deps;
  const now = deps.clock.now();
  const period = { from: input.from, to: input.to };
  const counts = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const bySeverity: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  let total = 0;
  const groupOf = (item: DriftItem) => `${item.category}\u0000${item.instance_code ?? ''}`;
  /**
   * items of one phase, numbered within their (category, instance code) in the order they came;
   * `seen` carries the numbering over when one group's items come in several calls
   */
  const hand = (phase: Phase, items: DriftItem[], seen = new Map<string, number>()) => {
    for (const item of items) {
      const group = groupOf(item);
      const n = seen.get(group) ?? 0;
      seen.set(group, n + 1);
      counts[item.category]++;
      bySeverity[item.severity]++;
      total++;
      emit(item, { category: item.category, code: item.instance_code, phase, n });
    }
  };

  const policies = await loadPolicies(db, policyDefaults(deps.config));
  const verified = { google: Boolean(input.verify?.google), feishu: Boolean(input.verify?.feishu) };
  const team = teamCalendarOn(deps.config);
  const emails = new EmailCheck();
  const unmapped = new UnmappedTypesCheck(policies);
  let feishuItems: DriftItem[] = [];
  const feishu = verified.feishu ? feishuVerification(deps, (item) => feishuItems.push(item)) : null;
  const kept: Facts[] = [];
  let leavesChecked = 0;
  let after: string | null = null;
  for (;;) {
    const scope = await leavesInPeriodPage(db, period, after, LEAVES_PER_CHUNK);
    if (scope.length === 0) break;
    leavesChecked += scope.length;
    const facts = await loadFacts(db, scope);
    const items: DriftItem[] = [];
    checkLeaves(facts, now, items, policies);
    hand('leave', items);
    emails.add(facts);
    unmapped.add(facts);
    if (feishu) {
      await feishu.check(scope);
      hand('feishu', feishuItems);
      feishuItems = [];
    }
    if (verified.google || team) kept.push(facts);
    if (scope.length < LEAVES_PER_CHUNK) break;
    after = scope.at(-1)!.instanceCode;
  }
  hand('email', emails.items());
  hand('types', unmapped.items());
  // a page at a time, in CoreHR code order: only the last code of a page can continue on the next
  const pairsSeen = new Map<string, number>();
  for (let afterPair: SourcePair | null = null; ; ) {
    const pairs = await sourcePairsPage(db, period, afterPair, LEAVES_PER_CHUNK);
    const items: DriftItem[] = [];
    checkSourcePairs(pairs, items);
    hand('duplicates', items, pairsSeen);
    if (pairs.length < LEAVES_PER_CHUNK) break;
    afterPair = pairs.at(-1)!;
    const continued = items.at(-1)!;
    for (const group of pairsSeen.keys()) if (group !== groupOf(continued)) pairsSeen.delete(group);
  }

  const quarantined: DriftItem[] = [];
  for (let afterId = 0; ; ) {
    const rows = await quarantinedPage(db, afterId, LEAVES_PER_CHUNK);
    checkQuarantined(rows, quarantined);
    if (rows.length < LEAVES_PER_CHUNK) break;
    afterId = rows.at(-1)!.id;
  }
  hand('quarantine', quarantined);

  if (verified.google || team) {
    const all = mergeFacts(kept);
    kept.length = 0;
    if (verified.google) {
      const items: DriftItem[] = [];
      await verifyGoogle(deps, period, all.scope, all.blockByCode, all.emailOf, all.messagesByKey, items);
      hand('google', items);
    }
    // the team absence calendar, when there is one: our records always, Google with verify=google
    const items: DriftItem[] = [];
    await verifyTeamCalendar(deps, period, all.scope, verified.google, items);
    hand('team', items);
  }
  if (feishu) {
    feishu.finish();
    hand('feishu', feishuItems);
  }

  return { summary: { ...counts, total, leaves_checked: leavesChecked }, by_severity: bySeverity, verified };
}

/**
 * The report, a page of items at a time: the summary always counts every item of the period
 * (whatever the category filter and the page), `items` are the next `limit` items of the report's
 * order after `cursor` (of `category` when given), and `next_cursor` continues after the last of
 * them (null at the end).
 */
export async function reconcile(
  deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu' | 'config'>,
  input: Period & { verify?: VerifyOptions; limit?: number; cursor?: string; category?: Category },
): Promise<ReconciliationReport> {
  const now = deps.clock.now();
  const limit = input.limit ?? DEFAULT_PAGE_ITEMS;
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  const page = new PageSelector(limit, after);
  const totals = await scanDrift(deps, input, (item, key) => {
    if (input.category === undefined || item.category === input.category) page.offer(item, key);
  });
  const { items, last, more } = page.result();
  return {
    from: input.from,
    to: input.to,
    generated_at: now.toISOString(),
    verified: totals.verified,
    summary: totals.summary,
    by_severity: totals.by_severity,
    items,
    next_cursor: more && last ? encodeCursor(last) : null,
  };
}

export interface DriftOverview extends DriftTotals {
  /** the first items of each category, in the report's order */
  first: Partial<Record<Category, DriftItem[]>>;
  /** where each category's second page starts (null: everything is in `first`) */
  next: Partial<Record<Category, string | null>>;
}

/** Counts per category and the first `perCategory` items of each (the dashboard). */
export async function driftOverview(
  deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu' | 'config'>,
  input: Period & { verify?: VerifyOptions },
  perCategory: number,
): Promise<DriftOverview> {
  const pages = new Map<Category, PageSelector>();
  const totals = await scanDrift(deps, input, (item, key) => {
    let page = pages.get(item.category);
    if (!page) pages.set(item.category, (page = new PageSelector(perCategory, null)));
    page.offer(item, key);
  });
  const first: DriftOverview['first'] = {};
  const next: DriftOverview['next'] = {};
  for (const category of CATEGORIES) {
    const page = pages.get(category);
    if (!page) continue;
    const { items, last, more } = page.result();
    first[category] = items;
    next[category] = more && last ? encodeCursor(last) : null;
  }
  return { ...totals, first, next };
}
