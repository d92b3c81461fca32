import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { inject } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { connectPostgres, migratePostgres, openMemoryPglite } from '../../src/db/node-client.js';

/**
 * Where the real Postgres is. CI sets nothing and gets the machine's server; a developer may point
 * TEST_DATABASE_URL elsewhere. Tests never skip when it is down: they fail, loudly.
 */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase extends Database {
  url: string | null;
  name: string;
}

/** A fresh, migrated Postgres database of its own, so test files can run in parallel. */
export async function createPostgresDatabase(prefix = 'lb_test'): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (err) {
    await admin.end();
    throw new Error(
      `Postgres-backed tests need a server at ${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (set TEST_DATABASE_URL): ${(err as Error).message}`,
    );
  }
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  await migratePostgres(url.toString());
  const database = connectPostgres(url.toString(), { max: 10 });
  return {
    ...database,
    url: url.toString(),
    name,
    close: async () => {
      await database.close();
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

let template: Blob | undefined;

/**
 * A fresh, migrated in-memory PGlite. It starts from the data directory test/support/global-setup.ts
 * migrated once for the whole run (running the migrations again in every file would cost most of
 * the time PGlite-backed files take).
 */
export async function createPgliteDatabase(): Promise<TestDatabase> {
  const file = inject('pgliteTemplate');
  if (template === undefined && file) template = new Blob([readFileSync(file)]);
  const database = await openMemoryPglite(template);
  return { ...database, url: null, name: 'pglite:memory' };
}

/** Both backends the service runs on; suites that touch the database run once per backend. */
export const BACKENDS: Array<{ name: 'postgres' | 'pglite'; create: () => Promise<TestDatabase> }> = [
  { name: 'postgres', create: () => createPostgresDatabase() },
  { name: 'pglite', create: () => createPgliteDatabase() },
];
