import { hostname, userInfo } from 'node:os';
import { recordAudit } from '../auth/audit.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';

/**
 * Run an admin action of the command line and record it in the audit log, as the API records its
 * own: who (the operating-system user, as actor kind `cli`), what, on what, and how it ended. A
 * failure is recorded with its error code and thrown on.
 */
export async function audited<T>(
  deps: Pick<Deps, 'db' | 'clock'>,
  what: { action: string; target?: string | null; detail?: Record<string, unknown> },
  run: () => Promise<T>,
): Promise<T> {
  const record = (outcome: 'ok' | 'failed', error?: string) =>
    recordAudit(deps, {
      actor: { kind: 'cli', id: osUser(), name: null },
      action: what.action,
      target: what.target ?? null,
      outcome,
      detail: { ...(what.detail ?? {}), ...(error ? { error } : {}) },
      address: `cli@${hostname()}`,
    });
  let result: T;
  try {
    result = await run();
  } catch (err) {
    await record('failed', err instanceof AppError ? err.code : 'internal');
    throw err;
  }
  await record('ok');
  return result;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // no passwd entry for the uid (some containers)
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}
