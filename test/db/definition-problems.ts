import type { Db } from '../../src/db/client.js';
import { functionsAfter, readDefinitions, storedFunctions } from '../../src/db/sql/definitions.js';

/**
 * What differs between the functions of a migrated database and the definition files of a folder,
 * one line per problem; none when they match.
 *
 * Each file is compared by running it over the migrated function, inside a transaction that is
 * rolled back, and reading pg_get_functiondef before and after: Postgres renders both, so only a
 * real difference shows, never a difference of spelling (timestamptz against "timestamp with time
 * zone", the quoting of the body). CREATE OR REPLACE keeps a function's oid; a file whose
 * signature differs creates a second function instead, or fails.
 */
export async function definitionProblems(db: Db, folder: string): Promise<string[]> {
  const problems: string[] = [];
  const definitions = readDefinitions(folder);
  const migrated = await storedFunctions(db);
  const files = new Set(definitions.map((d) => d.name));
  for (const f of migrated) {
    if (!files.has(f.name)) problems.push(`${f.name}(${f.identity}): no file ${f.name}.sql`);
  }
  for (const d of definitions) {
    const before = migrated.filter((f) => f.name === d.name);
    if (before.length === 0) {
      problems.push(`${d.file}: the migrations create no function ${d.name}`);
      continue;
    }
    if (before.length > 1) {
      problems.push(`${d.file}: the migrations leave ${before.length} functions named ${d.name}, a file stands for one`);
      continue;
    }
    const old = before[0]!;
    let after;
    try {
      after = await functionsAfter(db, [d.text]);
    } catch (err) {
      // drizzle wraps the database's error in one that quotes the whole file
      const cause = (err as { cause?: unknown }).cause ?? err;
      problems.push(`${d.file}: does not apply over the migrated function: ${(cause as Error).message}`);
      continue;
    }
    const now = after.filter((f) => f.name === d.name);
    if (now.length !== 1 || now[0]!.oid !== old.oid) {
      problems.push(`${d.file}: its signature differs from the migrated ${d.name}(${old.args}) RETURNS ${old.result}`);
    } else if (now[0]!.definition !== old.definition) {
      problems.push(`${d.file}: differs from the migrated definition\n${firstDifference(old.definition, now[0]!.definition)}`);
    }
    const untouched = (fns: typeof migrated) =>
      fns.filter((f) => f.name !== d.name).map((f) => `${f.oid} ${f.definition}`).join('\n');
    if (untouched(after) !== untouched(migrated)) problems.push(`${d.file}: creates or changes other functions`);
  }
  return problems;
}

function firstDifference(migrated: string, file: string): string {
  const a = migrated.split('\n');
  const b = file.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i < 0 ? a.length : i;
  return `  line ${at + 1} of the definition\n  migrated: ${a[at] ?? '(end)'}\n  file:     ${b[at] ?? '(end)'}`;
}
