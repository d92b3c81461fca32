import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNodeOptions } from '../../scripts/start-command.js';
import { onCleanup } from './cleanup.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  label: string;
  pid: number;
  proc: ChildProcess;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  /** the last 64 KiB of stdout+stderr, for error messages */
  output(): string;
  /** lines written to stdout so far */
  lines(): string[];
  /** SIGTERM, then SIGKILL after graceMs */
  stop(graceMs?: number): Promise<number | string>;
}

/**
 * A Node child running a TypeScript file through tsx, from the repository root (so `--import tsx`
 * and the service's relative paths resolve). Registered for cleanup until it exits.
 */
export function spawnTs(label: string, script: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Child {
  return spawnProcess(label, process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], env);
}

/** `npm run build` (src → dist), once per benchmark run: the service is measured as `npm start` runs it. */
let built: Promise<void> | null = null;
export function buildService(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited ${code}`))));
  });
  return built;
}

/** The built service (dist/node.js) as `npm start` runs it. */
export async function spawnService(label: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<Child> {
  await buildService();
  return spawnProcess(label, process.execPath, [...startNodeOptions(REPO_ROOT), ...nodeArgs, 'dist/node.js', ...args], env);
}

/**
 * A benchmark child compiled to JavaScript first (esbuild, packages left in node_modules), so a
 * baseline runs without tsx's loader too, as the service does. Written under bench/results/.
 */
export async function spawnCompiled(label: string, script: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<Child> {
  const { build } = await import('esbuild');
  const outfile = path.join(REPO_ROOT, 'bench/results/.build', `${path.basename(script).replace(/\.ts$/, '')}.mjs`);
  await build({ entryPoints: [path.join(REPO_ROOT, script)], outfile, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20.10', logLevel: 'warning' });
  return spawnProcess(label, process.execPath, [...nodeArgs, outfile, ...args], env);
}

export function spawnProcess(label: string, command: string, args: string[], env: Record<string, string>, cwd = REPO_ROOT): Child {
  const proc = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${label}`);
  let tail = '';
  let partial = '';
  const stdoutLines: string[] = [];
  const keep = (s: string) => {
    tail = (tail + s).slice(-65536);
  };
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    keep(s);
    partial += s;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    stdoutLines.push(...parts);
  });
  proc.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      if (partial) stdoutLines.push(partial);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const unregister = onCleanup(`${label} (pid ${proc.pid})`, () => stop(2000).then(() => undefined));
  void exited.then(unregister);
  const stop = async (graceMs = 10_000) => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return exited;
  };
  return { label, pid: proc.pid, proc, exited, output: () => tail, lines: () => stdoutLines, stop };
}

/** Resolve with the first stdout line matching, or fail if the child exits or time runs out. */
export async function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of child.lines()) {
      const m = pattern.exec(line);
      if (m) return m;
    }
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`${child.label} not ready after ${timeoutMs} ms:\n${child.output()}`);
    await sleep(25);
  }
}

export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.label} not ready at ${url} after ${timeoutMs} ms:\n${child.output()}`);
    await sleep(50);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A port nothing listens on right now (the child binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** VmRSS / VmHWM of a live process, in KiB; null once it is gone. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return null;
  }
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; fixed at 100 on Linux x86-64 and arm64

/** user+system CPU time of a live process, in ms (from /proc/<pid>/stat); null once it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Polls VmRSS while a measurement runs; VmHWM at the end covers spikes between polls. */
export class MemorySampler {
  private peakRssKb = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly pid: number) {}

  start(intervalMs = 50): this {
    const sample = () => {
      const m = memoryOf(this.pid);
      if (m && m.rssKb > this.peakRssKb) this.peakRssKb = m.rssKb;
    };
    sample();
    this.timer = setInterval(sample, intervalMs);
    this.timer.unref();
    return this;
  }

  /** peak polled RSS and the kernel's high-water mark since process start, in MiB */
  stop(): { peakRssMb: number; hwmMb: number | null } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const m = memoryOf(this.pid);
    if (m && m.rssKb > this.peakRssKb) this.peakRssKb = m.rssKb;
    return { peakRssMb: round(this.peakRssKb / 1024, 1), hwmMb: m ? round(m.hwmKb / 1024, 1) : null };
  }
}

export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
