import { BLOCKING_KINDS, type ApprovalKind } from './types.js';
import type { CalendarEffect } from '../policies/body.js';

/** One calendar block a record describes: whose calendar, which wall-clock span, under which key. */
export interface PlannedBlock {
  /** '' for a record's single block (a leave, an out); `<segment index>@<employee_id>` for a trip's */
  blockKey: string;
  employeeId: string;
  startLocal: string;
  endLocal: string;
}

/** What blockPlan reads of a record (a leaves row). */
export interface BlockSource {
  kind: string | null;
  employeeId: string | null;
  startLocal: string | null;
  endLocal: string | null;
  segments: Array<[string, string]> | null;
  peers: string[] | null;
}

/**
 * The blocks a record's detail describes, whatever its status (a reverted record's blocks are the
 * ones to remove). A leave or an out: one block, start..end, on the requester's calendar. A trip:
 * one per schedule segment, for the requester and for each peer, who travel too. A record of
 * unknown kind (only a revert known) is treated as a leave: that is what it was before kinds
 * existed. Other kinds have no block.
 */
export function blockPlan(record: BlockSource): PlannedBlock[] {
  const kind = (record.kind ?? 'leave') as ApprovalKind;
  if (!BLOCKING_KINDS.includes(kind) || record.employeeId === null) return [];
  if (kind !== 'trip') {
    if (record.startLocal === null || record.endLocal === null) return [];
    return [{ blockKey: '', employeeId: record.employeeId, startLocal: record.startLocal, endLocal: record.endLocal }];
  }
  const people = [record.employeeId, ...(record.peers ?? []).filter((p) => p !== record.employeeId)];
  return (record.segments ?? []).flatMap(([startLocal, endLocal], i) =>
    people.map((employeeId) => ({ blockKey: `${i}@${employeeId}`, employeeId, startLocal, endLocal })),
  );
}

/**
 * A tentative hold's block key: `hold` for a record's single block, `hold:<key>` for a trip's. A
 * hold has its own event id: Google never changes an event's type, so the out-of-office block
 * that replaces it cannot take over the hold's event.
 */
export const holdKeyOf = (blockKey: string): string => (blockKey === '' ? 'hold' : `hold:${blockKey}`);
export const isHoldKey = (key: string): boolean => key === 'hold' || key.startsWith('hold:');
/** the block a hold stands for */
export const blockOfHold = (key: string): string => (key === 'hold' ? '' : key.slice('hold:'.length));

/**
 * A block its policy shows as a plain (default) event, busy or free, rather than out-of-office:
 * `plain` for a record's single block, `plain:<key>` for a trip's. It has its own event id for
 * the same reason a hold has: Google never changes an event's type, so a policy that turns
 * out-of-office into busy (or back) replaces the event rather than patching it.
 */
export const plainKeyOf = (blockKey: string): string => (blockKey === '' ? 'plain' : `plain:${blockKey}`);
export const isPlainKey = (key: string): boolean => key === 'plain' || key.startsWith('plain:');
/** the block a key stands for: a hold's or a plain event's block, else the key itself */
export const baseKeyOf = (key: string): string =>
  isHoldKey(key) ? blockOfHold(key) : key === 'plain' ? '' : key.startsWith('plain:') ? key.slice('plain:'.length) : key;

/**
 * The blocks a record's policy places (src/policies/resolve.ts): out-of-office blocks under the
 * plan's keys, busy and free ones under their plain keys, none at all for `none`.
 */
export function placedPlan(plan: PlannedBlock[], calendar: CalendarEffect): PlannedBlock[] {
  if (calendar === 'none') return [];
  if (calendar === 'outOfOffice') return plan;
  return plan.map((p) => ({ ...p, blockKey: plainKeyOf(p.blockKey) }));
}
