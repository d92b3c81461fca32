import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { WEBHOOK_BODY_LIMIT } from '../../src/routes/webhook.js';
import { createPostgresDatabase } from '../support/db.js';
import { FeishuSender } from '../support/sender.js';
import { captureText, http, record, SECRETS, sleep, startService, type Figures } from './harness.js';
import { connect, leaveWorkload, verify } from './workload.js';

/*
 * Slow and oversized requests. A slowloris client (headers dribbled a line at a time, or a body
 * dribbled a byte at a time) must be cut off by the server's header/request timeouts instead of
 * holding a socket; a body streamed without Content-Length must hit the 1 MiB limit without the
 * server buffering all of it; and while all that goes on, /healthz keeps answering and a real
 * event is still accepted.
 */

/** Short timeouts so the test sees the cut-off in seconds (the defaults are 10 s / 15 s). */
export const SLOW_TIMEOUTS = { headersMs: 1500, requestMs: 3000 };
/** a dribbler gives up on its own after this: reaching it means the server never cut it off */
const CAP_MS = 20_000;
/** streamed until answered; an answer before all of it was sent shows the server stopped reading */
const CHUNKED_TOTAL = 64 * WEBHOOK_BODY_LIMIT;

export interface DribbleResult {
  what: string;
  closedByServer: boolean;
  ms: number;
  bytesSent: number;
  /** what the server wrote back before closing (e.g. "HTTP/1.1 408 Request Timeout") */
  response: string;
  error: string | null;
}

/** Open a raw socket, send `head`, then one `piece(i)` every `everyMs` until the server closes it. */
export function dribble(port: number, what: string, head: string, piece: (i: number) => string, everyMs: number): Promise<DribbleResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    let response = '';
    let bytesSent = 0;
    let error: string | null = null;
    let byUs = false;
    let timer: ReturnType<typeof setInterval> | null = null;
    const cap = setTimeout(() => {
      byUs = true;
      socket.destroy();
    }, CAP_MS);
    socket.on('connect', () => {
      socket.write(head);
      bytesSent += Buffer.byteLength(head);
      let i = 0;
      timer = setInterval(() => {
        if (socket.destroyed || !socket.writable) return;
        const p = piece(i++);
        bytesSent += Buffer.byteLength(p);
        socket.write(p);
      }, everyMs);
    });
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', (err) => (error = (err as NodeJS.ErrnoException).code ?? err.message));
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      clearTimeout(cap);
      captureText(`slow: ${what} (raw socket)`, response);
      resolve({ what, closedByServer: !byUs, ms: Date.now() - started, bytesSent, response, error });
    });
  });
}

/** POST a body streamed in chunks without Content-Length; stop writing once answered. */
function chunkedUpload(port: number, totalBytes: number, chunkBytes: number): Promise<{ status: number | null; body: string; bytesSent: number; error: string | null }> {
  return new Promise((resolve) => {
    let bytesSent = 0;
    let answered = false;
    let settled = false;
    const done = (v: { status: number | null; body: string; error: string | null }) => {
      if (settled) return;
      settled = true;
      captureText('slow: chunked oversized body', v.body);
      resolve({ ...v, bytesSent });
    };
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/webhook/feishu',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? null, body, error: null }));
      res.on('error', (e) => done({ status: res.statusCode ?? null, body, error: e.message }));
    });
    req.on('error', (e) => {
      // the server may close the socket right after its 413 while we are still writing
      if (!answered) done({ status: null, body: '', error: (e as NodeJS.ErrnoException).code ?? e.message });
    });
    const chunk = Buffer.alloc(chunkBytes, 0x61);
    const pump = () => {
      while (!answered && bytesSent < totalBytes) {
        bytesSent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

export async function slowAndOversized(): Promise<{ figures: Figures; checks: SlowChecks }> {
  const started = Date.now();
  const database = await createPostgresDatabase('lb_rel_slow');
  const service = await startService('slow', {
    DATABASE_URL: database.url!,
    HTTP_HEADERS_TIMEOUT_MS: String(SLOW_TIMEOUTS.headersMs),
    HTTP_REQUEST_TIMEOUT_MS: String(SLOW_TIMEOUTS.requestMs),
  });
  const port = Number(new URL(service.url).port);
  const sql = connect(database.url!);
  try {
    // Probe /healthz every 100 ms for the whole scenario.
    const probes: Array<{ at: number; ms: number; status: number | string }> = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const at = Date.now();
        try {
          const r = await http('slow: /healthz probe', `${service.url}/healthz`, { timeoutMs: 5000 });
          probes.push({ at, ms: r.ms, status: r.status });
        } catch (err) {
          probes.push({ at, ms: Date.now() - at, status: (err as Error).name });
        }
        await sleep(100);
      }
    })();

    const slowStart = Date.now();
    const headerPrefix = 'POST /webhook/feishu HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n';
    const slowHeaders = Array.from({ length: 10 }, (_, n) =>
      dribble(port, `header dribble #${n}`, headerPrefix, (i) => `X-Slow-${i}: ${'a'.repeat(8)}\r\n`, 200),
    );
    const slowBodies = Array.from({ length: 5 }, (_, n) =>
      dribble(port, `body dribble #${n}`, `${headerPrefix}Content-Length: 4096\r\n\r\n{"encrypt":"`, () => 'A', 200),
    );
    // While fifteen sockets dribble: a real event is still accepted and applied.
    const work = leaveWorkload('slow', 1);
    const sender = new FeishuSender({ targets: [service.webhook], encryptKey: SECRETS.encryptKey, onResponse: (t) => captureText('slow: sender', t) });
    const good = sender.deliver(work.deliveries[0]!);
    // Oversized bodies: streamed without Content-Length (chunked), and declared up front.
    const chunked = await chunkedUpload(port, CHUNKED_TOTAL, 64 * 1024);
    const declared = await http('slow: declared oversized body', service.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"encrypt":"${'A'.repeat(WEBHOOK_BODY_LIMIT)}"}`,
    });
    const dribbles = await Promise.all([...slowHeaders, ...slowBodies]);
    const slowEnd = Date.now();
    const goodResult = await good;
    probing = false;
    await prober;
    const afterHealth = await http('slow: /healthz after', `${service.url}/healthz`);

    const during = probes.filter((p) => p.at >= slowStart && p.at + p.ms <= slowEnd);
    const verdict = await verify(sql, work.leaves.map((l) => ({ ...l, deliveries: [l.deliveries[0]!] })), [goodResult]);
    const inbox = await sql<Array<{ n: number }>>`select count(*)::int as n from inbox_events`;
    const checks: SlowChecks = {
      dribbles,
      chunked,
      declaredStatus: declared.status,
      declaredBody: declared.text,
      probes: probes.length,
      probesDuringSlow: during.length,
      probesFailed: probes.filter((p) => p.status !== 200).length,
      maxProbeMs: Math.max(...probes.map((p) => p.ms)),
      healthAfter: afterHealth.status,
      goodAcked: goodResult.acked,
      verdict,
      inboxRows: inbox[0]!.n,
      alive: service.alive(),
      errorLines: service.errorLines(),
    };
    const faults = dribbles.length + 2;
    const figures = record({
      scenario: 'slow',
      title: 'Slow senders and oversized bodies',
      events_sent: 1,
      requests: 1 + faults + probes.length,
      acked: goodResult.acked ? 1 : 0,
      applied: verdict.applied,
      duplicates: verdict.duplicates,
      lost: verdict.lost,
      faults_injected: faults,
      faults: `${slowHeaders.length} header and ${slowBodies.length} body dribblers, 2 bodies over 1 MiB (chunked, declared)`,
      wall_ms: Date.now() - started,
      details: {
        timeouts_ms: SLOW_TIMEOUTS,
        cut_off_ms: Object.fromEntries(dribbles.map((d) => [d.what, d.ms])),
        responses: [...new Set(dribbles.map((d) => d.response.split('\r\n')[0] || '(closed without a response)'))],
        chunked: { status: chunked.status, bytes_streamed_before_answer: chunked.bytesSent, stream_cap: CHUNKED_TOTAL },
        service_error_lines: service.errorLines().length,
        declared_status: declared.status,
        healthz: { probes: probes.length, during_slow: during.length, failed: checks.probesFailed, max_ms: checks.maxProbeMs },
      },
    });
    return { figures, checks };
  } finally {
    await service.stop();
    await sql.end();
    await database.close();
  }
}

export interface SlowChecks {
  dribbles: DribbleResult[];
  chunked: { status: number | null; body: string; bytesSent: number; error: string | null };
  declaredStatus: number;
  declaredBody: string;
  probes: number;
  probesDuringSlow: number;
  probesFailed: number;
  maxProbeMs: number;
  healthAfter: number;
  goodAcked: boolean;
  verdict: Awaited<ReturnType<typeof verify>>;
  inboxRows: number;
  alive: boolean;
  errorLines: string[];
}
