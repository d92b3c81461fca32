import { CATEGORIES, type Category, type DriftItem } from './types.js';

/**
 * Where an item comes from, in the order the report lists the sources' items of the same
 * category and leave: its own checks, the per-person email check, the per-type policy check,
 * quarantined events, Google, the team calendar, Feishu, the same time off from both sources.
 */
export const PHASES = ['leave', 'email', 'types', 'quarantine', 'google', 'team', 'feishu', 'duplicates'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * An item's place in the report: by category (CATEGORIES order), then instance code (items
 * without one last), then source, then the order the source gave them in. It depends only on the
 * records, so a cursor made from it stays valid while other items come and go: a page continues
 * strictly after the last item of the page before, and no item is listed twice or skipped.
 */
export interface ItemKey {
  category: Category;
  code: string | null;
  phase: Phase;
  n: number;
}

const categoryIndex = new Map(CATEGORIES.map((c, i) => [c, i]));
const phaseIndex = new Map(PHASES.map((p, i) => [p, i]));

export function compareKeys(a: ItemKey, b: ItemKey): number {
  const byCategory = categoryIndex.get(a.category)! - categoryIndex.get(b.category)!;
  if (byCategory) return byCategory;
  if (a.code !== b.code) {
    if (a.code === null) return 1;
    if (b.code === null) return -1;
    // code units, as the rest of the report compares instance codes
    return a.code < b.code ? -1 : 1;
  }
  return phaseIndex.get(a.phase)! - phaseIndex.get(b.phase)! || a.n - b.n;
}

const toBase64Url = (text: string) =>
  btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const fromBase64Url = (text: string) => new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));

/** An opaque cursor: the key of the last item of a page. */
export function encodeCursor(key: ItemKey): string {
  return toBase64Url(JSON.stringify([categoryIndex.get(key.category), key.code, phaseIndex.get(key.phase), key.n]));
}

/** A cursor back to its key, or null when it is not one this report gave. */
export function decodeCursor(cursor: string): ItemKey | null {
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(cursor)) return null;
  let value: unknown;
  try {
    value = JSON.parse(fromBase64Url(cursor));
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 4) return null;
  const [c, code, p, n] = value as unknown[];
  const category = typeof c === 'number' ? CATEGORIES[c] : undefined;
  const phase = typeof p === 'number' ? PHASES[p] : undefined;
  if (!category || !phase || !(code === null || typeof code === 'string') || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return null;
  return { category, code, phase, n };
}

/**
 * The first `limit` items after `after`, from items offered in any order: at most limit + 1 are
 * held at a time (the one more says whether there is a next page).
 */
export class PageSelector {
  private readonly held: Array<{ item: DriftItem; key: ItemKey }> = [];
  constructor(
    private readonly limit: number,
    private readonly after: ItemKey | null,
  ) {}

  offer(item: DriftItem, key: ItemKey): void {
    if (this.after && compareKeys(key, this.after) <= 0) return;
    const { held } = this;
    if (held.length > this.limit && compareKeys(key, held.at(-1)!.key) >= 0) return;
    let lo = 0;
    let hi = held.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(held[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    held.splice(lo, 0, { item, key });
    if (held.length > this.limit + 1) held.pop();
  }

  result(): { items: DriftItem[]; last: ItemKey | null; more: boolean } {
    const page = this.held.slice(0, this.limit);
    return { items: page.map((h) => h.item), last: page.at(-1)?.key ?? null, more: this.held.length > this.limit };
  }
}
