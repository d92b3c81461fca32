/*
 * Calendar dates as `YYYY-MM-DD` strings. Attendance dates are local dates with no zone, so the
 * arithmetic is done on day numbers (days since 1970-01-01, UTC), never on instants.
 */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** Days since the epoch of a YYYY-MM-DD, or null when it is not a real calendar date. */
export function dateNumber(value: string): number | null {
  const m = DATE_RE.exec(value);
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 2024-02-30 over into March: such a value is not a date.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) return null;
  return ms / DAY_MS;
}

export const dateFromNumber = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

export const addDays = (date: string, days: number): string => dateFromNumber(dateNumber(date)! + days);

/** The last day of the month that contains `date`. */
export function endOfMonth(date: string): string {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  return dateFromNumber(Date.UTC(y, m, 1) / DAY_MS - 1);
}
