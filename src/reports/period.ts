import { badRequest } from '../errors.js';
import { dateFromNumber, dateNumber, endOfMonth } from '../shared/dates.js';

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

/** Every date of the period, in order. */
export function datesOf(period: Period): string[] {
  const out: string[] = [];
  for (let n = dateNumber(period.from)!, end = dateNumber(period.to)!; n <= end; n++) out.push(dateFromNumber(n));
  return out;
}

/** Check a period from user input (HTTP query, command line): a 400 that names the problem. */
export function parsePeriod(from: string | undefined, to: string | undefined): Period {
  if (!from) throw badRequest('invalid_period', 'from: required (YYYY-MM-DD)');
  if (!to) throw badRequest('invalid_period', 'to: required (YYYY-MM-DD)');
  const a = dateNumber(from);
  if (a === null) throw badRequest('invalid_period', `from: not a calendar date YYYY-MM-DD: ${JSON.stringify(from.slice(0, 40))}`);
  const b = dateNumber(to);
  if (b === null) throw badRequest('invalid_period', `to: not a calendar date YYYY-MM-DD: ${JSON.stringify(to.slice(0, 40))}`);
  if (a > b) throw badRequest('invalid_period', `from (${from}) is after to (${to})`);
  if (b - a + 1 > MAX_PERIOD_DAYS) {
    throw badRequest('invalid_period', `the period has ${b - a + 1} days, more than ${MAX_PERIOD_DAYS}; split it`);
  }
  return { from, to };
}

/** The calendar month that contains `date` (the dashboard's default period). */
export function monthOf(date: string): Period {
  return { from: `${date.slice(0, 7)}-01`, to: endOfMonth(date) };
}
