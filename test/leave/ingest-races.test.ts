import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attendanceDays, inboxEvents, leaves, outbox } from '../../src/db/schema.js';
import { connectPostgres } from '../../src/db/node-client.js';
import { BACKENDS, createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { encryptedRequest, leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';

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

    const counter = async (app: ReturnType<typeof testApp>, name: string) => {
      const text = await (await app.app.request('/metrics')).text();
      return [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    };

    it('group commit: a burst commits in batches, every delivery with the outcome it has alone', async () => {
      const codes = Array.from({ length: 12 }, () => code());
      const bodies = codes.flatMap((c, i) => [
        leaveApprovalV1(spec(c)),
        leaveApprovalV2(spec(c)),
        ...(i % 4 === 3 ? [leaveRevert({ instanceCode: c })] : []),
      ]);
      // authentic but unusable (no employee): stored as quarantined, in a batch like the rest
      const unusable = Array.from({ length: 3 }, () => {
        const body = JSON.parse(leaveApprovalV1(spec(code()))) as { event: Record<string, unknown> };
        delete body.event.employee_id;
        return JSON.stringify(body);
      });
      const reqs = await Promise.all([...bodies, ...unusable].map((b) => encryptedRequest(b)));
      const burst = testApp(db);
      // every delivery twice, all at once: a re-push lands in the same batch or in another
      const responses = await Promise.all([...reqs, ...reqs].map((r) => burst.post(r)));
      expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
      const statuses = await Promise.all(responses.map(async (r) => ((await r.json()) as { status: string }).status));
      expect(statuses.filter((x) => x === 'applied')).toHaveLength(bodies.length);
      expect(statuses.filter((x) => x === 'quarantined')).toHaveLength(unusable.length);
      expect(statuses.filter((x) => x === 'duplicate')).toHaveLength(bodies.length + unusable.length);
      expect(await counter(burst, 'leave_bridge_ingest_batched_total')).toBeGreaterThan(0);
      // nothing in the burst is refused by the database: no batch failed and was retried
      expect(await counter(burst, 'leave_bridge_ingest_batch_retries_total')).toBe(0);
      for (const [i, c] of codes.entries()) {
        const s = await state(c);
        expect(s.leaveCount).toBe(1);
        if (i % 4 === 3) {
          expect(s.leave!.status).toBe('reverted');
          expect(s.activeDates).toEqual([]);
        } else {
          expect(s.leave).toMatchObject({ status: 'approved', detailSource: 'v2', hasV1: true, hasV2: true });
          expect(s.activeDates).toEqual(['2024-09-05=0.5', '2024-09-06=1']);
          expect(s.kinds).toEqual(['calendar.upsert']);
        }
      }
    });

    it('group commit: a delivery the database refuses fails alone; the rest of its batch commits', async () => {
      const poison = code();
      await db.db.execute(sql.raw(`create function refuse_for_test() returns trigger language plpgsql as $$ begin raise exception 'refused by a test trigger'; end $$`));
      await db.db.execute(
        sql.raw(`create trigger refuse_for_test before insert on leaves for each row when (new.instance_code = '${poison}') execute function refuse_for_test()`),
      );
      const others = Array.from({ length: 15 }, () => code());
      try {
        // the first few go alone (free slots); the poison, last, waits in a batch with the rest
        const reqs = await Promise.all([...others, poison].map((c) => encryptedRequest(leaveApprovalV1(spec(c)))));
        const burst = testApp(db);
        const responses = await Promise.all(reqs.map((r) => burst.post(r)));
        expect(responses.map((r) => r.status)).toEqual([...others.map(() => 200), 500]);
        expect(await counter(burst, 'leave_bridge_ingest_batch_retries_total')).toBeGreaterThan(1);
      } finally {
        await db.db.execute(sql.raw(`drop trigger refuse_for_test on leaves`));
        await db.db.execute(sql.raw(`drop function refuse_for_test()`));
      }
      for (const c of others) expect((await state(c)).leave!.status).toBe('approved');
      // nothing of the refused delivery was stored, so Feishu's re-push is applied in full
      expect(await db.db.select().from(inboxEvents).where(eq(inboxEvents.instanceCode, poison))).toEqual([]);
      expect((await deliver(leaveApprovalV1(spec(poison)), 1))[0]!.status).toBe('applied');
      expect((await state(poison)).activeTotal).toBe(1.5);
    });
  });
}

describe('group commit across processes (postgres)', () => {
  it("a statement stuck behind another process's lock does not hold up the deliveries after it", async () => {
    const db = await createPostgresDatabase();
    const other = connectPostgres(db.url!);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    try {
      const t = testApp(db);
      const stuck = code();
      const free = code();
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      // another process (a replay, a second replica) holds the leave's lock in a long transaction
      const holder = other.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${stuck}, 0))`);
        locked();
        await released;
      });
      await isLocked;
      // (employees of their own: a new employee's row is written before the leave's lock is taken)
      const first = Promise.resolve(t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: stuck, employeeId: `u_stuck_${process.pid}` }))));
      let firstDone = false;
      void first.then(() => (firstDone = true));
      // ingest runs one statement at a time while it is quick; this one is not, so the next
      // delivery starts beside it and commits while it still waits
      const second = await t.post(await encryptedRequest(leaveApprovalV1({ instanceCode: free, employeeId: `u_free_${process.pid}` })));
      expect(second.status).toBe(200);
      expect(((await second.json()) as { status: string }).status).toBe('applied');
      expect(firstDone).toBe(false);
      release();
      await holder;
      const r = await first;
      expect(r.status).toBe(200);
      expect(((await r.json()) as { status: string }).status).toBe('applied');
      const rows = await db.db.select().from(leaves).where(inArray(leaves.instanceCode, [stuck, free]));
      expect(rows).toHaveLength(2);
    } finally {
      release();
      await other.close();
      await db.close();
    }
  });

  it('batches of two pools sharing new employees and leaves never deadlock (no batch is retried)', async () => {
    const db = await createPostgresDatabase();
    const other = connectPostgres(db.url!);
    try {
      const a = testApp(db);
      const b = testApp({ db: other.db, kind: 'postgres' });
      for (let round = 0; round < 3; round++) {
        // 48 leaves of 6 employees none of which exists yet; V1 through one pool, V2 through the
        // other, in the same order: both pools batch the same leaves at the same time
        const who = Array.from({ length: 6 }, (_, i) => `u_gc_${process.pid}_${round}_${i}`);
        const codes = Array.from({ length: 48 }, () => code());
        const v1 = await Promise.all(codes.map((c, i) => encryptedRequest(leaveApprovalV1({ instanceCode: c, employeeId: who[i % 6]! }))));
        const v2 = await Promise.all(codes.map((c, i) => encryptedRequest(leaveApprovalV2({ instanceCode: c, employeeId: who[(i + 3) % 6]! }))));
        const responses = await Promise.all([...v1.map((r) => a.post(r)), ...v2.map((r) => b.post(r))]);
        expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
        const rows = await db.db.select().from(leaves).where(inArray(leaves.instanceCode, codes));
        expect(rows).toHaveLength(48);
        expect(rows.every((l) => l.hasV1 && l.hasV2 && l.detailSource === 'v2')).toBe(true);
      }
      for (const app of [a, b]) {
        const text = await (await app.app.request('/metrics')).text();
        expect(text).toMatch(/leave_bridge_ingest_batched_total\{source="webhook"\} [1-9]/);
        expect(text).not.toMatch(/leave_bridge_ingest_batch_retries_total/);
      }
    } finally {
      await other.close();
      await db.close();
    }
  });
});
