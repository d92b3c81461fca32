import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { testApp } from '../support/app.js';
import { encryptedRequest, FIXTURES, signedRequest } from '../support/feishu.js';

const DOC_INSTANCE = 'CEF48CEE-CEF4-45C9-1234-DCBF8BEC1234';

for (const backend of BACKENDS) {
  describe(`Feishu's documented examples, verbatim (${backend.name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.create();
    });
    afterAll(async () => {
      await db?.close();
    });

    for (const mode of ['plain, no encrypt key', 'encrypted+signed'] as const) {
      it(`V1 then V2 give one leave of 0.5 + 1 days (${mode})`, async () => {
        // a database of its own: the docs' examples share their uuids, so a second mode on the
        // same database would only prove deduplication
        const own = await backend.create();
        onTestFinished(() => own.close());
        const t = testApp(own, { env: mode === 'plain, no encrypt key' ? { FEISHU_ENCRYPT_KEY: undefined } : {} });
        const send = async (text: string) => {
          const req =
            mode === 'plain, no encrypt key' ? { body: text, headers: { 'content-type': 'application/json' } } : await encryptedRequest(text);
          return t.post(req);
        };
        const r1 = await send(FIXTURES.leaveApproval);
        expect(r1.status).toBe(200);
        expect(await r1.json()).toMatchObject({ status: 'applied' });
        const r2 = await send(FIXTURES.leaveApprovalV2);
        expect(r2.status).toBe(200);
        expect(await r2.json()).toMatchObject({ status: 'applied' });
        const leave = (await (await t.admin(`/api/leaves/${DOC_INSTANCE}`)).json()) as {
          status: string;
          leave_type: string;
          days: Array<{ date: string; quantity: string; unit: string }>;
          received: { v1: boolean; v2: boolean };
        };
        expect(leave.status).toBe('approved');
        expect(leave.leave_type).toBe('事假');
        expect(leave.received).toEqual({ v1: true, v2: true });
        expect(leave.days).toEqual([
          { date: '2024-09-05', quantity: '0.5', unit: 'day' },
          { date: '2024-09-06', quantity: '1', unit: 'day' },
        ]);
        // the revert example (trailing comma and all) for an instance not seen yet: remembered
        const r3 = await send(FIXTURES.leaveApprovalRevert);
        expect(r3.status).toBe(200);
        expect(await r3.json()).toMatchObject({ status: 'applied' });
        const reverted = (await (await t.admin('/api/leaves/3CC91234-E23E-4DD7-1234-164D737C1234')).json()) as { status: string; history: Array<{ effect: string }> };
        expect(reverted.status).toBe('reverted');
        expect(reverted.history.map((h) => h.effect)).toEqual(['revert_remembered']);
        // the approval_instance example (PENDING, operate_time as a string) changes no leave
        const r4 = await send(FIXTURES.approvalInstance);
        expect(await r4.json()).toMatchObject({ status: 'ignored' });
        // re-delivery of any of them is recognised
        expect(await (await send(FIXTURES.leaveApprovalV2)).json()).toMatchObject({ status: 'duplicate' });
      });
    }

    it('rejects an unsigned event when an encrypt key is set', async () => {
      const t = testApp(db);
      const res = await t.post({ body: FIXTURES.leaveApproval, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'missing_signature', message: expect.any(String) } });
      const signed = await signedRequest(FIXTURES.approvalInstance);
      expect((await t.post(signed)).status).toBe(200);
    });
  });
}
