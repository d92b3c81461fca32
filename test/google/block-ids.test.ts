import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockEventIdFor, blockFromEventId, eventIdFor, EVENT_ID_PATTERN, instanceCodeFromEventId } from '../../src/google/ids.js';
import { blockPlan } from '../../src/leave/blocks.js';

describe('event ids of blocks', () => {
  it("a record's single block keeps the id every leave always had", () => {
    // the id of Feishu's example instance, as it was before records had several blocks
    expect(eventIdFor('81D31358-93AF-92D6-7425-01A5D67C4E71')).toBe(blockEventIdFor('81D31358-93AF-92D6-7425-01A5D67C4E71', ''));
    expect(eventIdFor('81D31358-93AF-92D6-7425-01A5D67C4E71')).toBe('lb70ok8cph6cqjgb9p6d0kcb9p6923cb9n6gp3ab9g650jah1m6t1j8h9n64');
  });

  it('every block of every record has its own valid id, read back to its record and key', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 3, maxLength: 60 }).filter((s) => !s.includes('\u0000')), fc.string({ maxLength: 30 }).filter((s) => !s.includes('\u0000')), (code, key) => {
        const id = blockEventIdFor(code, key);
        expect(id).toMatch(EVENT_ID_PATTERN);
        expect(blockFromEventId(id)).toEqual({ instanceCode: code, blockKey: key });
        expect(instanceCodeFromEventId(id)).toBe(code);
        if (key !== '') expect(id).not.toBe(eventIdFor(code));
      }),
    );
  });
});

describe('blockPlan', () => {
  const base = { employeeId: 'u1', startLocal: '2024-09-09 09:00:00', endLocal: '2024-09-12 18:00:00', peers: null };
  it('a leave or an out: one block under the key ""', () => {
    for (const kind of ['leave', 'out', null]) {
      expect(blockPlan({ ...base, kind, segments: null })).toEqual([{ blockKey: '', employeeId: 'u1', startLocal: base.startLocal, endLocal: base.endLocal }]);
    }
  });
  it('a trip: one per segment for the requester and each peer; overtime, remedy, shift: none', () => {
    const segments: Array<[string, string]> = [
      ['2024-09-09 09:00:00', '2024-09-10 18:00:00'],
      ['2024-09-12 09:00:00', '2024-09-12 18:00:00'],
    ];
    expect(blockPlan({ ...base, kind: 'trip', segments, peers: ['p1', 'u1'] }).map((b) => [b.blockKey, b.employeeId, b.startLocal])).toEqual([
      ['0@u1', 'u1', '2024-09-09 09:00:00'],
      ['0@p1', 'p1', '2024-09-09 09:00:00'],
      ['1@u1', 'u1', '2024-09-12 09:00:00'],
      ['1@p1', 'p1', '2024-09-12 09:00:00'],
    ]);
    for (const kind of ['overtime', 'remedy', 'shift']) expect(blockPlan({ ...base, kind, segments })).toEqual([]);
  });
});
