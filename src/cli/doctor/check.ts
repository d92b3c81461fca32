import { ExternalError, type Explanation } from '../../ports.js';

/**
 * One line of `leave-bridge doctor`. `skipped` is for a part that is not configured (or cannot be
 * checked because something it needs failed); `warning` works but is worth fixing; `failed` stops
 * the service from doing its job, and makes the exit status non-zero.
 */
export type CheckStatus = 'ok' | 'warning' | 'failed' | 'skipped';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** what to do, with the page that documents it; null when there is nothing to do */
  fix: string | null;
}

export const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail, fix: null });
export const skipped = (check: string, detail: string, fix: string | null = null): CheckResult => ({ check, status: 'skipped', detail, fix });
export const warning = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'warning', detail, fix });
export const failed = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'failed', detail, fix });

export const fixWithSource = (e: Explanation): string => `${e.fix} (see ${e.source})`;

/**
 * A failed call as a check line: the explanation when the code or reason is known, else what the
 * service answered and a fix that says where to look.
 */
export function failedCall(check: string, what: string, err: unknown, explanation: Explanation | null, otherwise: string): CheckResult {
  const message = err instanceof Error ? err.message : String(err);
  if (explanation) return failed(check, `${what}: ${explanation.cause} [${message}]`, fixWithSource(explanation));
  if (err instanceof ExternalError && err.failure === 'transient') {
    return failed(check, `${what}: ${message}`, 'a network failure or a server error: check this host reaches the service, then run again');
  }
  return failed(check, `${what}: ${message}`, otherwise);
}
