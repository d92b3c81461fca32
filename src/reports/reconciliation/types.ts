import { z } from 'zod';

/** In report order. Every category appears in the summary, with 0 when all is well. */
export const CATEGORIES = [
  'calendar_missing',
  'calendar_pending',
  'calendar_dead',
  'calendar_fallback',
  'block_for_reverted',
  'google_orphan',
  'google_mismatch',
  'team_calendar_missing',
  'team_calendar_orphan',
  'team_calendar_mismatch',
  'feishu_status_mismatch',
  'attendance_total_mismatch',
  'duplicate_source',
  'single_variant',
  'quarantined_event',
  'employee_without_email',
  'unmapped_leave_type',
  'verify_failed',
] as const;
export type Category = (typeof CATEGORIES)[number];

export type Severity = 'error' | 'warning' | 'info';

export interface DriftItem {
  category: Category;
  instance_code: string | null;
  employee_id: string | null;
  /** what is wrong, for a person */
  detail: string;
  /** what to do about it */
  action: string;
  severity: Severity;
  /** machine-readable particulars (outbox id, age, event id, times) */
  data?: Record<string, unknown>;
}

export interface ReconciliationReport {
  from: string;
  to: string;
  generated_at: string;
  verified: { google: boolean; feishu: boolean };
  /** every item of the period, whatever the page and the category filter */
  summary: Record<Category, number> & { total: number; leaves_checked: number };
  /** the same items by severity */
  by_severity: Record<Severity, number>;
  /** this page's items */
  items: DriftItem[];
  /** the cursor of the next page; null when this page is the last */
  next_cursor: string | null;
}

export interface VerifyOptions {
  google?: boolean;
  feishu?: boolean;
}

/**
 * V1 and V2 of one approval normally arrive within seconds of each other, but either may be in
 * Feishu's retry schedule (15 s, 5 min, 1 h …): a leave is only called single-variant once it is
 * older than this.
 */
export const SINGLE_VARIANT_GRACE_MS = 15 * 60_000;
/** A pending outbox message younger than this is normal traffic, not yet worth a warning. */
export const PENDING_WARN_MS = 5 * 60_000;
/**
 * Stop calling a failing external service after this many failures in one report (lookups
 * already in flight then still finish, so up to VERIFY_CONCURRENCY − 1 more may fail).
 */
export const VERIFY_FAILURE_LIMIT = 5;
/** Lookups in flight at once (Feishu and Google both rate-limit per app). */
export const VERIFY_CONCURRENCY = 4;

/** `verify=google,feishu`: which outside services the reconciliation asks. */
export const VerifyParam = z
  .string()
  .optional()
  .transform((value, ctx): VerifyOptions => {
    const out: VerifyOptions = {};
    for (const part of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (part === 'google') out.google = true;
      else if (part === 'feishu') out.feishu = true;
      else ctx.addIssue({ code: 'custom', message: `unknown target ${JSON.stringify(part.slice(0, 40))} (google, feishu)` });
    }
    return out;
  });
