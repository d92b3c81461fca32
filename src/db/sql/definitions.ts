/**
 * The current definitions of the database's functions, one `<function name>.sql` file each in this
 * folder (README.md), and the functions a database holds, for the two that compare them: the
 * migration generator (scripts/db-function.ts) and test/db/functions.test.ts. Node only: it reads
 * the folder with node:fs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { queryRows, type Db, type Queryable } from '../client.js';

export const definitionsFolder = fileURLToPath(new URL('.', import.meta.url));

export interface FunctionDefinition {
  /** the function's name, which is the file's */
  name: string;
  file: string;
  /** the whole file: the comment documenting the function, then its statement */
  text: string;
  /** the CREATE OR REPLACE FUNCTION statement alone, without the comment */
  statement: string;
}

/** A file name Postgres keeps as written: lower case, unquoted. */
const NAME = /^[a-z_][a-z0-9_]*$/;

export class DefinitionFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DefinitionFileError';
  }
}

/**
 * One definition file: comment lines (the first line one of them), then one
 * `CREATE OR REPLACE FUNCTION <its name>(` statement. Whether that statement is valid and creates
 * nothing else is for Postgres to say; callers execute it.
 */
export function readDefinition(file: string): FunctionDefinition {
  const name = path.basename(file, '.sql');
  if (!NAME.test(name)) throw new DefinitionFileError(file, 'the file name must be the function name, in lower case');
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((line) => !line.startsWith('--') && line.trim() !== '');
  if (!lines[0]?.startsWith('--')) {
    throw new DefinitionFileError(file, 'the file must start with a comment documenting the function');
  }
  const statement = start < 0 ? '' : lines.slice(start).join('\n').trim();
  const head = new RegExp(`^CREATE OR REPLACE FUNCTION ${name}\\(`);
  if (!head.test(statement)) {
    throw new DefinitionFileError(file, `after the comment, the file must hold "CREATE OR REPLACE FUNCTION ${name}(…"`);
  }
  return { name, file, text, statement };
}

/** Every definition in a folder, by name. */
export function readDefinitions(folder = definitionsFolder): FunctionDefinition[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => readDefinition(path.join(folder, f)));
}

export interface StoredFunction {
  oid: number;
  name: string;
  /** argument types, as DROP FUNCTION takes them */
  identity: string;
  /** arguments with names, modes and defaults */
  args: string;
  result: string;
  /** f: function, p: procedure, a: aggregate, w: window */
  kind: string;
  /** pg_get_functiondef: Postgres's own rendering, so two texts that define the same function compare equal */
  definition: string;
}

/** Thrown to end a transaction whose work was only looked at. */
class LookedAt<T> extends Error {
  constructor(readonly value: T) {
    super('rolled back on purpose');
  }
}

/**
 * The functions a database would hold after `statements`, read inside a transaction that is then
 * rolled back: the database is left as it was. A statement Postgres refuses throws its error.
 */
export async function functionsAfter(db: Db, statements: string[]): Promise<StoredFunction[]> {
  try {
    await db.transaction(async (tx) => {
      for (const statement of statements) await tx.execute(sql.raw(statement));
      throw new LookedAt(await storedFunctions(tx));
    });
  } catch (err) {
    if (err instanceof LookedAt) return err.value as StoredFunction[];
    throw err;
  }
  throw new Error('functionsAfter: the transaction was not rolled back');
}

/** Routines of the public schema, except those an extension installed. */
export async function storedFunctions(db: Queryable): Promise<StoredFunction[]> {
  const rows = await queryRows<StoredFunction & { oid: number | string }>(
    db,
    sql`select p.oid::int8 as oid, p.proname as name, pg_get_function_identity_arguments(p.oid) as identity,
          pg_get_function_arguments(p.oid) as args, coalesce(pg_get_function_result(p.oid), '') as result,
          p.prokind as kind, case when p.prokind in ('f', 'p', 'w') then pg_get_functiondef(p.oid) else '' end as definition
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public'
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
        order by p.proname, p.oid`,
  );
  return rows.map((r) => ({ ...r, oid: Number(r.oid) }));
}
