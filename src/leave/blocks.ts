import { BLOCKING_KINDS, type ApprovalKind } from './types.js';

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
