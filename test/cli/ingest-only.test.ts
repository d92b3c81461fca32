import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { queryRows } from '../../src/db/client.js';
import { employees } from '../../src/db/schema.js';
import { eventIdFor } from '../support/outbox-world.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { DOC_TOKEN, encryptedRequest, leaveApprovalV1, TEST_ENCRYPT_KEY } from '../support/feishu.js';
import { freePort, runCli, waitFor, waitForReady, type Child } from '../support/process.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';

describe('OUTBOX_CONCURRENCY=0: an ingest-only serve process (postgres)', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let google: FakeGoogle;
  const children: Child[] = [];
  beforeAll(async () => {
    db = await createPostgresDatabase('lb_ingest_only');
    google = await startFakeGoogle();
    await db.db.insert(employees).values({ employeeId: 'u_split', emailOverride: 'split@example.com' });
  });
  afterAll(async () => {
    for (const c of children) c.proc.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    await google?.close();
    await db?.close();
  });

  async function startServe(extra: Record<string, string>): Promise<{ port: number; child: Child }> {
    const port = await freePort();
    const child = runCli(['serve'], {
      PORT: String(port),
      DATABASE_URL: db.url!,
      FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
      FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY,
      GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: `${google.url}/`,
      OUTBOX_POLL_MS: '200',
      ...extra,
    });
    children.push(child);
    await waitForReady(port);
    return { port, child };
  }

  it('acks and writes the outbox row but leaves it to a draining process', async () => {
    expect(loadConfig({ OUTBOX_CONCURRENCY: '0' }).OUTBOX_CONCURRENCY).toBe(0);
    const ingestOnly = await startServe({ OUTBOX_CONCURRENCY: '0' });
    expect(ingestOnly.child.output()).toMatch(/outbox draining off in this process/);
    const code = `SPLIT-${process.pid}-${Date.now()}`;
    const status = async () => (await queryRows<{ status: string }>(db.db, sql`select status from outbox where key = ${code}`)).map((r) => r.status);
    const req = await encryptedRequest(leaveApprovalV1({ instanceCode: code, employeeId: 'u_split', start: '2024-09-05 09:00:00', end: '2024-09-05 18:00:00', unit: 'HOUR', interval: 9 * 3600 }));
    const res = await fetch(`http://127.0.0.1:${ingestOnly.port}/webhook/feishu`, { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'applied' });

    // Google is configured and the poll interval is 200 ms: a drainer in this process would have
    // placed the block by now.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await status()).toEqual(['pending']);
    expect(google.events('split@example.com')).toHaveLength(0);

    // A second process with the default concurrency drains what the first one wrote.
    await startServe({});
    await waitFor('the draining process to finish the message', async () => (await status()).join() === 'done', 30_000);
    expect(google.events('split@example.com').filter((e) => e.id === eventIdFor(code))).toHaveLength(1);
  });
});

describe('queries through drizzle on postgres.js (postgres)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPostgresDatabase('lb_prepared');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('run as named prepared statements, so a repeated query is one round trip without a re-parse', async () => {
    // drizzle asks postgres.js for unnamed statements, which cost a Describe round trip each time;
    // src/db/node-client.ts preparedByDefault makes them named (see there). One transaction = one
    // connection, so pg_prepared_statements shows what that connection prepared.
    const prepared = await db.db.transaction(async (tx) => {
      for (let i = 0; i < 3; i++) {
        await tx.select({ id: employees.employeeId }).from(employees).where(sql`${employees.employeeId} = ${`u_${i}`}`);
        await tx.execute(sql`select ${i}::int as n`);
        // a nested transaction (a savepoint) gets a new sql object from postgres.js: wrapped too
        await tx.transaction((sp) => sp.execute(sql`select ${i}::int as in_savepoint`));
      }
      return queryRows<{ statement: string }>(tx, sql`select statement from pg_prepared_statements`);
    });
    const texts = prepared.map((p) => p.statement);
    expect(texts.filter((t) => t.includes('from "employees"'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('::int as n'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('as in_savepoint'))).toHaveLength(1);
  });
});
