import { localDate, wallDate, wallMs, type LocalDateTime } from '../shared/local-time.js';
import { UNIT_INFO, type DayQuantity, type LeaveUnit } from './types.js';

export class AllocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AllocationError';
  }
}

const DAY_MS = 86_400_000;

/** Seconds of each local date covered by the segments (wall-clock, so no zone is involved). */
export function secondsPerDate(segments: Array<[LocalDateTime, LocalDateTime]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [start, end] of segments) {
    let s = wallMs(start);
    const e = wallMs(end);
    while (s < e) {
      const nextMidnight = Math.floor(s / DAY_MS) * DAY_MS + DAY_MS;
      const stop = Math.min(e, nextMidnight);
      const date = wallDate(s);
      out.set(date, (out.get(date) ?? 0) + (stop - s) / 1000);
      s = stop;
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** True when step/base is a terminating decimal, so every multiple prints exactly. */
function printsExactly(stepSeconds: number, baseSeconds: number): boolean {
  let den = baseSeconds / gcd(stepSeconds, baseSeconds);
  while (den % 2 === 0) den /= 2;
  while (den % 5 === 0) den /= 5;
  return den === 1;
}

/**
 * The granule quantities move in: the unit's own step when leave_interval is a multiple of it
 * (the normal case), else the coarsest finer step that divides the interval and still prints as
 * an exact decimal, so the dates always add up to exactly leave_interval.
 */
export function chooseStep(intervalSeconds: number, unit: LeaveUnit): number {
  const { stepSeconds, baseSeconds } = UNIT_INFO[unit];
  if (intervalSeconds % stepSeconds === 0) return stepSeconds;
  for (let d = stepSeconds - 1; d >= 1; d--) {
    if (intervalSeconds % d === 0 && printsExactly(d, baseSeconds)) return d;
  }
  throw new AllocationError(
    `leave_interval ${intervalSeconds}s cannot be split into exact ${UNIT_INFO[unit].base} decimals`,
  );
}

/** num/den as a plain decimal; den must only have factors 2 and 5 (guaranteed by chooseStep). */
export function formatRational(num: number, den: number): string {
  const whole = Math.floor(num / den);
  let rem = num % den;
  if (rem === 0) return String(whole);
  let digits = '';
  while (rem !== 0 && digits.length < 12) {
    rem *= 10;
    digits += String(Math.floor(rem / den));
    rem %= den;
  }
  return `${whole}.${digits}`;
}

/**
 * Split a leave over its local dates in proportion to each date's share of the segment time, in
 * whole steps of the unit, by largest remainder (ties go to the earlier date) so the dates add up
 * exactly to leave_interval. Dates that get nothing are left out.
 */
export function allocate(input: {
  segments: Array<[LocalDateTime, LocalDateTime]>;
  startLocal: LocalDateTime;
  intervalSeconds: number;
  unit: LeaveUnit;
}): DayQuantity[] {
  const { intervalSeconds, unit } = input;
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 0) {
    throw new AllocationError(`leave_interval must be a non-negative integer of seconds, got ${intervalSeconds}`);
  }
  if (intervalSeconds === 0) return [];
  const step = chooseStep(intervalSeconds, unit);
  const steps = intervalSeconds / step;
  const weights = secondsPerDate(input.segments);
  const dates = [...weights.keys()];
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  const shares: Array<{ date: string; steps: number; rem: bigint; order: number }> = [];
  if (total === 0) {
    // A leave with no duration in its segments (start = end): it all falls on its start date.
    shares.push({ date: localDate(input.startLocal), steps, rem: 0n, order: 0 });
  } else {
    // BigInt: steps × seconds can pass 2^53 for long minute-unit leaves.
    const bigTotal = BigInt(Math.round(total));
    let assigned = 0;
    dates.forEach((date, order) => {
      const w = BigInt(Math.round(weights.get(date)!));
      const exact = BigInt(steps) * w;
      const q = Number(exact / bigTotal);
      assigned += q;
      shares.push({ date, steps: q, rem: exact % bigTotal, order });
    });
    const byRemainder = [...shares].sort((a, b) => (a.rem === b.rem ? a.order - b.order : a.rem > b.rem ? -1 : 1));
    for (let i = 0; i < steps - assigned; i++) byRemainder[i % byRemainder.length]!.steps += 1;
  }
  const { baseSeconds } = UNIT_INFO[unit];
  return shares
    .filter((s) => s.steps > 0)
    .map((s) => ({ date: s.date, quantity: formatRational(s.steps * step, baseSeconds) }));
}
