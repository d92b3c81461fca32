import postgres from 'postgres';
import { migratePostgres } from '../../src/db/node-client.js';
import { onCleanup } from './cleanup.js';

/** The server benchmarks run against; each run gets fresh databases of its own on it. */
export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const PREFIX = 'lb_bench';

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function admin() {
  return postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
}

export function redactUrl(url: string): string {
  return url.replace(/:[^:@/]*@/, ':***@');
}

/** A fresh database (migrated with the service's migrations when asked), dropped on cleanup. */
export async function createDatabase(label: string, opts: { migrate?: boolean } = {}): Promise<BenchDatabase> {
  const name = `${PREFIX}_${process.pid}_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${Math.random().toString(36).slice(2, 8)}`;
  const a = admin();
  try {
    await a.unsafe(`create database "${name}"`);
  } catch (err) {
    throw new Error(`benchmarks need Postgres at ${redactUrl(ADMIN_URL)} (set BENCH_DATABASE_URL): ${(err as Error).message}`);
  } finally {
    await a.end({ timeout: 5 });
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    unregister();
    const b = admin();
    try {
      await b.unsafe(`drop database if exists "${name}" with (force)`);
    } finally {
      await b.end({ timeout: 5 });
    }
  };
  const unregister = onCleanup(`database ${name}`, drop);
  if (opts.migrate) await migratePostgres(url.toString());
  return { name, url: url.toString(), drop };
}

/**
 * Databases left by an earlier run that was SIGKILLed (no cleanup ran): their names carry the pid
 * of the run that made them, so only those of processes no longer alive are dropped.
 */
/**
 * CHECKPOINT before a measured run, so it does not pay for the previous run's dirty buffers and
 * WAL (a baseline that just committed 200,000 rows leaves a checkpoint's worth of writes behind
 * for whoever runs next). Every system, baseline or not, starts from the same flushed state.
 */
export async function checkpoint(): Promise<void> {
  const a = admin();
  try {
    await a.unsafe('checkpoint');
  } finally {
    await a.end({ timeout: 5 });
  }
}

export async function dropStaleDatabases(): Promise<string[]> {
  const a = admin();
  const dropped: string[] = [];
  try {
    const rows = await a<{ datname: string }[]>`select datname from pg_database where datname like ${PREFIX + '\\_%'}`;
    for (const { datname } of rows) {
      const pid = Number(/^lb_bench_(\d+)_/.exec(datname)?.[1]);
      if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
      await a.unsafe(`drop database if exists "${datname}" with (force)`);
      dropped.push(datname);
    }
  } finally {
    await a.end({ timeout: 5 });
  }
  return dropped;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Connections the server still has free: pgbench at c=64 must not starve other people's tests. */
export async function freeConnections(): Promise<number> {
  const a = admin();
  try {
    const [row] = await a<{ free: number }[]>`
      select (select setting::int from pg_settings where name = 'max_connections')
           - (select setting::int from pg_settings where name = 'superuser_reserved_connections')
           - (select count(*)::int from pg_stat_activity) as free`;
    return row?.free ?? 0;
  } finally {
    await a.end({ timeout: 5 });
  }
}

export async function serverVersion(): Promise<string> {
  const a = admin();
  try {
    const [row] = await a<{ v: string }[]>`select current_setting('server_version') as v`;
    return row?.v ?? 'unknown';
  } finally {
    await a.end({ timeout: 5 });
  }
}
