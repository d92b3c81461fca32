import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockEventIdFor } from '../../src/google/ids.js';
import { testApp } from '../support/app.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { encryptedRequest, KIND_FIXTURES, TRIP_DOC_TOKEN } from '../support/feishu.js';
import { eventIdFor, eventTimes, startWorld, type World } from '../support/outbox-world.js';

interface Approval {
  kind: string;
  status: string;
  type_name: string | null;
  peers: string[];
  days: Array<{ employee_id: string; date: string; quantity: string; unit: string }>;
  calendar: { blocks: Array<{ block_key: string; employee_id: string; state: string; event_id: string; calendar_id: string }> };
  tasks: Array<{ task_id: string; status: string; user_id: string | null }>;
  history: Array<{ event_type: string; effect: string }>;
}

const OUT = '59558CEE-CEF4-45C9-A2C3-DCBF8BEC7341';
const WORK = '99E91302-17F7-4FE2-1234-F4E73Axxx';
const WORK_REVERTED = '59558CEE-CEF4-45C9-1234-DCBF8BEC1234';
const TRIP = 'FC2CB9B2-966F-4B65-AC7E-B21E04F497CB';
const TASKED = '81D31358-93AF-92D6-7425-01A5D67C4E71';

for (const backend of BACKENDS) {
  for (const mode of ['plain', 'encrypted+signed'] as const) {
    describe(`the special approvals' documented examples, through the webhook and the outbox (${backend.name}, ${mode})`, () => {
      // Two databases: the docs' examples share instance codes across kinds (shift with overtime,
      // remedy with trip), which no real tenant does.
      let db: TestDatabase;
      let db2: TestDatabase;
      let w: World;
      let w2: World;
      beforeAll(async () => {
        [db, db2] = await Promise.all([backend.create(), backend.create()]);
        const env = mode === 'plain' ? { FEISHU_ENCRYPT_KEY: undefined } : {};
        [w, w2] = await Promise.all([startWorld(db, { env }), startWorld(db2, { env })]);
        for (const user_id of ['g6964gd3', 'abc456', 'abc123', 'xxx', 'g12xxxxg']) {
          for (const world of [w, w2]) world.feishu.addUser({ user_id, email: `${user_id}@example.com` });
        }
      });
      afterAll(async () => {
        await Promise.all([w?.close(), w2?.close()]);
        await Promise.all([db?.close(), db2?.close()]);
      });

      const send = async (world: World, text: string, token?: string) => {
        // the trip example carries a token of its own: an app configured with it receives it
        const t = token ? testApp(world === w ? db : db2, { env: { FEISHU_VERIFICATION_TOKEN: token, ...(mode === 'plain' ? { FEISHU_ENCRYPT_KEY: undefined } : {}) } }) : world.t;
        const req = mode === 'plain' ? { body: text, headers: { 'content-type': 'application/json' } } : await encryptedRequest(text);
        const res = await t.post(req);
        expect(res.status).toBe(200);
        return (await res.json()) as { status: string };
      };
      const get = async (world: World, code: string) => (await (await world.t.admin(`/api/approvals/${code}`)).json()) as Approval;

      it('out_approval: one out record of 3 hours, one out-of-office block 15:00–18:00 Asia/Shanghai; its revert removes it', async () => {
        expect(await send(w, KIND_FIXTURES.out)).toMatchObject({ status: 'applied' });
        await w.drainer.drainOnce();
        const out = await get(w, OUT);
        expect(out).toMatchObject({ kind: 'out', status: 'approved', type_name: '中文文案' });
        expect(out.days).toEqual([{ employee_id: 'g6964gd3', date: '2020-05-15', quantity: '3', unit: 'hour' }]);
        expect(out.calendar.blocks).toMatchObject([{ block_key: '', state: 'present', event_id: eventIdFor(OUT), calendar_id: 'g6964gd3@example.com' }]);
        const [event] = w.confirmed('g6964gd3@example.com');
        expect(event).toMatchObject({ id: eventIdFor(OUT), eventType: 'outOfOffice' });
        expect(eventTimes(event!)).toMatchObject({ start: Date.parse('2020-05-15T07:00:00Z'), end: Date.parse('2020-05-15T10:00:00Z'), startZone: 'Asia/Shanghai' });
        // not a leave: the leave-only view does not list it
        expect((await w.t.admin(`/api/leaves/${OUT}`)).status).toBe(404);

        expect(await send(w, KIND_FIXTURES.outRevert)).toMatchObject({ status: 'applied' });
        await w.drainer.drainOnce();
        const reverted = await get(w, OUT);
        expect(reverted).toMatchObject({ status: 'reverted', days: [] });
        expect(reverted.calendar.blocks).toMatchObject([{ state: 'deleted' }]);
        expect(w.confirmed('g6964gd3@example.com')).toEqual([]);
      });

      it('work_approval: 12 hours of overtime on 2018-12-01 from work_detail, no calendar work; the revert example is remembered', async () => {
        expect(await send(w, KIND_FIXTURES.work)).toMatchObject({ status: 'applied' });
        const work = await get(w, WORK);
        expect(work).toMatchObject({ kind: 'overtime', status: 'approved', type_name: 'xxx' });
        expect(work.days).toEqual([{ employee_id: 'xxx', date: '2018-12-01', quantity: '12', unit: 'hour' }]);
        expect(await w.outboxRows(WORK)).toEqual([]);
        expect(await send(w, KIND_FIXTURES.workRevert)).toMatchObject({ status: 'applied' });
        expect(await get(w, WORK_REVERTED)).toMatchObject({ kind: 'overtime', status: 'reverted', history: [{ event_type: 'work_approval_revert', effect: 'revert_remembered' }] });
        expect(await w.outboxRows(WORK_REVERTED)).toEqual([]);
      });

      it('trip (2.0 schema, with its own token): 6.5 days for the requester and the peer, one block each on their calendars', async () => {
        expect(await send(w, KIND_FIXTURES.trip, TRIP_DOC_TOKEN)).toMatchObject({ status: 'applied' });
        await w.drainer.drainOnce();
        const trip = await get(w, TRIP);
        expect(trip).toMatchObject({ kind: 'trip', status: 'approved', peers: ['abc123'] });
        for (const who of ['abc456', 'abc123']) {
          const days = trip.days.filter((d) => d.employee_id === who);
          expect(days.map((d) => [d.date, d.quantity])).toEqual([
            ['2022-08-25', '0.5'],
            ['2022-08-26', '1'],
            ['2022-08-27', '1'],
            ['2022-08-28', '1'],
            ['2022-08-29', '1'],
            ['2022-08-30', '1'],
            ['2022-08-31', '1'],
          ]);
          const [event] = w.confirmed(`${who}@example.com`);
          expect(event).toMatchObject({ id: blockEventIdFor(TRIP, `0@${who}`), eventType: 'outOfOffice' });
          expect(eventTimes(event!)).toMatchObject({ start: Date.parse('2022-08-25T04:00:00Z'), end: Date.parse('2022-08-31T16:00:00Z') });
        }
        expect(trip.calendar.blocks.map((b) => [b.block_key, b.employee_id, b.state])).toEqual([
          ['0@abc123', 'abc123', 'present'],
          ['0@abc456', 'abc456', 'present'],
        ]);
      });

      it('approval_task: kept for an instance not known, shown in its timeline once it is', async () => {
        expect(await send(w, KIND_FIXTURES.task)).toMatchObject({ status: 'applied' });
        expect((await w.t.admin(`/api/approvals/${TASKED}`)).status).toBe(404);
        const out = JSON.parse(KIND_FIXTURES.out) as { uuid: string; event: Record<string, unknown> };
        out.uuid = 'task-example-instance';
        out.event.instance_code = TASKED;
        expect(await send(w, JSON.stringify(out))).toMatchObject({ status: 'applied' });
        expect((await get(w, TASKED)).tasks).toEqual([
          { task_id: '12345', user_id: 'b613t51g', open_id: 'ou_123456', status: 'PENDING', operate_time: '2017-08-08T13:33:27.000Z', extra: { rollback_node_ids: ['nodeid'], rollback_custom_node_ids: ['customnodeid'] } },
        ]);
      });

      it('shift_approval and the remedy example (2.0 schema): recorded, no days, no calendar work', async () => {
        expect(await send(w2, KIND_FIXTURES.shift)).toMatchObject({ status: 'applied' });
        expect(await send(w2, KIND_FIXTURES.remedy)).toMatchObject({ status: 'applied' });
        expect(await get(w2, WORK)).toMatchObject({ kind: 'shift', status: 'approved', days: [], extra: { shift_time: '2018-12-01 12:00:00' } });
        expect(await get(w2, TRIP)).toMatchObject({ kind: 'remedy', status: 'approved', days: [], extra: { remedy_time: '2022-08-24T09:23:39.000Z' } });
        expect(await w2.outboxRows()).toEqual([]);
        // re-delivery is recognised
        expect(await send(w2, KIND_FIXTURES.remedy)).toMatchObject({ status: 'duplicate' });
      });
    });
  }
}
