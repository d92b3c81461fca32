import { fromMicro, toMicro } from '../shared/decimal.js';
import { allocate, AllocationError } from './allocate.js';
import { UNIT_INFO, type DayQuantity, type LeaveApproval, type LeaveUnit } from './types.js';

/**
 * The day records of an approval of any kind, by the same exact allocation (allocate.ts):
 * - leave, out: the interval over the segments (leave_range / leave_detail / start..end);
 * - trip: each schedule's own interval over its own segment, for the requester and each peer;
 * - overtime: hours; from work_detail, each entry's interval on its own date; else the interval
 *   over time_range (or start..end);
 * - remedy, shift: none;
 * - a source that gives its own day records (CoreHR's details[]): those, as given.
 * Throws AllocationError when a quantity cannot be split exactly (the delivery is quarantined).
 */
export function daysOf(event: LeaveApproval): DayQuantity[] {
  // a request still pending has no days yet; a source's own day records are its quantities
  if (event.pending) return [];
  if (event.givenDays) return event.givenDays;
  switch (event.approvalKind) {
    case 'leave':
    case 'out':
    case 'overtime':
      if (event.segmentSeconds) return perSegment(event, event.unit ?? 'HOUR');
      return plainAllocate(event);
    case 'trip': {
      const own = perSegment(event, event.unit ?? 'DAY');
      return [...own, ...(event.peers ?? []).flatMap((peer) => own.map((d) => ({ ...d, employeeId: peer })))];
    }
    case 'remedy':
    case 'shift':
      return [];
  }
}

function plainAllocate(event: LeaveApproval): DayQuantity[] {
  if (event.unit === null || event.intervalSeconds === null || event.startLocal === null) {
    throw new AllocationError(`${event.approvalKind} ${event.instanceCode} has no quantity to allocate`);
  }
  return allocate({ segments: event.segments, startLocal: event.startLocal, intervalSeconds: event.intervalSeconds, unit: event.unit });
}

/** Each segment's own seconds over that segment alone, summed per date. */
function perSegment(event: LeaveApproval, unit: LeaveUnit): DayQuantity[] {
  const seconds = event.segmentSeconds ?? [];
  if (seconds.length !== event.segments.length) {
    throw new AllocationError(`${event.approvalKind}: ${event.segments.length} segments but ${seconds.length} intervals`);
  }
  const byDate = new Map<string, bigint>();
  event.segments.forEach((segment, i) => {
    for (const d of allocate({ segments: [segment], startLocal: segment[0], intervalSeconds: seconds[i]!, unit })) {
      byDate.set(d.date, (byDate.get(d.date) ?? 0n) + toMicro(d.quantity));
    }
  });
  return [...byDate.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .filter(([, q]) => q > 0n)
    .map(([date, q]) => ({ date, quantity: fromMicro(q) }));
}

/**
 * The coarsest unit whose step divides every one of the seconds: trips and overtime carry no unit,
 * and a record's quantities share one base (day for a trip of whole or half days, else hours).
 */
export function unitFor(seconds: number[], candidates: readonly LeaveUnit[]): LeaveUnit {
  for (const unit of candidates) if (seconds.every((s) => s % UNIT_INFO[unit].stepSeconds === 0)) return unit;
  return candidates[candidates.length - 1]!;
}

/** The base unit an approval's quantities count in (day, hour, minute); null without a quantity. */
export const baseUnitOf = (event: LeaveApproval): string | null => (event.unit ? UNIT_INFO[event.unit].base : null);
