import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNodeOptions } from '../../scripts/start-command.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Run `leave-bridge <args>` as a real process, from the sources through tsx (as `npm run leave-bridge` does). */
export function runCli(args: string[], env: Record<string, string | undefined>): Child {
  return runNode(['--import', 'tsx', 'src/node.ts', ...args], env);
}

/** Run `leave-bridge <args>` from the build in dist/ (as `npm start` does, after `npm run build`). */
export function runBuilt(args: string[], env: Record<string, string | undefined>): Child {
  return runNode([...startNodeOptions(ROOT), 'dist/node.js', ...args], env);
}

function runNode(nodeArgs: string[], env: Record<string, string | undefined>): Child {
  const proc = spawn(process.execPath, nodeArgs, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => out, exited };
}

/** Wait until `predicate` holds, polling; fails with `what` after `ms`. */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Until a `serve` on this port answers /readyz with 200. */
export async function waitForReady(port: number, ms = 60_000): Promise<void> {
  await waitFor(`serve on :${port} to be ready`, async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }, ms);
}

/** A free port chosen by the kernel. */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
