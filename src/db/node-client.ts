import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import postgres from 'postgres';
import { drizzle as drizzlePg } from 'drizzle-orm/postgres-js';
import { migrate as migratePg } from 'drizzle-orm/postgres-js/migrator';
import lockfile from 'proper-lockfile';
import { schema, type Database, type Db } from './client.js';

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface PostgresOptions {
  /** pool size; ingest holds a connection only for one short transaction */
  max?: number;
  /** seconds; short so a dead database turns into a quick 503 instead of a Feishu timeout */
  connectTimeout?: number;
  /** the server's notices (tests read plans that auto_explain sends as notices); dropped by default */
  onNotice?: (message: string) => void;
}

export function connectPostgres(url: string, opts: PostgresOptions = {}): Database {
  const client = postgres(url, {
    max: opts.max ?? 16,
    connect_timeout: opts.connectTimeout ?? 2,
    idle_timeout: 30,
    onnotice: opts.onNotice ? (n) => opts.onNotice!(String(n.message)) : () => {},
    // numeric/bigint come back as strings; we keep quantities exact as strings on purpose.
  });
  const db = drizzlePg(preparedByDefault(client), { schema }) as unknown as Db;
  return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
}

type Sql = postgres.Sql;

/**
 * drizzle runs every query through postgres.js `unsafe()` with `prepare: false` (only queries
 * built with `.prepare(name)` ask otherwise), i.e. as unnamed statements. postgres.js must learn
 * the parameter types of an unnamed statement first, so each query costs two round trips (Parse +
 * Describe, then Bind + Execute) and a fresh parse and plan in Postgres. Named statements make that
 * a one-time cost per connection and query text (postgres.js keeps them per connection and
 * re-prepares after a schema change). Transactions and savepoints get a new `sql` object from
 * postgres.js, so they are wrapped too. Hand-written because neither library has an option for it.
 */
export function preparedByDefault<T extends Sql>(sql: T): T {
  const unsafe = sql.unsafe.bind(sql);
  (sql as { unsafe: Sql['unsafe'] }).unsafe = ((query: string, args?: unknown[], options?: postgres.UnsafeQueryOptions) =>
    unsafe(query, args as never, { ...options, prepare: true })) as Sql['unsafe'];
  // the pool has begin(); a transaction's sql has savepoint() instead: both take the callback last
  const scoped = sql as unknown as Record<'begin' | 'savepoint', ((...a: unknown[]) => Promise<unknown>) | undefined>;
  for (const name of ['begin', 'savepoint'] as const) {
    const original = scoped[name];
    if (!original) continue;
    scoped[name] = (...a: unknown[]) => {
      const fn = a.pop() as (tx: Sql) => unknown;
      return original.call(sql, ...a, (tx: Sql) => fn(preparedByDefault(tx)));
    };
  }
  return sql;
}

/**
 * Apply drizzle/ migrations. Several processes may start at once against one database, and
 * drizzle's migrator takes no lock of its own, so a session advisory lock on a dedicated
 * single connection serialises them.
 */
export async function migratePostgres(url: string): Promise<void> {
  const client = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(7265001)`;
    await migratePg(drizzlePg(client), { migrationsFolder });
    await client`select pg_advisory_unlock(7265001)`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/**
 * Embedded PGlite in dataDir. PGlite has no lock of its own and two processes writing one
 * directory corrupt it, so the directory is guarded by a lock file (proper-lockfile: atomic
 * mkdir plus a heartbeat, so a crashed owner's lock goes stale instead of blocking forever).
 */
export async function openPglite(dataDir: string): Promise<Database> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, { stale: 15_000, update: 5_000, realpath: false });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') {
      throw new Error(
        `DATA_DIR ${dir} is in use by another leave-bridge process (embedded PGlite allows one process). ` +
          'Stop the other process, or set DATABASE_URL to share a Postgres database.',
      );
    }
    throw err;
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = await PGlite.create(dir);
  const db = drizzle(client, { schema }) as unknown as Db;
  await migrate(db as never, { migrationsFolder });
  return {
    db,
    kind: 'pglite',
    close: async () => {
      await client.close();
      await release();
    },
  };
}

/**
 * In-memory PGlite for tests: migrated, no directory, no lock. `template` is the data directory of
 * a PGlite migrated from the same folder (`dumpDataDir`), which loads several times faster than
 * the migrations run; the migrator then finds nothing left to apply.
 */
export async function openMemoryPglite(template?: Blob): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = await PGlite.create(template ? { loadDataDir: template } : {});
  const db = drizzle(client, { schema }) as unknown as Db;
  await migrate(db as never, { migrationsFolder });
  return { db, kind: 'pglite', close: () => client.close() };
}

/** A migrated in-memory PGlite's data directory, for `openMemoryPglite(template)`. */
export async function migratedPgliteTemplate(): Promise<Blob> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = await PGlite.create();
  try {
    await migrate(drizzle(client, { schema }) as never, { migrationsFolder });
    return await client.dumpDataDir('none');
  } finally {
    await client.close();
  }
}
