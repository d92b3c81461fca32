import type { FakeFeishu } from '../fakes/feishu.js';
import type { FakeGoogle } from '../fakes/google.js';
import { ADMIN } from './app.js';
import { DOC_TOKEN, TEST_ENCRYPT_KEY } from './feishu.js';
import { runCli, waitFor, type Child } from './process.js';

export interface ServeProcess extends Child {
  port: number;
  pid: number;
  /** what this process writes into outbox.leased_by (before the "#batch" suffix) */
  workerPrefix: string;
  url: string;
}

/** The environment of a real `leave-bridge serve` against a test database and the fakes. */
export function serveEnv(opts: { databaseUrl: string; google: FakeGoogle; feishu: FakeFeishu; extra?: Record<string, string> }): Record<string, string> {
  return {
    DATABASE_URL: opts.databaseUrl,
    PORT: '0',
    FEISHU_VERIFICATION_TOKEN: DOC_TOKEN,
    FEISHU_ENCRYPT_KEY: TEST_ENCRYPT_KEY,
    FEISHU_APP_ID: opts.feishu.appId,
    FEISHU_APP_SECRET: opts.feishu.appSecret,
    FEISHU_BASE_URL: opts.feishu.url,
    GOOGLE_SERVICE_ACCOUNT_JSON: opts.google.serviceAccountJson,
    GOOGLE_CALENDAR_BASE_URL: opts.google.url,
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'info',
    ...opts.extra,
  };
}

/**
 * Start `leave-bridge serve` as a real child process (HTTP + outbox drainer) and wait until it
 * listens. The drainer names itself `<hostname>:<pid>` in leased_by.
 */
export async function startServe(env: Record<string, string>): Promise<ServeProcess> {
  const child = runCli(['serve'], env);
  let port = 0;
  await waitFor(
    'leave-bridge serve to listen',
    () => {
      const m = /"msg":"leave-bridge listening"[^\n]*"port":(\d+)/.exec(child.output());
      if (m) port = Number(m[1]);
      if (child.proc.exitCode !== null) throw new Error(`serve exited early:\n${child.output()}`);
      return port > 0;
    },
    90_000,
  );
  const pid = child.proc.pid!;
  const os = await import('node:os');
  return { ...child, port, pid, workerPrefix: `${os.hostname()}:${pid}#`, url: `http://127.0.0.1:${port}` };
}

export async function stopServe(p: ServeProcess | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGKILL');
  await p.exited;
}
