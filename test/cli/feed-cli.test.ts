import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedCommand } from '../../src/cli/feed.js';
import { testApp, testConfig } from '../support/app.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { runCli } from '../support/process.js';

/** `leave-bridge feed create|list|revoke` against Postgres, and the feed it makes served by the app. */
describe('leave-bridge feed (postgres)', () => {
  let db: TestDatabase;
  const run = async (args: string[], env: Record<string, string> = {}) => {
    let out = '';
    const io = { out: (l: string) => (out += `${l}\n`), err: (l: string) => (out += `${l}\n`) };
    const code = await feedCommand(testConfig({ DATABASE_URL: db.url!, LOG_LEVEL: 'silent', ...env }), args, io);
    return { code, out };
  };
  beforeAll(async () => {
    db = await createPostgresDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('creates a feed whose URL opens it, lists it without the token, revokes it', async () => {
    const made = await run(['create', 'employee', 'u_alice'], { PUBLIC_URL: 'https://leave.example.com' });
    expect(made.code).toBe(0);
    const [head, url] = made.out.trim().split('\n');
    const id = /^feed ([0-9a-f-]{36}) \(employee u_alice\)$/.exec(head!)![1]!;
    expect(url).toMatch(/^https:\/\/leave\.example\.com\/feeds\/employees\/u_alice\.ics\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(url!).searchParams.get('token')!;

    const t = testApp(db);
    expect((await t.app.request(`/feeds/employees/u_alice.ics?token=${token}`)).status).toBe(200);

    const listed = await run(['list']);
    expect(listed.out).toContain(`${id}\temployee\tu_alice\t`);
    expect(listed.out).not.toContain(token);
    expect(JSON.parse((await run(['list', '--json'])).out)).toEqual([expect.objectContaining({ id, scope: 'employee', target_id: 'u_alice', revoked_at: null })]);

    expect(await run(['revoke', id])).toMatchObject({ code: 0, out: expect.stringContaining(`feed ${id} revoked at `) });
    expect((await t.app.request(`/feeds/employees/u_alice.ics?token=${token}`)).status).toBe(404);
    expect((await run(['list'])).out.trim().split('\n')).toHaveLength(1);
    expect((await run(['list', '--revoked'])).out).toContain(id);
    expect(await run(['revoke', '00000000-0000-4000-8000-000000000000'])).toMatchObject({ code: 1 });

    // audited as the command line
    const audit = (await (await t.admin('/api/audit?action=feed.revoke')).json()) as { items: Array<{ target: string; actor: { kind: string }; outcome: string }> };
    expect(audit.items).toContainEqual(expect.objectContaining({ target: id, actor: expect.objectContaining({ kind: 'cli' }), outcome: 'ok' }));
  });

  it('without PUBLIC_URL prints the path with the token and says what to prefix', async () => {
    const made = await run(['create', 'team']);
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/\n\/feeds\/team\.ics\?token=[A-Za-z0-9_-]{43}  \(prefix it/);
  });

  it('refuses bad arguments with exit 2 and the usage', async () => {
    expect(await run(['create', 'company'])).toMatchObject({ code: 2, out: expect.stringContaining('scope must be one of team, employee, department') });
    expect(await run(['create', 'employee'])).toMatchObject({ code: 2, out: expect.stringContaining('id: required') });
    expect(await run(['create', 'team', 'x'])).toMatchObject({ code: 2, out: expect.stringContaining('id: a team feed takes no id') });
    expect(await run(['create', 'department', 'a b'])).toMatchObject({ code: 2 });
    expect(await run(['delete'])).toMatchObject({ code: 2, out: expect.stringContaining('usage: leave-bridge feed') });
  });

  it('is registered: a real process lists the feeds', async () => {
    const child = runCli(['feed', 'list'], { DATABASE_URL: db.url!, LOG_LEVEL: 'warn' });
    const { code } = await child.exited;
    expect(code).toBe(0);
    expect(child.output()).toContain('id\tscope\ttarget\tcreated_at\trevoked_at');
  });
});
