import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import journal from '../../drizzle/meta/_journal.json' with { type: 'json' };
import * as schema from './schema.js';

export { schema };
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Queryable = Db | Tx;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

/** Rows of a raw `execute`: postgres.js returns an array, PGlite `{ rows }`. */
export async function queryRows<T>(db: Queryable, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Migrations the code was built with; `readyz` compares them with what the database has. */
export const expectedMigrations = journal.entries.length;

export async function appliedMigrations(db: Queryable): Promise<number> {
  try {
    const rows = await queryRows<{ n: number | string }>(
      db,
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    return Number(rows[0]?.n ?? 0);
  } catch (err) {
    // 42P01 / 3F000: the migrations table or schema does not exist yet, i.e. nothing applied.
    const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    if (code === '42P01' || code === '3F000') return 0;
    throw err;
  }
}

/**
 * Several reads that must agree with each other, in one read-only snapshot. A record's pieces (its
 * outbox rows, its calendar blocks) are written together by other transactions; read side by side
 * in separate statements, one read can see a completion the other does not (a message done, its
 * block not yet written).
 */
export function readConsistently<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn, { isolationLevel: 'repeatable read', accessMode: 'read only' });
}
