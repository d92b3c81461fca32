import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { freePort } from '../support/process.js';

const run = promisify(execFile);

/**
 * A Postgres server of our own, for the outage scenario: stopping the machine's shared cluster
 * would fail every other engineer's tests running at the same time, so we initdb a throwaway
 * cluster in a temp dir with the machine's binaries, on a free port, and stop/start only that.
 *
 * Postgres refuses to run as root, so when we are root the binaries run as the `postgres` user
 * (runuser) in a temp dir that user owns. Everything is async: the scenario keeps sending events
 * while the server stops and starts.
 */
export interface PrivatePostgres {
  port: number;
  /** admin URL (database `postgres`) */
  adminUrl: string;
  /** URL of a database of that name on this server */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop -m fast: in-flight transactions are rolled back, connections cut */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** the server's own log (attached to a failure message) */
  log(): Promise<string>;
  close(): Promise<void>;
}

function postgresBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) return fromEnv;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    // Never skip: the outage scenario is part of the suite, so a missing server fails it loudly.
    throw new Error('the outage scenario needs the Postgres server binaries (initdb, pg_ctl) in /usr/lib/postgresql/<version>/bin or PG_BIN');
  }
  return path.join(base, versions[0]!, 'bin');
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-pg-'));
  if (isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  const pg = (tool: string, args: string[]) =>
    isRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);

  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // a throwaway cluster: durability across an OS crash is not what is being tested
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=100',
  ].join(' ');
  const start = async () => {
    await pg('pg_ctl', ['-D', data, '-o', serverOptions, '-l', logFile, '-w', '-t', '30', 'start']);
  };
  const stop = async () => {
    await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  };
  await start();
  // If the test process dies before close(), do not leave a server running on the machine.
  const onExit = () => {
    try {
      const args = ['-D', data, '-m', 'immediate', 'stop'];
      if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
      else execFileSync(path.join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  };
  process.once('exit', onExit);

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let closed = false;
  return {
    port,
    adminUrl,
    urlFor,
    async createDatabase(name) {
      const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`create database "${name}"`);
      } finally {
        await admin.end();
      }
      return urlFor(name);
    },
    stop,
    start,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async close() {
      if (closed) return;
      closed = true;
      process.removeListener('exit', onExit);
      await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
