import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definitionsFolder, readDefinitions, storedFunctions } from '../../src/db/sql/definitions.js';
import { BACKENDS, type TestDatabase } from '../support/db.js';
import { definitionProblems } from './definition-problems.js';

/**
 * src/db/sql holds the current definition of every database function, one file each; the
 * migrations are their history. A migrated database and the files must agree exactly.
 */
describe.each(BACKENDS)('function definitions in src/db/sql ($name)', ({ create }) => {
  let db: TestDatabase;
  let scratch: string;

  beforeAll(async () => {
    db = await create();
    scratch = mkdtempSync(path.join(tmpdir(), 'definitions-'));
  });
  afterAll(async () => {
    await db?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('every migrated function has its file, every file its function, and their definitions are identical', async () => {
    expect(await definitionProblems(db.db, definitionsFolder)).toEqual([]);
    // an empty folder beside a database without functions would agree too
    const functions = await storedFunctions(db.db);
    expect(functions.length).toBeGreaterThan(0);
    expect(readDefinitions().map((d) => d.name)).toEqual(functions.map((f) => f.name));
  });

  /** a copy of the definitions, changed by `edit` */
  function copyWith(edit: (folder: string) => void): string {
    const folder = mkdtempSync(path.join(scratch, 'sql-'));
    cpSync(definitionsFolder, folder, { recursive: true });
    edit(folder);
    return folder;
  }
  const replaceIn = (file: string, from: string, to: string) => {
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(from);
    writeFileSync(file, text.replace(from, to));
  };

  it('reports a changed line of a body, and where it is', async () => {
    const folder = copyWith((f) =>
      replaceIn(path.join(f, 'leave_bridge_apply.sql'), 'RETURN leave_bridge_apply_locked(', 'RETURN  leave_bridge_apply_locked('),
    );
    const problems = await definitionProblems(db.db, folder);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/leave_bridge_apply\.sql: differs from the migrated definition/);
    expect(problems[0]).toContain('file:       RETURN  leave_bridge_apply_locked(');
  });

  it('reports a changed signature (which CREATE OR REPLACE turns into a second function)', async () => {
    const folder = copyWith((f) =>
      replaceIn(path.join(f, 'leave_bridge_note_employee.sql'), 'now_ts timestamptz)', 'now_ts timestamptz, note text DEFAULT NULL)'),
    );
    expect(await definitionProblems(db.db, folder)).toEqual([
      expect.stringMatching(/leave_bridge_note_employee\.sql: its signature differs/),
    ]);
  });

  it('reports a changed result type (which CREATE OR REPLACE refuses)', async () => {
    const folder = copyWith((f) =>
      replaceIn(path.join(f, 'leave_bridge_create_leaves.sql'), 'RETURNS void', 'RETURNS int'),
    );
    expect(await definitionProblems(db.db, folder)).toEqual([
      expect.stringMatching(/leave_bridge_create_leaves\.sql: does not apply over the migrated function: .*return type/),
    ]);
  });

  it('reports a function without a file and a file without a function', async () => {
    const folder = copyWith((f) => {
      unlinkSync(path.join(f, 'leave_bridge_ingest_locked.sql'));
      writeFileSync(
        path.join(f, 'leave_bridge_unmigrated.sql'),
        '-- a function no migration creates\nCREATE OR REPLACE FUNCTION leave_bridge_unmigrated() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n',
      );
    });
    expect((await definitionProblems(db.db, folder)).sort()).toEqual([
      expect.stringMatching(/leave_bridge_unmigrated\.sql: the migrations create no function leave_bridge_unmigrated$/),
      expect.stringMatching(/^leave_bridge_ingest_locked\(.*\): no file leave_bridge_ingest_locked\.sql$/),
    ]);
  });

  it('refuses a file that does not start with its comment or names another function', () => {
    const noComment = copyWith((f) => replaceIn(path.join(f, 'leave_bridge_apply.sql'), '-- leave_bridge_apply(', 'leave_bridge_apply('));
    expect(() => readDefinitions(noComment)).toThrow(/leave_bridge_apply\.sql: the file must start with a comment/);
    const otherName = copyWith((f) =>
      replaceIn(path.join(f, 'leave_bridge_apply.sql'), 'FUNCTION leave_bridge_apply(', 'FUNCTION leave_bridge_apply2('),
    );
    expect(() => readDefinitions(otherName)).toThrow(/leave_bridge_apply\.sql: after the comment, the file must hold/);
  });
});
