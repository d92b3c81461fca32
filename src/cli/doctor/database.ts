import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { Config } from '../../config.js';
import { appliedMigrations, expectedMigrations, type Database } from '../../db/client.js';
import { connectPostgres, openPglite } from '../../db/node-client.js';
import { describeNetworkError } from '../../google/auth.js';
import { listLeaves } from '../../leave/queries.js';
import { printableUrl } from '../io.js';
import { failed, ok, warning, type CheckResult } from './check.js';

const CHECK = 'database';

export interface DatabaseCheck {
  result: CheckResult;
  /** the employee of the latest leave, for the contact check when none is given */
  latestEmployee: string | null;
}

/** Postgres error codes with a cause a person can act on (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const POSTGRES_FIXES: Record<string, string> = {
  '28P01': 'Postgres refused the user name or password in DATABASE_URL',
  '28000': 'Postgres refused the user name or password in DATABASE_URL',
  '3D000': 'the database named in DATABASE_URL does not exist: create it (createdb <name>)',
};

function unreachable(err: unknown, where: string): CheckResult {
  // drizzle wraps the driver's error ("Failed query: …"): the driver's is the one that says why
  let root = err;
  while (root instanceof Error && root.cause !== undefined) root = root.cause;
  const code = (root as { code?: unknown }).code;
  const known = typeof code === 'string' ? POSTGRES_FIXES[code] : undefined;
  const message = root instanceof Error ? root.message : String(root);
  const detail = `${where} cannot be used: ${typeof code === 'string' && !message.includes(code) ? `${code} ` : ''}${message}`;
  return failed(CHECK, detail, known ?? 'is Postgres running, and are the host, port and database in DATABASE_URL right? (GET /readyz of a running service says the same)');
}

/**
 * Reachable, and carrying every migration this build expects: what GET /readyz checks. It reads
 * the latest leave's employee too, for the contact check.
 */
async function inspect(database: Database, where: string): Promise<DatabaseCheck> {
  await database.db.execute(sql`select 1`);
  const applied = await appliedMigrations(database.db);
  if (applied < expectedMigrations) {
    return {
      result: failed(CHECK, `${where}: ${applied} of ${expectedMigrations} migrations applied`, 'run leave-bridge migrate (serve also applies them at start)'),
      latestEmployee: null,
    };
  }
  const [latest] = await listLeaves(database.db, { limit: 1 });
  const latestEmployee = latest?.employee_id ?? null;
  if (applied > expectedMigrations) {
    return {
      result: warning(CHECK, `${where}: ${applied} migrations applied, this build knows ${expectedMigrations}`, 'a newer leave-bridge migrated this database: run that version'),
      latestEmployee,
    };
  }
  return { result: ok(CHECK, `${where} reachable, ${applied} of ${expectedMigrations} migrations applied`), latestEmployee };
}

export async function checkDatabase(config: Config, o: { fetch: typeof fetch }): Promise<DatabaseCheck> {
  if (config.DATABASE_URL) {
    const where = `Postgres ${printableUrl(new URL(config.DATABASE_URL))}`;
    const database = connectPostgres(config.DATABASE_URL, { max: 1, connectTimeout: 5 });
    try {
      return await inspect(database, where);
    } catch (err) {
      return { result: unreachable(err, where), latestEmployee: null };
    } finally {
      await database.close().catch(() => {});
    }
  }

  const dir = path.resolve(config.DATA_DIR);
  const where = `embedded PGlite in ${dir}`;
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) {
    return { result: ok(CHECK, `${where}: not created yet; serve creates it and applies the migrations at start`), latestEmployee: null };
  }
  let database: Database;
  try {
    // opening it applies pending migrations, as serve does at start
    database = await openPglite(dir);
  } catch (err) {
    const message = (err as Error).message;
    if (/in use by another leave-bridge process/.test(message)) return { result: await heldByService(config, where, o.fetch), latestEmployee: null };
    return { result: failed(CHECK, `${where}: ${message}`, 'check DATA_DIR points at a directory this user can write'), latestEmployee: null };
  }
  try {
    return await inspect(database, where);
  } finally {
    await database.close();
  }
}

/**
 * Embedded PGlite allows one process, and a running service holds it: that service's /readyz
 * answers for the database instead.
 */
async function heldByService(config: Config, where: string, doFetch: typeof fetch): Promise<CheckResult> {
  const readyz = `http://127.0.0.1:${config.PORT}/readyz`;
  try {
    const res = await doFetch(readyz, { signal: AbortSignal.timeout(3_000) });
    const body = await res.text();
    if (res.status === 200) return ok(CHECK, `${where}: open in the running service, which reports ready (${readyz})`);
    return failed(CHECK, `${where}: open in the running service, which reports not ready (${readyz}: ${body.slice(0, 200)})`, 'see the service\'s log; run leave-bridge migrate if migrations are missing');
  } catch (err) {
    return warning(
      CHECK,
      `${where}: held by another leave-bridge process, and ${readyz} does not answer (${describeNetworkError(err)})`,
      'embedded PGlite allows one process: stop the other one to check it here, or set DATABASE_URL to share a Postgres database',
    );
  }
}
