import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/client.js';
import { planDelivery } from '../../src/feishu/inbound.js';
import { ingestCall } from '../../src/leave/ingest-statement.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { leaveApprovalV1, leaveApprovalV2, leaveRevert } from '../support/feishu.js';

/**
 * leave_bridge_ingest_batch applies a batch's deliveries by round (the n-th delivery of every
 * leave together, new leaves of round 1 written in one statement) instead of one by one. Whatever
 * the mix, every delivery must get the result it gets alone, and the stored state must be what the
 * deliveries leave one by one (leave_bridge_ingest) in the order the batch applies them to each
 * leave: lock key of the delivery, then position.
 *
 * Each case runs twice in one database under two namespaces of instance codes and event ids: once
 * as one batch, once delivery by delivery. Some leaves already have deliveries stored before.
 */
type Kind = 'v1' | 'v2' | 'backfill' | 'revert' | 'cancel' | 'instance_reverted' | 'instance_approved' | 'unusable';
interface Delivery {
  leave: number;
  kind: Kind;
  /** which detail an approval carries (dates, interval, segments, name) */
  detail: 0 | 1 | 2;
  /** a re-push of the delivery at this index of the batch instead of a new one */
  copyOf?: number;
}

const DETAILS = [
  { start: '2024-09-05 00:00:00', end: '2024-09-06 00:00:00', interval: 86_400, unit: 'DAY' as const, leaveName: 'Annual leave' },
  {
    start: '2024-09-05 00:00:00',
    end: '2024-09-07 00:00:00',
    interval: 129_600,
    unit: 'HALF_DAY' as const,
    range: [['2024-09-05 13:30:00', '2024-09-05 18:00:00'], ['2024-09-06 09:00:00', '2024-09-06 18:00:00']] as Array<[string, string]>,
    leaveName: 'Sick leave',
  },
  { start: '2024-09-09 09:00:00', end: '2024-09-09 18:00:00', interval: 32_400, unit: 'HOUR' as const, leaveName: 'Annual leave' },
];

const NOW = new Date('2026-01-05T08:00:00.000Z');

function body(ns: string, d: Delivery, key: string): { eventType: string; event: unknown; payload: unknown } {
  const instanceCode = `${ns}-L${d.leave}`;
  const detail = DETAILS[d.detail];
  const spec = { instanceCode, uuid: key, employeeId: `eq-emp${d.leave % 2}`, ...detail };
  let text: string;
  switch (d.kind) {
    case 'v1':
    case 'backfill':
    case 'unusable':
      text = leaveApprovalV1(spec);
      break;
    case 'v2':
      text = leaveApprovalV2(spec);
      break;
    case 'revert':
      text = leaveRevert({ instanceCode, uuid: key, operateTime: 1_767_600_000 + d.leave });
      break;
    default: {
      const status = d.kind === 'cancel' ? 'CANCELED' : d.kind === 'instance_reverted' ? 'REVERTED' : 'APPROVED';
      text = JSON.stringify({
        uuid: key,
        token: 'x',
        type: 'event_callback',
        event: { type: 'approval_instance', instance_code: instanceCode, approval_code: 'APPROVAL-LEAVE', status, operate_time: '1767600000000' },
      });
    }
  }
  const parsed = JSON.parse(text) as { ts?: string; event: Record<string, unknown> };
  delete parsed.ts; // the clock at the time the body was made: not part of what is compared
  if (d.kind === 'unusable') delete parsed.event.employee_id;
  return { eventType: String(parsed.event.type), event: parsed.event, payload: parsed };
}

/** One delivery as leave_bridge_ingest(_batch) takes it (what ingest.ts sends). */
function call(ns: string, d: Delivery, key: string, teamCalendar = false) {
  const b = body(ns, d, key);
  let planned = planDelivery({ eventType: b.eventType, event: b.event, problem: null });
  if (planned.status === 'applied' && d.kind === 'backfill' && planned.event.kind === 'approve') {
    planned = { ...planned, event: { ...planned.event, variant: 'backfill' } };
  }
  const incoming = { eventKey: key, eventType: b.eventType, source: d.kind === 'backfill' ? 'backfill' : 'webhook', payload: b.payload } as const;
  return ingestCall(incoming, planned, NOW, 'Asia/Shanghai', teamCalendar);
}

const delivery = (leaves: number) =>
  fc.record({
    leave: fc.integer({ min: 0, max: leaves - 1 }),
    kind: fc.constantFrom<Kind>('v1', 'v2', 'v1', 'v2', 'backfill', 'revert', 'cancel', 'instance_reverted', 'instance_approved', 'unusable'),
    detail: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  });

const scenario = fc.integer({ min: 1, max: 4 }).chain((leaves) =>
  fc.record({
    before: fc.array(delivery(leaves), { maxLength: 3 }),
    // some entries re-push an earlier delivery of the batch, or one stored before it
    batch: fc.array(fc.oneof({ weight: 5, arbitrary: delivery(leaves) }, { weight: 1, arbitrary: fc.record({ copy: fc.nat(20) }) }), {
      minLength: 2,
      maxLength: 12,
    }),
  }),
);

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/** The batch's deliveries with their (namespace-less) keys, re-pushes resolved. */
function deliveriesOf(s: Scenario): Array<{ d: Delivery; key: string }> {
  const out: Array<{ d: Delivery; key: string }> = [];
  for (const [i, x] of s.batch.entries()) {
    if (!('copy' in x)) out.push({ d: x, key: `k${i}` });
    else if (s.before.length > 0 && (out.length === 0 || x.copy % 3 === 0)) out.push({ d: s.before[0]!, key: 'before0' });
    else if (out.length > 0) out.push(out[x.copy % out.length]!);
  }
  return out;
}

for (const backend of BACKENDS) {
  describe(`a batch applies as its deliveries would one by one (${backend.name})`, () => {
    let db: TestDatabase;
    let run = 0;
    beforeAll(async () => {
      db = await backend.create();
      // one employee has a zone of their own (an operator override): new leaves take it
      await db.db.execute(sql`insert into employees (employee_id, open_id, timezone, updated_at)
                              values ('eq-emp1', 'ou_alice', 'Europe/Berlin', now())`);
    });
    afterAll(async () => {
      await db?.close();
    });

    const ingestOne = async (c: ReturnType<typeof call>) => {
      const [row] = await queryRows<{ r: Record<string, unknown> }>(
        db.db,
        sql`select leave_bridge_ingest(${JSON.stringify(c.inbox)}::text::jsonb, ${c.ev ? JSON.stringify(c.ev) : null}::text::jsonb,
          ${c.days ? JSON.stringify(c.days) : null}::text::jsonb, ${c.baseUnit}::text, ${c.now}::timestamptz, ${c.defaultTz}::text) as r`,
      );
      return row!.r;
    };

    /** What a namespace's leaves look like, with the namespace taken out. */
    const stateOf = async (ns: string) => {
      const strip = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll(ns, 'NS'));
      const leaves = await queryRows(db.db, sql`
        select instance_code, approval_code, tenant_key, employee_id, open_id, leave_type, leave_type_key, unit, interval_seconds,
          start_local, end_local, segments, segments_source, reason, status, detail_source, has_v1, has_v2, timezone,
          approved_at, reverted_at, revision, created_at, updated_at
        from leaves where instance_code like ${`${ns}-%`} order by instance_code`);
      const days = await queryRows(db.db, sql`
        select instance_code, employee_id, date::text, quantity::text, unit, revision, status
        from attendance_days where instance_code like ${`${ns}-%`} order by instance_code, revision, date`);
      const outbox = await queryRows(db.db, sql`
        select key, kind, payload, status, attempts from outbox where key like ${`${ns}-%`} or key like ${`team:${ns}-%`} order by key, id`);
      const inbox = await queryRows(db.db, sql`
        select replace(event_key, ${ns}, 'NS') as k, event_type, source, instance_code, status, reason, effect, payload
        from inbox_events where event_key like ${`${ns}%`} order by 1, 2`);
      return strip({ leaves, days, outbox, inbox });
    };

    it('same results, leaves, days, outbox rows and inbox rows, for any mix of deliveries', async () => {
      let teamRowsSeen = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          run++;
          const nsBatch = `eqB${run}x${process.pid}`;
          const nsAlone = `eqA${run}x${process.pid}`;
          const batch = deliveriesOf(s);
          // every other run with a team calendar: its team_calendar.sync rows must match too
          const team = run % 2 === 0;
          for (const ns of [nsBatch, nsAlone]) {
            for (const [i, d] of s.before.entries()) await ingestOne(call(ns, d, `${ns}before${i}`, team));
          }

          // as one batch
          const items = batch.map(({ d, key }) => call(nsBatch, d, `${nsBatch}${key}`, team));
          const [row] = await queryRows<{ r: Record<string, Record<string, unknown>> }>(
            db.db,
            sql`select leave_bridge_ingest_batch(${JSON.stringify(items)}::text::jsonb) as r`,
          );
          const batched = items.map((_, i) => row!.r[String(i + 1)]!);

          // one by one, each leave's deliveries in the order the batch applies them
          const alone = batch.map(({ d, key }) => call(nsAlone, d, `${nsAlone}${key}`, team));
          const lockKeys = await Promise.all(
            items.map(async (it) => {
              const [k] = await queryRows<{ k: string }>(db.db, sql`select hashtextextended(${`${it.inbox.eventType}:${it.inbox.eventKey}`}, 1)::text as k`);
              return BigInt(k!.k);
            }),
          );
          const order = items.map((_, i) => i).sort((a, b) => (lockKeys[a]! < lockKeys[b]! ? -1 : lockKeys[a]! > lockKeys[b]! ? 1 : a - b));
          const single: Array<Record<string, unknown>> = new Array(items.length);
          for (const i of order) single[i] = await ingestOne(alone[i]!);

          const comparable = (r: Record<string, unknown>) => ({ status: r.status, effect: r.effect, reason: r.reason, outbox: r.outbox ?? null });
          expect(batched.map(comparable)).toEqual(single.map(comparable));
          const [a, b] = [await stateOf(nsBatch), await stateOf(nsAlone)];
          expect(a).toEqual(b);
          if ((a.outbox as Array<{ kind: string }>).some((r) => r.kind === 'team_calendar.sync')) teamRowsSeen++;
        }),
        { numRuns: backend.name === 'postgres' ? 120 : 30 },
      );
      // the runs with a team calendar did enqueue its rows
      expect(teamRowsSeen).toBeGreaterThan(0);
    }, 120_000);
  });
}
