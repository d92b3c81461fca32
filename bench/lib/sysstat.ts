import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { ADMIN_URL } from './db.js';
import { cpuMsOf } from './proc.js';

/** Busy and total jiffies of the whole machine (/proc/stat), to tell whether a run was CPU-bound. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU ms of each Postgres backend connected to `database` now (pid → ms). */
async function backendCpu(database: string): Promise<Map<number, number>> {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    const rows = await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${database}`;
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = cpuMsOf(pid);
      if (ms !== null) out.set(pid, ms);
    }
    return out;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface CpuWindow {
  /** CPU ms the process under test used in the window */
  processMs: number | null;
  /** CPU ms of the Postgres backends serving the database under test (WAL writer etc. not included) */
  postgresMs: number;
  /** CPU ms of this (load-generating) process */
  loadGeneratorMs: number;
  /** share of the machine's CPU (all cores) busy in the window, 0..1 — anyone's, not only ours */
  machineBusy: number;
}

/**
 * Start measuring; await the result's call to end the window. Postgres CPU counts the backends
 * connected to `database` (the server is shared: other people's backends are not ours); a backend
 * that connects during the window counts from its start, one that exits during it is missed.
 */
export async function cpuWindow(pid: number | null, database: string): Promise<() => Promise<CpuWindow>> {
  const pg0 = await backendCpu(database);
  const p0 = pid === null ? null : cpuMsOf(pid);
  const self0 = process.cpuUsage();
  const m0 = machineTicks();
  return async () => {
    const p1 = pid === null ? null : cpuMsOf(pid);
    const self = process.cpuUsage(self0);
    const m1 = machineTicks();
    const pg1 = await backendCpu(database);
    let postgresMs = 0;
    for (const [backend, ms] of pg1) postgresMs += ms - (pg0.get(backend) ?? 0);
    return {
      processMs: p0 !== null && p1 !== null ? p1 - p0 : null,
      postgresMs: Math.max(0, postgresMs),
      loadGeneratorMs: Math.round((self.user + self.system) / 1000),
      machineBusy: Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100) / 100,
    };
  };
}
