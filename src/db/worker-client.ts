import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { schema, type Database, type Db } from './client.js';

/**
 * A postgres.js client for one Worker invocation (one request, or one cron run).
 *
 * Workers forbid using an I/O object (a socket) created by one request from another ("Cannot
 * perform I/O on behalf of a different request"), so a pool shared across requests, as on Node,
 * fails on the second request. Each invocation opens its own client and ends it in
 * ctx.waitUntil; Hyperdrive keeps the real connections to Postgres warm, so opening one here is a
 * hop inside Cloudflare's network rather than a TLS handshake with the database.
 *
 * This module must stay free of Node-only imports (node:fs, PGlite, proper-lockfile): it is what
 * src/worker.ts bundles instead of node-client.ts. The "postgres" package resolves to its
 * workerd build (cloudflare:sockets) under wrangler's "workerd" export condition.
 */
export function connectWorkerPostgres(url: string): Database {
  const client = postgres(url, {
    // A few, not one: an admin report may run independent queries side by side; an ingest holds one
    // connection for its single statement.
    max: 5,
    connect_timeout: 5,
    onnotice: () => {},
  });
  const db = drizzle(client, { schema }) as unknown as Db;
  return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
}
