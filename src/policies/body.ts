import { z } from 'zod';
import { APPROVAL_KINDS } from '../leave/types.js';

/**
 * A policy's body as the API, the CLI and the dashboard take it (docs/contract.md, "Policies"). The
 * field names are the contract's; src/policies/resolve.ts turns stored rows into effective policies.
 */

/**
 * What an approval's block is in the employee's calendar: an out-of-office event (Google declines
 * meetings per its decline mode), an opaque default event (busy, declines nothing), a transparent
 * one (free), or no block at all.
 */
export const CALENDAR_EFFECTS = ['outOfOffice', 'busy', 'free', 'none'] as const;
export type CalendarEffect = (typeof CALENDAR_EFFECTS)[number];

/** Google's outOfOfficeProperties.autoDeclineMode (https://developers.google.com/calendar/api/v3/reference/events). */
export const DECLINE_MODES = ['declineNone', 'declineAllConflictingInvitations', 'declineOnlyNewConflictingInvitations'] as const;
export type DeclineMode = (typeof DECLINE_MODES)[number];

/** How an absence shows on the team calendar and in feeds: "Alice — Annual leave", "Alice — away", or not at all. */
export const VISIBILITIES = ['name_and_type', 'name_only', 'hidden'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** `*`: the default for every kind (or every type). */
export const ANY = '*';

/** The kinds a policy may name, `*` included. */
export const POLICY_KINDS = [ANY, ...APPROVAL_KINDS] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export const TITLE_MAX = 200;
export const PAYROLL_CODE_MAX = 64;
export const LEAVE_TYPE_MAX = 200;

// Control characters would break a CSV line, an ICS line or a calendar title.
const printable = (what: string) => (s: string) => !/[\u0000-\u001f\u007f]/.test(s) || `${what} must not contain control characters`;
const text = (max: number, what: string) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .refine((s) => s.trim() !== '', 'must not be blank')
    .refine((s) => printable(what)(s) === true, `${what} must not contain control characters`);

export const PolicyKindSchema = z.enum(POLICY_KINDS, { error: `unknown kind: expected ${POLICY_KINDS.join(', ')}` });

/** A leave type as a path segment or an import entry: the resolved name, or `*`. */
export const LeaveTypeSchema = text(LEAVE_TYPE_MAX, 'a leave type');

const fields = {
  kind: PolicyKindSchema.optional(),
  calendar: z.enum(CALENDAR_EFFECTS, { error: `expected ${CALENDAR_EFFECTS.join(', ')}` }),
  decline_mode: z.enum(DECLINE_MODES, { error: `invalid decline mode: expected ${DECLINE_MODES.join(', ')}` }).nullable().optional(),
  title: text(TITLE_MAX, 'a title').nullable().optional(),
  visibility: z.enum(VISIBILITIES, { error: `expected ${VISIBILITIES.join(', ')}` }),
  payroll_code: text(PAYROLL_CODE_MAX, 'a payroll code').nullable().optional(),
  counts_as_leave: z.boolean().nullable().optional(),
};

/**
 * A decline mode belongs to out-of-office blocks only: on another block it would do nothing, so it
 * is refused rather than stored.
 */
const declineOnlyOutOfOffice = (b: { calendar: CalendarEffect; decline_mode?: DeclineMode | null }, ctx: z.RefinementCtx) => {
  if (b.decline_mode != null && b.calendar !== 'outOfOffice') {
    ctx.addIssue({ code: 'custom', path: ['decline_mode'], message: `a decline mode applies to outOfOffice blocks only (calendar is ${b.calendar})` });
  }
};

/** The body of PUT /api/policies/:leave_type. `kind` may come here or as `?kind=` (default `*`). */
export const PolicyBody = z.strictObject(fields).superRefine(declineOnlyOutOfOffice);
export type PolicyBody = z.output<typeof PolicyBody>;

/**
 * One entry of `leave-bridge policy import <file.json>`: a body with its leave type. GET
 * /api/policies' items are entries too (their `updated_at` is ignored), so a list can be imported.
 */
export const PolicyEntry = z
  .strictObject({ ...fields, leave_type: LeaveTypeSchema, updated_at: z.string().optional() })
  .superRefine(declineOnlyOutOfOffice);
export type PolicyEntry = z.output<typeof PolicyEntry>;
