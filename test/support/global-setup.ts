import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migratedPgliteTemplate } from '../../src/db/node-client.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** a file holding a migrated PGlite's data directory (test/support/db.ts loads it) */
    pgliteTemplate: string;
  }
}

/** Once per run, before any test file: migrate one PGlite and keep its data directory in a file. */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-pglite-template-'));
  const file = path.join(dir, 'migrated.tar');
  writeFileSync(file, Buffer.from(await (await migratedPgliteTemplate()).arrayBuffer()));
  project.provide('pgliteTemplate', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
