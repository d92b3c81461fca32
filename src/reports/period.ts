import { z } from 'zod';
import { AppError } from '../errors.js';
import { dateFromNumber, dateNumber, endOfMonth } from '../shared/dates.js';
import { firstIssue } from '../shared/zod-issue.js';

/**
 * A report period: local dates, both inclusive. Shared by the payroll export, the reconciliation
 * report and the dashboard.
 */
export interface Period {
  from: string;
  to: string;
}

/** Longest period a report accepts: a leap year. A longer one is almost always a typo (2042 for 2024). */
export const MAX_PERIOD_DAYS = 366;

const CalendarDate = z
  .string({ error: 'required (YYYY-MM-DD)' })
  .min(1, 'required (YYYY-MM-DD)')
  .refine((v) => dateNumber(v) !== null, { error: (i) => `not a calendar date YYYY-MM-DD: ${JSON.stringify(String(i.input).slice(0, 40))}` });

/** The check of a period's bounds: in order, and no longer than MAX_PERIOD_DAYS. */
function checkPeriod(p: Period, ctx: z.RefinementCtx): void {
  const a = dateNumber(p.from);
  const b = dateNumber(p.to);
  if (a === null || b === null) return;
  if (a > b) ctx.addIssue({ code: 'custom', path: ['from'], message: `${p.from} is after to (${p.to})` });
  else if (b - a + 1 > MAX_PERIOD_DAYS) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: `the period has ${b - a + 1} days, more than ${MAX_PERIOD_DAYS}; split it` });
  }
}

/** `from` and `to` of a request (query or command line), with more fields of the same request. */
export const withPeriod = <S extends z.ZodRawShape>(shape: S) =>
  z.object({ from: CalendarDate, to: CalendarDate, ...shape }).superRefine((p, ctx) => checkPeriod(p as Period, ctx));

/** The same, where the period may be left out (the dashboard's default month). */
export const withOptionalPeriod = <S extends z.ZodRawShape>(shape: S) =>
  z.object({ from: CalendarDate.optional(), to: CalendarDate.optional(), ...shape }).superRefine((value, ctx) => {
    const p = value as Partial<Period>;
    if (p.from === undefined && p.to === undefined) return;
    if (p.from === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: 'required (YYYY-MM-DD)' });
    else if (p.to === undefined) ctx.addIssue({ code: 'custom', path: ['to'], message: 'required (YYYY-MM-DD)' });
    else checkPeriod({ from: p.from, to: p.to }, ctx);
  });

export const PeriodQuery = withPeriod({});

/** A request's bounds are `invalid_period`; its other fields `invalid_query`. */
export const periodErrorCode = (field: string) => (field === 'from' || field === 'to' ? 'invalid_period' : 'invalid_query');

/** Check a period from the command line: an `invalid_period` error that names the problem. */
export function parsePeriod(from: string | undefined, to: string | undefined): Period {
  const r = PeriodQuery.safeParse({ from, to });
  if (!r.success) throw new AppError('invalid_period', firstIssue(r.error, 'period'));
  return { from: r.data.from, to: r.data.to };
}

/** Every date of the period, in order. */
export function datesOf(period: Period): string[] {
  const out: string[] = [];
  for (let n = dateNumber(period.from)!, end = dateNumber(period.to)!; n <= end; n++) out.push(dateFromNumber(n));
  return out;
}

/** The calendar month that contains `date` (the dashboard's default period). */
export function monthOf(date: string): Period {
  return { from: `${date.slice(0, 7)}-01`, to: endOfMonth(date) };
}
