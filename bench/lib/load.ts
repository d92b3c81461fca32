import autocannon from 'autocannon';
import type { PreparedRequest } from './feishu-events.js';
import { Samples, summarise, type LatencySummary } from './stats.js';

export interface LoadOptions {
  url: string;
  path: string;
  requests: PreparedRequest[];
  connections: number;
  durationS: number;
  /** whether a 200 response body means the event was accepted (the acked events are then checked) */
  isAck: (body: string) => boolean;
  /** where to send the few requests made after the prepared bodies ran out (a cheap GET) */
  idlePath: string;
}

export interface LoadResult {
  /** indices into `requests` of the events the server acknowledged */
  acked: number[];
  /** seconds from the first request to the end (or to the moment the prepared bodies ran out) */
  elapsedS: number;
  eventsPerS: number;
  latencyMs: LatencySummary;
  sent: number;
  errors: number;
  timeouts: number;
  /** responses that were not an ack, by status and a short body */
  rejected: Record<string, number>;
  /** true when the load outran the prepared bodies and stopped early (rate still valid) */
  exhausted: boolean;
}

interface Ctx {
  i?: number;
  t?: number;
}

/**
 * Posts each prepared request once, from `connections` keep-alive connections for `durationS`
 * seconds (autocannon in this process; the server under test is another process). Latency is
 * taken per request from the moment autocannon builds it (it is written at once: pipelining 1) to
 * its complete response, in ms with sub-ms resolution.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let next = 0;
  let exhausted = false;
  let exhaustedAt = 0;
  const acked: number[] = [];
  const latencies = new Samples();
  const rejected: Record<string, number> = {};
  let instance: autocannon.Instance | undefined;
  const start = performance.now();

  const setupRequest = (req: autocannon.Request, context: object): autocannon.Request => {
    const ctx = context as Ctx;
    if (next >= opts.requests.length) {
      if (!exhausted) {
        exhausted = true;
        exhaustedAt = performance.now();
        setImmediate(() => instance?.stop());
      }
      ctx.i = -1;
      return { ...req, method: 'GET', path: opts.idlePath, body: undefined, headers: {} };
    }
    const i = next++;
    const r = opts.requests[i]!;
    ctx.i = i;
    ctx.t = performance.now();
    return { ...req, method: 'POST', path: opts.path, body: r.body, headers: r.headers };
  };
  const onResponse = (status: number, body: string, context: object) => {
    const ctx = context as Ctx;
    if (ctx.i === undefined || ctx.i < 0) return;
    latencies.push(performance.now() - ctx.t!);
    if (status === 200 && opts.isAck(body)) acked.push(ctx.i);
    else {
      const key = `${status} ${body.slice(0, 80)}`;
      rejected[key] = (rejected[key] ?? 0) + 1;
    }
    ctx.i = undefined;
  };

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.durationS,
        pipelining: 1,
        timeout: 10,
        requests: [{ method: 'POST', path: opts.path, setupRequest, onResponse }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  const end = exhausted ? exhaustedAt : performance.now();
  const elapsedS = Math.min(result.duration, (end - start) / 1000);
  return {
    acked,
    elapsedS: Math.round(elapsedS * 1000) / 1000,
    eventsPerS: Math.round(acked.length / elapsedS),
    latencyMs: summarise(latencies.values()),
    sent: next,
    errors: result.errors,
    timeouts: result.timeouts,
    rejected,
    exhausted,
  };
}
