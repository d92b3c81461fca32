import { DatabaseUnavailableError } from '../errors.js';
import { isConnectionError } from './connection-errors.js';

/**
 * How long an event's commit may take before the event is answered as not taken. Feishu re-pushes
 * anything not answered with 200 within 3 s, and when the database stalls (a restart, a failover)
 * postgres.js queues queries through its reconnect backoff instead of failing, so the request
 * would hang past Feishu's deadline; answering before it is clearer and frees the connection. A
 * transaction that still commits after the deadline is harmless: the re-push is a duplicate.
 * The webhook answers 503 and the long connection answers 500 at this point.
 */
export const COMMIT_DEADLINE_MS = 2_500;

/**
 * Run database work under the commit deadline. A connection failure or a missed deadline becomes
 * DatabaseUnavailableError (503: Feishu retries, nothing is lost).
 */
export async function withCommitDeadline<T>(fn: () => Promise<T>, deadlineMs = COMMIT_DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseUnavailableError(new Error(`no commit within ${deadlineMs} ms`))), deadlineMs);
  });
  const work = fn();
  work.catch(() => {}); // a late failure after the deadline answered is not unhandled
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (isConnectionError(err)) throw new DatabaseUnavailableError(err);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
