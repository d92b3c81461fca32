import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corehrSync, leaves } from '../../src/db/schema.js';
import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { leaveRequest } from '../support/corehr.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { freePort, runCli, waitFor } from '../support/process.js';

const run = promisify(execFile);

describe('the CoreHR commands, as processes', { timeout: 180_000 }, () => {
  let db: TestDatabase;
  let fake: FakeFeishu;
  let env: Record<string, string>;
  const cli = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/node.ts', ...args], { cwd: process.cwd(), env: { PATH: process.env.PATH!, ...env } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const leaveOf = async (id: string) => (await db.db.select().from(leaves).where(eq(leaves.instanceCode, `corehr-${id}`)))[0];

  beforeAll(async () => {
    [db, fake] = await Promise.all([createPostgresDatabase('lb_corehr_cli'), startFakeFeishu()]);
    fake.corehr.mapUser('c_eve', 'u_eve');
    env = {
      DATABASE_URL: db.url!,
      FEISHU_APP_ID: fake.appId,
      FEISHU_APP_SECRET: fake.appSecret,
      FEISHU_BASE_URL: fake.url,
      FEISHU_VERIFICATION_TOKEN: 'tok',
      COREHR_ENABLED: 'true',
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    await Promise.all([db?.close(), fake?.close()]);
  });

  it('`corehr sync` reads what was updated, prints the report and moves the watermark; `--since` reads from a given time', async () => {
    const r = leaveRequest({ employment: 'c_eve', from: '2026-02-02', to: '2026-02-03' });
    fake.corehr.put(r);
    const first = await cli(['corehr', 'sync']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^corehr sync updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \.\. \d{4}-/);
    expect(first.stdout).toMatch(/requests\s+1\n\s+applied\s+1/);
    expect(await leaveOf(r.leave_request_id)).toMatchObject({ source: 'corehr', status: 'approved', employeeId: 'u_eve' });
    const [state] = await db.db.select().from(corehrSync);
    expect(state!.watermark).toBeInstanceOf(Date);

    const again = await cli(['corehr', 'sync', '--since', '2020-01-01 00:00:00', '--format', 'json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as { mode: string; window: { updatedFrom: string }; duplicate: number };
    expect(report).toMatchObject({ mode: 'since', window: { updatedFrom: '2020-01-01 00:00:00' }, duplicate: 1 });
    expect(fake.corehr.queries.at(-1)).toMatchObject({ leave_update_time_min: '2020-01-01 00:00:00', user_id_type: 'user_id' });

    const bad = await cli(['corehr', 'sync', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since: expected a time like');
    expect((await cli(['corehr'])).code).toBe(2);
  });

  it('`backfill --corehr --from --to` recovers the requests of a period, whatever their update time; a quarantined one fails it', async () => {
    const old = leaveRequest({ employment: 'c_eve', from: '2025-05-05', to: '2025-05-06' });
    fake.corehr.put(old, Date.parse('2025-04-01T00:00:00Z'));
    const out = await cli(['backfill', '--corehr', '--from', '2025-05-01', '--to', '2025-05-31']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('corehr backfill 2025-05-01..2025-05-31');
    expect(await leaveOf(old.leave_request_id)).toMatchObject({ status: 'approved', startLocal: '2025-05-05 00:00:00' });
    expect(fake.corehr.queries.at(-1)).toMatchObject({ leave_end_date_min: '2025-05-01', leave_start_date_max: '2025-05-31' });
    expect(fake.corehr.queries.at(-1)!.leave_update_time_min).toBeUndefined();

    fake.corehr.put(leaveRequest({ employment: 'c_nobody', from: '2025-06-02', to: '2025-06-02' }), Date.parse('2025-04-01T00:00:00Z'));
    const failing = await cli(['backfill', '--corehr', '--from', '2025-06-01', '--to', '2025-06-30', '--format', 'json']);
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout)).toMatchObject({ quarantined: 1, problems: [{ reason: expect.stringContaining('employment_id is empty') }] });

    expect((await cli(['backfill', '--corehr', '--approval', 'X', '--from', '2025-05-01', '--to', '2025-05-31'])).code).toBe(2);
    const reversed = await cli(['backfill', '--corehr', '--from', '2025-05-31', '--to', '2025-05-01']);
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain('is before from');
  });

  it('`serve` with COREHR_SYNC_INTERVAL syncs at start and on its interval', async () => {
    const r = leaveRequest({ employment: 'c_eve', from: '2026-02-16', to: '2026-02-16' });
    fake.corehr.put(r);
    const port = await freePort();
    const child = runCli(['serve'], { ...env, PORT: String(port), COREHR_SYNC_INTERVAL: '2s', OUTBOX_POLL_MS: '100' });
    try {
      await waitFor('the periodic CoreHR sync to apply the request', async () => (await leaveOf(r.leave_request_id)) !== undefined, 60_000);
      const later = leaveRequest({ employment: 'c_eve', from: '2026-02-17', to: '2026-02-17' });
      fake.corehr.put(later);
      await waitFor('the next interval to apply the next one', async () => (await leaveOf(later.leave_request_id)) !== undefined, 30_000);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  }, 120_000);
});
