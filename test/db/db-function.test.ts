import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/postgres-js';
import { migrate as migratePg } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/client.js';
import { definitionsFolder } from '../../src/db/sql/definitions.js';
import { ADMIN_URL } from '../support/db.js';
import { definitionProblems } from './definition-problems.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `npm run db:function` on copies of drizzle/ and src/db/sql: what it writes must apply, through
 * drizzle's migrator, on fresh databases of both backends and leave every function as its file
 * defines it, whether a body changed, a signature changed (CREATE OR REPLACE alone would fail or
 * overload) or the function is new. What it refuses, it leaves the folder as it was. The cases
 * build on each other's migrations, in order.
 */
describe('npm run db:function', () => {
  let scratch: string;
  let out: string;
  let definitions: string;

  beforeAll(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'db-function-'));
    out = path.join(scratch, 'drizzle');
    definitions = path.join(scratch, 'sql');
    cpSync(path.join(root, 'drizzle'), out, { recursive: true });
    cpSync(definitionsFolder, definitions, { recursive: true, filter: (f) => !f.endsWith('.ts') });
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const generate = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/db-function.ts', `--out=${out}`, `--definitions=${definitions}`, ...args], {
      cwd: root,
      encoding: 'utf8',
    });
  const edit = (name: string, from: string, to: string) => {
    const file = path.join(definitions, `${name}.sql`);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(from);
    writeFileSync(file, text.replace(from, to));
  };
  /** the folder's files and journal, to tell that a refusal wrote nothing */
  const folderState = () => ({
    files: [...readdirSync(out), ...readdirSync(path.join(out, 'meta'))].sort(),
    journal: readFileSync(path.join(out, 'meta', '_journal.json'), 'utf8'),
  });
  const journalTags = () =>
    (JSON.parse(readFileSync(path.join(out, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }).entries.map((e) => e.tag);

  it('refuses a definition the migrations already hold, and a function without a file', () => {
    const before = folderState();
    const same = generate('leave_bridge_apply');
    expect(same.status).toBe(1);
    expect(same.stderr).toMatch(/leave_bridge_apply: .* defines it as the existing migrations do; nothing to migrate/);
    const missing = generate('leave_bridge_nowhere');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/leave_bridge_nowhere\.sql/);
    expect(folderState()).toEqual(before);
  }, 90_000);

  it('writes migrations for a changed body, a changed signature and a new function that apply and leave the files\' definitions', async () => {
    const tagsBefore = journalTags();
    const nth = (k: number) => String(tagsBefore.length + k).padStart(4, '0');
    // a changed body: replaced in place
    edit(
      'leave_bridge_note_employee',
      'UPDATE employees SET open_id = open WHERE employee_id = employee;',
      'UPDATE employees SET open_id = open, updated_at = now_ts WHERE employee_id = employee;',
    );
    const body = generate('leave_bridge_note_employee');
    expect(body.stderr).toBe('');
    expect(body.status).toBe(0);
    const first = readFileSync(path.join(out, `${nth(0)}_leave_bridge_note_employee.sql`), 'utf8');
    expect(first).not.toMatch(/DROP FUNCTION/);
    expect(first).toContain('CREATE OR REPLACE FUNCTION leave_bridge_note_employee(employee text, open text, now_ts timestamptz)');
    expect(first).toContain('updated_at = now_ts WHERE employee_id = employee;');
    expect(first).not.toContain('-- leave_bridge_note_employee(employee, open, now_ts): make sure'); // the file's comment stays in the file

    // a new argument (an overload beside the old function if it were not dropped, and every
    // existing call ambiguous) and a function no migration created yet, in one migration
    edit('leave_bridge_note_employee', 'now_ts timestamptz)', 'now_ts timestamptz, note text DEFAULT NULL)');
    writeFileSync(
      path.join(definitions, 'leave_bridge_probe.sql'),
      '-- leave_bridge_probe(x): one more than x.\nCREATE OR REPLACE FUNCTION leave_bridge_probe(x int)\nRETURNS int\nLANGUAGE sql\nAS $$ SELECT x + 1 $$;\n',
    );
    const signature = generate('--name=note_and_probe', 'leave_bridge_note_employee', 'leave_bridge_probe');
    expect(signature.stderr).toBe('');
    expect(signature.status).toBe(0);
    const second = readFileSync(path.join(out, `${nth(1)}_note_and_probe.sql`), 'utf8');
    const statements = second.split('--> statement-breakpoint').map((s) => s.replace(/^(--.*\n)+/, '').trim());
    expect(statements.map((s) => s.split('\n')[0])).toEqual([
      'DROP FUNCTION IF EXISTS leave_bridge_note_employee(employee text, open text, now_ts timestamp with time zone);',
      'CREATE OR REPLACE FUNCTION leave_bridge_note_employee(employee text, open text, now_ts timestamptz, note text DEFAULT NULL)',
      'CREATE OR REPLACE FUNCTION leave_bridge_probe(x int)',
    ]);

    // drizzle-kit's bookkeeping: journal entries and snapshots, in order
    expect(journalTags().slice(-3)).toEqual([tagsBefore.at(-1), `${nth(0)}_leave_bridge_note_employee`, `${nth(1)}_note_and_probe`]);
    const snapshot = (n: string) => JSON.parse(readFileSync(path.join(out, 'meta', `${n}_snapshot.json`), 'utf8')) as { id: string; prevId: string };
    expect(snapshot(nth(0)).prevId).toBe(snapshot(nth(-1)).id);
    expect(snapshot(nth(1)).prevId).toBe(snapshot(nth(0)).id);

    for (const fresh of [freshPostgres, freshPglite]) {
      const database = await fresh(out);
      try {
        expect(await definitionProblems(database.db, definitions)).toEqual([]);
        // the old three-argument calls still resolve, to the one function left
        await database.db.execute(sql`select leave_bridge_note_employee('u_probe', 'ou_probe', now())`);
        expect(await queryRows(database.db, sql`select leave_bridge_probe(41) as n`)).toEqual([{ n: 42 }]);
      } finally {
        await database.close();
      }
    }
  }, 240_000);

  it('undoes drizzle-kit\'s entry when the journal\'s last migration is stamped later than now (the migrator would skip the new one)', () => {
    const journalFile = path.join(out, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ when: number }> };
    journal.entries.at(-1)!.when = Date.now() + 86_400_000;
    writeFileSync(journalFile, JSON.stringify(journal, null, 2));
    edit('leave_bridge_probe', 'x + 1', 'x + 2');
    const before = folderState();
    const late = generate('leave_bridge_probe');
    expect(late.status).toBe(1);
    expect(late.stderr).toMatch(/is not after the last one's .*check the clock/);
    expect(folderState()).toEqual(before);
    expect(readdirSync(out).filter((f) => f.endsWith('_leave_bridge_probe.sql'))).toEqual([]);
  }, 90_000);
});

interface Fresh {
  db: Db;
  close(): Promise<void>;
}

/** An empty Postgres database migrated from `folder`, dropped on close. */
async function freshPostgres(folder: string): Promise<Fresh> {
  const name = `lb_fn_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  const db = drizzlePg(client);
  try {
    await migratePg(db, { migrationsFolder: folder });
  } catch (err) {
    await client.end();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
    throw err;
  }
  return {
    db: db as unknown as Db,
    close: async () => {
      await client.end();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** An in-memory PGlite migrated from `folder`. */
async function freshPglite(folder: string): Promise<Fresh> {
  const client = await PGlite.create();
  const db = drizzlePglite(client);
  await migratePglite(db, { migrationsFolder: folder });
  return { db: db as unknown as Db, close: () => client.close() };
}
