/**
 * Everything a benchmark starts (child processes, databases) registers how to undo itself here, so
 * a failure, Ctrl-C or SIGTERM from CI still leaves no server running and no database behind.
 * Cleanups run newest first (a server stops before its database is dropped).
 */
type Cleanup = () => Promise<void> | void;

const cleanups = new Map<number, { label: string; fn: Cleanup }>();
let seq = 0;

export function onCleanup(label: string, fn: Cleanup): () => void {
  const id = seq++;
  cleanups.set(id, { label, fn });
  return () => {
    cleanups.delete(id);
  };
}

export async function runCleanups(): Promise<void> {
  const entries = [...cleanups.entries()].reverse();
  cleanups.clear();
  for (const [, { label, fn }] of entries) {
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`bench: cleanup of ${label} failed: ${(err as Error).message}\n`);
    }
  }
}

let installed = false;

/**
 * On a signal: clean up, then exit with the conventional 128 + signal number. A crash (an error
 * nobody caught) cleans up too, and a closed stdout (`npm run bench | head`) is not a crash: an
 * EPIPE there would otherwise kill the run before it stopped its servers.
 */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: NodeJS.Signals, code: number) => {
    process.stderr.write(`\nbench: ${signal}, cleaning up…\n`);
    void runCleanups().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => handler('SIGINT', 130));
  process.once('SIGTERM', () => handler('SIGTERM', 143));
  process.once('SIGHUP', () => handler('SIGHUP', 129));
  const crash = (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void runCleanups().finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') crash(err);
    });
  }
}
