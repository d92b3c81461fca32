import type { Config } from '../config.js';
import { migratePostgres, openPglite } from '../db/node-client.js';

export async function migrate(config: Config): Promise<void> {
  if (config.DATABASE_URL) {
    await migratePostgres(config.DATABASE_URL);
    process.stdout.write('migrations applied (postgres)\n');
  } else {
    const db = await openPglite(config.DATA_DIR); // migrates on open
    await db.close();
    process.stdout.write(`migrations applied (pglite in ${config.DATA_DIR})\n`);
  }
}
