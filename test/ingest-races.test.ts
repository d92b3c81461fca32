import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays, inboxEvents, leaves, outbox } from '../src/db/schema.js';
import { BACKENDS, type TestDatabase } from './support/db.js';
import { testApp } from './support/app.js';
import { encryptedRequest, leaveApprovalV1, leaveApprovalV2, leaveRevert } from './support/feishu.js';

let n = 0;
const code = () => `RACE-${process.pid}-${Date.now()}-${n++}`;

for (const backend of BACKENDS) {
  describe(`exactly once under races (${backend.name})`, () => {
    let db: TestDatabase;
    let t: ReturnType<typeof testApp>;
    beforeAll(async () => {
      db = await backend.create();
      t = testApp(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    /** post the same signed+encrypted delivery `times` times, all at once */
    const deliver = async (plaintext: string, times = 5) => {
      const req = await encryptedRequest(plaintext);
      const responses = await Promise.all(Array.from({ length: times }, () => t.post(req)));
      for (const r of responses) expect(r.status).toBe(200);
      return Promise.all(responses.map((r) => r.json() as Promise<{ status: string }>));
    };

    const state = async (instanceCode: string) => {
      const [leave] = await db.db.select().from(leaves).where(eq(leaves.instanceCode, instanceCode));
      const active = await db.db
        .select()
        .from(attendanceDays)
        .where(and(eq(attendanceDays.instanceCode, instanceCode), eq(attendanceDays.status, 'active')));
      const messages = await db.db.select().from(outbox).where(eq(outbox.key, instanceCode));
      const leaveCount = await db.db.select({ n: sql<number>`count(*)::int` }).from(leaves).where(eq(leaves.instanceCode, instanceCode));
      return {
        leave,
        leaveCount: Number(leaveCount[0]!.n),
        activeTotal: active.reduce((a, d) => a + Number(d.quantity), 0),
        activeDates: active.map((d) => `${d.date}=${Number(d.quantity)}`).sort(),
        kinds: messages.map((m) => m.kind).sort(),
      };
    };

    // 1.5 days over two dates: 09-05 afternoon (0.5) and 09-06 (1)
    const spec = (instanceCode: string) => ({
      instanceCode,
      unit: 'HALF_DAY' as const,
      interval: 129600,
      start: '2024-09-05 00:00:00',
      end: '2024-09-07 00:00:00',
      range: [
        ['2024-09-05 13:30:00', '2024-09-05 18:00:00'],
        ['2024-09-06 09:00:00', '2024-09-06 18:00:00'],
      ] as Array<[string, string]>,
    });

    for (const order of ['V1 first', 'V2 first', 'all at once'] as const) {
      it(`V1 + V2, each delivered 5× concurrently (${order}): one leave, exact days, one upsert`, async () => {
        const c = code();
        const v1 = leaveApprovalV1({ ...spec(c), start: '2024-09-05 12:00:00' });
        const v2 = leaveApprovalV2(spec(c));
        let results;
        if (order === 'V1 first') results = [...(await deliver(v1)), ...(await deliver(v2))];
        else if (order === 'V2 first') results = [...(await deliver(v2)), ...(await deliver(v1))];
        else results = (await Promise.all([deliver(v1), deliver(v2)])).flat();
        expect(results.filter((r) => r.status === 'applied')).toHaveLength(2);
        expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(8);
        const s = await state(c);
        expect(s.leaveCount).toBe(1);
        expect(s.leave!.status).toBe('approved');
        expect(s.leave!.detailSource).toBe('v2');
        expect(s.leave!.hasV1 && s.leave!.hasV2).toBe(true);
        expect(s.activeDates).toEqual(['2024-09-05=0.5', '2024-09-06=1']);
        expect(s.activeTotal).toBe(1.5);
        // V2's times win; with nothing drained yet the enrichment coalesces into the waiting upsert
        expect(s.kinds).toEqual(['calendar.upsert']);
        expect(s.leave!.startLocal).toBe('2024-09-05 00:00:00');
      });
    }

    it('revert before approve: the late approval cannot resurrect the leave', async () => {
      const c = code();
      expect((await deliver(leaveRevert({ instanceCode: c }))).filter((r) => r.status === 'applied')).toHaveLength(1);
      await deliver(leaveApprovalV1(spec(c)));
      await deliver(leaveApprovalV2(spec(c)));
      const s = await state(c);
      expect(s.leave!.status).toBe('reverted');
      expect(s.leave!.detailSource).toBe('v2'); // detail kept for the record
      expect(s.activeDates).toEqual([]);
      expect(s.kinds).toEqual([]);
      const history = await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, c));
      expect(history.map((h) => h.effect).sort()).toEqual(['already_reverted', 'detail_after_revert', 'revert_remembered']);
    });

    it('revert twice (leave_approval_revert and approval_instance REVERTED): one delete, days kept as reverted', async () => {
      const c = code();
      await deliver(leaveApprovalV2(spec(c)));
      await deliver(leaveRevert({ instanceCode: c }));
      const instanceReverted = JSON.stringify({
        uuid: `ai-${c}`,
        token: '41a9425ea7df4536a7623e38fa321bae',
        type: 'event_callback',
        event: { type: 'approval_instance', instance_code: c, approval_code: 'A', status: 'REVERTED', operate_time: Date.now() },
      });
      await deliver(instanceReverted);
      const s = await state(c);
      expect(s.leave!.status).toBe('reverted');
      expect(s.activeDates).toEqual([]);
      expect(s.kinds).toEqual(['calendar.delete', 'calendar.upsert']);
      const all = await db.db.select().from(attendanceDays).where(eq(attendanceDays.instanceCode, c));
      expect(all.map((d) => d.status)).toEqual(['reverted', 'reverted']); // nothing deleted
    });

    it('approve and revert racing each other end reverted with no active days', async () => {
      const c = code();
      await Promise.all([deliver(leaveApprovalV1(spec(c))), deliver(leaveRevert({ instanceCode: c })), deliver(leaveApprovalV2(spec(c)))]);
      const s = await state(c);
      expect(s.leave!.status).toBe('reverted');
      expect(s.activeDates).toEqual([]);
      // either the revert came first (nothing queued) or after the approval (upsert then delete)
      expect([[], ['calendar.delete', 'calendar.upsert']]).toContainEqual(s.kinds);
    });
  });
}
