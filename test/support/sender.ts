import { encryptedRequest, type FeishuRequest } from './feishu.js';

/**
 * A Feishu-like event sender: what Feishu's push does to us, compressed in time.
 *
 * Feishu wants HTTP 200 within 3 s; anything else (another status, a timeout, a reset connection)
 * counts as a failed push and the same event is pushed again later (15 s, 5 min, 1 h, 6 h —
 * https://open.feishu.cn/document/server-docs/event-subscription-guide/event-subscription-configure-/request-url-configuration-case). Here the schedule is a short exponential backoff so a test sees the same behaviour in
 * seconds. Every push is re-encrypted and re-signed with a fresh timestamp and nonce, as a real
 * re-push is, so the service cannot tell a retry from the first push except by its event id.
 */

export interface Delivery {
  /** the dedupe key the body carries (v1 `uuid`); bookkeeping only */
  id: string;
  /** the plaintext event body (token included); encrypted and signed per push */
  plaintext: string;
}

export interface Attempt {
  target: string;
  /** HTTP status, or what went wrong below HTTP */
  status: number | 'timeout' | 'network';
  body: string;
  startedAt: number;
  ms: number;
}

export interface DeliveryResult {
  id: string;
  acked: boolean;
  attempts: Attempt[];
  /** the body of the 200 that ended it (parsed), when acked */
  ack: unknown;
}

export interface SenderOptions {
  /** webhook URLs; each push goes to one chosen at random (several instances behind a balancer) */
  targets: string[];
  encryptKey: string;
  /** per push, like Feishu's 3 s; default 3000 */
  timeoutMs?: number;
  /** first re-push delay, doubled per failure up to maxBackoffMs; defaults 50 / 800 */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** give up on an event after this long (it then counts as lost); default 30 000 */
  deadlineMs?: number;
  /** every response body is handed here (the secrets check greps them) */
  onResponse?: (text: string) => void;
  /** a source of randomness for target choice and jitter (seeded in tests that replay) */
  random?: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FeishuSender {
  readonly results: DeliveryResult[] = [];
  /** every push made, deliver()'s and direct push()es alike */
  readonly pushes: Attempt[] = [];
  private readonly o: Required<Omit<SenderOptions, 'onResponse'>> & Pick<SenderOptions, 'onResponse'>;

  constructor(opts: SenderOptions) {
    if (opts.targets.length === 0) throw new Error('FeishuSender needs at least one target');
    this.o = { timeoutMs: 3000, baseBackoffMs: 50, maxBackoffMs: 800, deadlineMs: 30_000, random: Math.random, ...opts };
  }

  /** Push one event until it is answered 200 or the deadline passes. Never throws. */
  async deliver(d: Delivery): Promise<DeliveryResult> {
    const result: DeliveryResult = { id: d.id, acked: false, attempts: [], ack: null };
    this.results.push(result);
    const deadline = Date.now() + this.o.deadlineMs;
    for (let n = 0; ; n++) {
      const target = this.o.targets[Math.floor(this.o.random() * this.o.targets.length)]!;
      const req = await encryptedRequest(d.plaintext, { encryptKey: this.o.encryptKey });
      const attempt = await this.push(target, req);
      result.attempts.push(attempt);
      if (attempt.status === 200) {
        result.acked = true;
        try {
          result.ack = JSON.parse(attempt.body);
        } catch {
          result.ack = attempt.body;
        }
        return result;
      }
      const step = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** n);
      // equal jitter: deliveries that failed together do not come back together
      const delay = step / 2 + this.o.random() * (step / 2);
      if (Date.now() + delay > deadline) return result;
      await sleep(delay);
    }
  }

  /** One push of an already built request (also used to send the same bytes twice). */
  async push(target: string, req: FeishuRequest): Promise<Attempt> {
    const startedAt = Date.now();
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      const body = await res.text();
      this.o.onResponse?.(body);
      return this.log({ target, status: res.status, body, startedAt, ms: Date.now() - startedAt });
    } catch (err) {
      const name = (err as { name?: string }).name;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return this.log({
        target,
        status: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network',
        body: `${(err as Error).message ?? String(err)}${cause ? ` (${cause.code ?? cause.message})` : ''}`,
        startedAt,
        ms: Date.now() - startedAt,
      });
    }
  }

  private log(a: Attempt): Attempt {
    this.pushes.push(a);
    return a;
  }

  /** Totals over everything delivered so far. */
  stats(): { events: number; pushes: number; acked: number; statuses: Record<string, number> } {
    const statuses: Record<string, number> = {};
    for (const a of this.pushes) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
    return { events: this.results.length, pushes: this.pushes.length, acked: this.results.filter((r) => r.acked).length, statuses };
  }
}
