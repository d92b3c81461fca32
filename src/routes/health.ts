import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { appliedMigrations, expectedMigrations } from '../db/client.js';
import { webhookWarnings } from '../config.js';
import type { Deps } from '../deps.js';

export function healthRoutes(deps: Deps): Hono {
  const r = new Hono();
  r.get('/healthz', (c) => c.json({ status: 'ok' }));

  /** Ready when the database answers and has every migration this build expects. */
  r.get('/readyz', async (c) => {
    const checks: Record<string, boolean> = { database: false, migrations: false };
    let detail: string | undefined;
    try {
      await withTimeout(deps.db.execute(sql`select 1`), 2000);
      checks.database = true;
      const applied = await appliedMigrations(deps.db);
      checks.migrations = applied >= expectedMigrations;
      if (!checks.migrations) detail = `${applied} of ${expectedMigrations} migrations applied; run leave-bridge migrate`;
    } catch {
      detail = 'database unreachable';
    }
    Object.assign(checks, deps.readiness?.() ?? {});
    const ready = Object.values(checks).every(Boolean);
    // weaknesses of the configuration: ready all the same, but said where monitoring looks
    const warnings = webhookWarnings(deps.config);
    return c.json(
      { status: ready ? 'ready' : 'not_ready', checks, ...(detail ? { detail } : {}), ...(warnings.length > 0 ? { warnings } : {}) },
      ready ? 200 : 503,
    );
  });

  r.get('/metrics', async (c) => {
    return c.text(await deps.metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  return r;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
