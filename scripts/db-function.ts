/**
 * `npm run db:function -- <function> [<function>…]`: a new drizzle migration that brings the named
 * functions to their current definitions, src/db/sql/<function>.sql (see the README there).
 *
 * drizzle-kit keeps the bookkeeping: `drizzle-kit generate --custom --name=…` creates the empty
 * migration with its journal entry and snapshot, and this fills the file with the definitions as
 * `CREATE OR REPLACE FUNCTION` statements separated by `--> statement-breakpoint`.
 *
 * CREATE OR REPLACE cannot change a function's arguments or result: a changed result type or
 * argument name fails the migration, and changed argument types leave the old function beside the
 * new one (an overload that makes existing calls ambiguous or keeps calling the old body). So every
 * named function is first compared with the definition the existing migrations leave, on an
 * in-memory PGlite migrated from the same folder: when its arguments (names, types, modes,
 * defaults) or result differ, the migration drops the old signature first, in the same
 * transaction. A function no migration created yet is simply created. Nothing is written before the
 * whole migration has run on that database and left each function exactly as its file defines it,
 * and the rest as they were; a definition that already matches is refused, as drizzle-kit refuses
 * an empty schema change.
 *
 * Options: --name=<migration name> (default: the function names joined by "_"),
 *          --out=<migrations folder> (default: drizzle.config.ts's),
 *          --definitions=<folder> (default: src/db/sql).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import config from '../drizzle.config.js';
import type { Db } from '../src/db/client.js';
import {
  definitionsFolder,
  functionsAfter,
  readDefinition,
  storedFunctions,
  type FunctionDefinition,
  type StoredFunction,
} from '../src/db/sql/definitions.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const configuredOut = path.resolve(root, config.out ?? 'drizzle');

interface Args {
  functions: string[];
  name: string;
  out: string;
  definitions: string;
}

const USAGE = 'usage: npm run db:function -- [--name=<migration name>] [--out=<folder>] [--definitions=<folder>] <function> [<function>…]';

function parseArgs(argv: string[]): Args {
  const functions: string[] = [];
  let name: string | null = null;
  let out = configuredOut;
  let definitions = definitionsFolder;
  for (const arg of argv) {
    const option = /^--(name|out|definitions)=(.+)$/.exec(arg);
    if (option?.[1] === 'name') name = option[2]!;
    else if (option?.[1] === 'out') out = path.resolve(option[2]!);
    else if (option?.[1] === 'definitions') definitions = path.resolve(option[2]!);
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else functions.push(arg);
  }
  if (functions.length === 0) throw new Error(`name at least one function\n${USAGE}`);
  if (new Set(functions).size !== functions.length) throw new Error('a function is named twice');
  name ??= functions.join('_');
  // the tag becomes a file name and the journal's key
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`--name must be lower case letters, digits and "_": ${name}`);
  return { functions, name, out, definitions };
}

/** What the migration does to one function. */
interface Change {
  definition: FunctionDefinition;
  /** as the existing migrations leave it; null for a new function */
  previous: StoredFunction | null;
  /** as its file defines it */
  next: StoredFunction;
  /** its arguments or result changed: CREATE OR REPLACE would fail or add an overload */
  dropFirst: boolean;
}

/** identity of every function but `except`, to tell that a statement touched nothing else */
const others = (fns: StoredFunction[], except: Set<string>) =>
  fns
    .filter((f) => !except.has(f.name))
    .map((f) => `${f.name}(${f.identity}) ${f.result}\n${f.definition}`)
    .sort()
    .join('\n');

async function planChange(db: Db, definition: FunctionDefinition): Promise<Change> {
  const { name } = definition;
  const before = await storedFunctions(db);
  const existing = before.filter((f) => f.name === name);
  if (existing.length > 1) {
    throw new Error(`${name}: the migrations leave ${existing.length} functions of that name; a definition file stands for one`);
  }
  const previous = existing[0] ?? null;
  // The file's function as Postgres reads it, without the old one in the way (so CREATE OR REPLACE
  // can neither fail on nor overload a changed signature here); rolled back.
  const after = await functionsAfter(db, [...(previous ? [`DROP FUNCTION ${name}(${previous.identity})`] : []), definition.statement]);
  const created = after.filter((f) => f.name === name);
  if (created.length !== 1) throw new Error(`${definition.file}: defines ${created.length} functions named ${name}`);
  if (others(after, new Set([name])) !== others(before, new Set([name]))) {
    throw new Error(`${definition.file}: creates or changes functions other than ${name}`);
  }
  const next = created[0]!;
  if (previous && previous.definition === next.definition) {
    throw new Error(`${name}: ${definition.file} defines it as the existing migrations do; nothing to migrate`);
  }
  const dropFirst = previous !== null && (previous.args !== next.args || previous.result !== next.result || previous.kind !== next.kind);
  return { definition, previous, next, dropFirst };
}

function statementsOf(changes: Change[]): string[] {
  return changes.flatMap((c) => [
    ...(c.dropFirst ? [`DROP FUNCTION IF EXISTS ${c.definition.name}(${c.previous!.identity});`] : []),
    c.definition.statement,
  ]);
}

function migrationText(changes: Change[], definitions: string): string {
  const relative = path.relative(root, definitions);
  const where = relative.startsWith('..') || path.isAbsolute(relative) ? definitions : relative || '.';
  const lines = [
    `-- Written by \`npm run db:function\` from ${where}/, one file per function documenting its rules:`,
    `-- the current definitions of ${changes.map((c) => c.definition.name).join(', ')}.`,
  ];
  for (const c of changes.filter((c) => c.dropFirst)) {
    lines.push(
      `-- ${c.definition.name}: its arguments or result changed, which CREATE OR REPLACE cannot do; the old`,
      `-- ${c.definition.name}(${c.previous!.args}) RETURNS ${c.previous!.result} is dropped first.`,
    );
  }
  return `${lines.join('\n')}\n${statementsOf(changes).join('\n--> statement-breakpoint\n')}\n`;
}

/** Run the migration's statements where the plan was made and check that they do what it says. */
async function verify(db: Db, changes: Change[]): Promise<void> {
  const before = await storedFunctions(db);
  const after = await functionsAfter(db, statementsOf(changes));
  const names = new Set(changes.map((c) => c.definition.name));
  for (const c of changes) {
    const now = after.filter((f) => f.name === c.definition.name);
    if (now.length !== 1 || now[0]!.definition !== c.next.definition) {
      throw new Error(`${c.definition.name}: the migration does not leave the function its file defines`);
    }
  }
  if (others(after, names) !== others(before, names)) throw new Error('the migration changes other functions');
}

/**
 * drizzle-kit generate --custom: the empty migration, its journal entry and snapshot. drizzle-kit
 * takes its config file or folder options, not both, so another folder than the config's goes in
 * through a copy of the config.
 */
function generateEmpty(out: string, name: string): { tag: string; sqlFile: string; undo: () => void } {
  const journalFile = path.join(out, 'meta', '_journal.json');
  const journalBefore = readFileSync(journalFile, 'utf8');
  const entriesBefore = (JSON.parse(journalBefore) as Journal).entries;
  const metaBefore = new Set(readdirSync(path.join(out, 'meta')));
  const sqlBefore = new Set(readdirSync(out));
  const undo = () => {
    for (const f of readdirSync(path.join(out, 'meta'))) if (!metaBefore.has(f)) rmSync(path.join(out, 'meta', f));
    for (const f of readdirSync(out)) if (!sqlBefore.has(f)) rmSync(path.join(out, f));
    writeFileSync(journalFile, journalBefore);
  };

  let configFile = path.join(root, 'drizzle.config.ts');
  let tmp: string | null = null;
  if (out !== configuredOut) {
    tmp = mkdtempSync(path.join(tmpdir(), 'db-function-'));
    configFile = path.join(tmp, 'drizzle.config.json');
    // relative: drizzle-kit reads `./${out}/…`
    writeFileSync(configFile, JSON.stringify({ ...config, out: path.relative(root, out) }));
  }
  const kit = path.join(path.dirname(createRequire(import.meta.url).resolve('drizzle-kit')), 'bin.cjs');
  let output = '';
  try {
    const run = spawnSync(process.execPath, [kit, 'generate', `--config=${configFile}`, '--custom', `--name=${name}`], {
      cwd: root,
      encoding: 'utf8',
    });
    output = `${run.stdout}${run.stderr}`;
    // drizzle-kit may report a failure and still exit 0: the journal, checked below, tells.
    if (run.status !== 0) {
      undo();
      throw new Error(`drizzle-kit generate --custom failed:\n${output}`);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }

  const entries = (JSON.parse(readFileSync(journalFile, 'utf8')) as Journal).entries;
  const entry = entries[entriesBefore.length];
  if (entries.length !== entriesBefore.length + 1 || !entry) {
    undo();
    throw new Error(`drizzle-kit generate --custom did not add one journal entry to ${journalFile}:\n${output}`);
  }
  // drizzle's migrator applies only migrations newer than the last one a database recorded: one
  // stamped earlier (a clock behind the journal) would be skipped without a word.
  const latest = Math.max(...entriesBefore.map((e) => e.when));
  if (entry.when <= latest) {
    undo();
    throw new Error(`the new journal entry's time (${entry.when}) is not after the last one's (${latest}); check the clock`);
  }
  return { tag: entry.tag, sqlFile: path.join(out, `${entry.tag}.sql`), undo };
}

interface Journal {
  entries: Array<{ idx: number; when: number; tag: string }>;
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const definitions = args.functions.map((f) => readDefinition(path.join(args.definitions, `${f}.sql`)));

  const client = await PGlite.create();
  const changes: Change[] = [];
  try {
    const scratch = drizzle(client);
    await migrate(scratch, { migrationsFolder: args.out });
    const db = scratch as unknown as Db;
    for (const d of definitions) changes.push(await planChange(db, d));
    await verify(db, changes);
  } finally {
    await client.close();
  }

  const { tag, sqlFile, undo } = generateEmpty(args.out, args.name);
  try {
    writeFileSync(sqlFile, migrationText(changes, args.definitions));
  } catch (err) {
    undo();
    throw err;
  }
  process.stdout.write(`${path.relative(process.cwd(), sqlFile)} (${tag}):\n`);
  for (const c of changes) {
    const how = c.previous === null ? 'created' : c.dropFirst ? 'dropped and created (its signature changed)' : 'replaced';
    process.stdout.write(`  ${c.definition.name}: ${how}\n`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`db:function: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
