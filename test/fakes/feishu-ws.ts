import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A fake of Feishu's long-connection gateway on loopback, speaking what @larksuiteoapi/node-sdk's
 * WSClient speaks (node_modules/@larksuiteoapi/node-sdk/lib/index.js, class WSClient):
 *
 * - endpoint discovery: `POST {domain}/callback/ws/endpoint` with `{AppID, AppSecret}` →
 *   `{code: 0, data: {URL, ClientConfig: {PingInterval, ReconnectCount, ReconnectInterval,
 *   ReconnectNonce}}}` (seconds; `pullConnectConfig`). Any other code but 1000040343 makes the SDK
 *   give up (`onError`), which is how a bad secret looks.
 * - frames: protobuf `pbbp2.Frame` (SDK's generated `pbbp2.Frame.encode`), binary WebSocket
 *   messages. method 0 = control (ping/pong), 1 = data. Headers `type` (event|ping|pong),
 *   `message_id`, `sum`, `seq`, `trace_id`; the SDK joins fragments by message_id (`DataCache`).
 * - ack: after the dispatcher resolves, the SDK sends the same frame back with an extra `biz_rt`
 *   header and payload `{"code": 200}` — or `{"code": 500}` when the handler threw.
 */

// The SDK's pbbp2 schema is generated code that is not exported, so the same messages are declared
// here with the SDK's field numbers and rules (proto2, required where its decoder requires).
// test/long-connection.test.ts cross-checks this against the SDK's own codec.
const root = new protobuf.Root();
const HeaderType = new protobuf.Type('Header')
  .add(new protobuf.Field('key', 1, 'string', 'required'))
  .add(new protobuf.Field('value', 2, 'string', 'required'));
const FrameType = new protobuf.Type('Frame')
  .add(new protobuf.Field('SeqID', 1, 'uint64', 'required'))
  .add(new protobuf.Field('LogID', 2, 'uint64', 'required'))
  .add(new protobuf.Field('service', 3, 'int32', 'required'))
  .add(new protobuf.Field('method', 4, 'int32', 'required'))
  .add(new protobuf.Field('headers', 5, 'Header', 'repeated'))
  .add(new protobuf.Field('payloadEncoding', 6, 'string', 'optional'))
  .add(new protobuf.Field('payloadType', 7, 'string', 'optional'))
  .add(new protobuf.Field('payload', 8, 'bytes', 'optional'))
  .add(new protobuf.Field('LogIDNew', 9, 'string', 'optional'));
root.define('pbbp2').add(HeaderType).add(FrameType);
root.resolveAll();

export interface Frame {
  SeqID: number;
  LogID: number;
  service: number;
  method: number;
  headers: Array<{ key: string; value: string }>;
  payloadEncoding?: string;
  payloadType?: string;
  payload?: Uint8Array;
  LogIDNew?: string;
}

export const FRAME_METHOD = { control: 0, data: 1 } as const;

export function encodeFrame(frame: Frame): Uint8Array {
  const err = FrameType.verify(frame);
  if (err) throw new Error(`bad frame: ${err}`);
  return FrameType.encode(FrameType.fromObject(frame)).finish();
}

export function decodeFrame(bytes: Uint8Array): Frame {
  const message = FrameType.decode(bytes);
  return FrameType.toObject(message, { longs: Number, arrays: true }) as Frame;
}

const header = (frame: Frame, key: string) => frame.headers.find((h) => h.key === key)?.value;

export interface Ack {
  messageId: string;
  /** `code` of the ack payload: 200 when the handler resolved, 500 when it threw */
  code: number;
  connection: number;
  /** the extra header the SDK adds (handler time, ms, negative: the SDK computes start − end) */
  bizRt: string | undefined;
}

export interface FakeFeishuWsOptions {
  appId: string;
  appSecret: string;
  /** seconds, as Feishu sends them; small values keep reconnection tests fast */
  pingInterval?: number;
  reconnectInterval?: number;
  reconnectCount?: number;
  reconnectNonce?: number;
}

interface Conn {
  id: number;
  socket: WebSocket;
  serviceId: number;
  /** pushed on this connection and not acked yet: re-pushed on the next one if it dies */
  unacked: Map<string, Pending>;
  /** first ping seen: by then the SDK has attached its message handler (`communicate()`) */
  ready: boolean;
  silent: boolean;
}

interface Pending {
  body: string;
  messageId: string;
  fragments: number;
}

export class FakeFeishuWs {
  /** discovery calls answered (any outcome) */
  endpointCalls = 0;
  /** WebSocket connections accepted so far */
  connectionsOpened = 0;
  pings = 0;
  readonly acks: Ack[] = [];
  /** discovery answers to give before answering normally again, e.g. [514] = one auth failure */
  readonly endpointFailures: number[] = [];

  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<number, Conn>();
  private readonly tickets = new Set<string>();
  private readonly queue: Pending[] = [];
  private readonly waiters: Array<() => void> = [];
  private seq = 1;

  private constructor(private readonly opts: FakeFeishuWsOptions) {
    this.http = createServer((req, res) => {
      void this.endpoint(req).then(
        (body) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 500, msg: String(err) }));
        },
      );
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const ticket = url.searchParams.get('ticket');
      if (url.pathname !== '/ws/v2' || !ticket || !this.tickets.has(ticket)) {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      this.tickets.delete(ticket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, Number(url.searchParams.get('service_id'))));
    });
  }

  static async start(opts: FakeFeishuWsOptions): Promise<FakeFeishuWs> {
    const fake = new FakeFeishuWs({ ...opts });
    await new Promise<void>((resolve) => fake.http.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** FEISHU_BASE_URL for the connector */
  get url(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  get openConnections(): number {
    return this.conns.size;
  }

  /**
   * Seconds; reaches the client with the next pong (the SDK adopts the pong's ClientConfig). A
   * client's pingTimeout only works below it: the SDK re-arms its watchdog on every ping.
   */
  setPingInterval(seconds: number): void {
    this.opts.pingInterval = seconds;
  }

  private clientConfig() {
    return {
      PingInterval: this.opts.pingInterval ?? 0.5,
      ReconnectCount: this.opts.reconnectCount ?? -1,
      ReconnectInterval: this.opts.reconnectInterval ?? 0.05,
      ReconnectNonce: this.opts.reconnectNonce ?? 0,
    };
  }

  private async endpoint(req: IncomingMessage): Promise<unknown> {
    if (req.method !== 'POST' || req.url !== '/callback/ws/endpoint') return { code: 404, msg: 'not found' };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.endpointCalls++;
    this.notify();
    const forced = this.endpointFailures.shift();
    if (forced !== undefined) return { code: forced, msg: 'forced failure', data: {} };
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { AppID?: string; AppSecret?: string };
    if (body.AppID !== this.opts.appId || body.AppSecret !== this.opts.appSecret) {
      return { code: 514, msg: 'auth failed', data: {} };
    }
    const ticket = randomUUID();
    this.tickets.add(ticket);
    // Shaped like Feishu's: the SDK reads device_id/service_id with qs.parse over the whole URL,
    // so they must not be the first parameter.
    const host = this.url.replace(/^http/, 'ws');
    const URL_ = `${host}/ws/v2?fpid=1&aid=1&device_id=dev${this.endpointCalls}&access_key=ak&service_id=${7000 + this.endpointCalls}&ticket=${ticket}`;
    return { code: 0, msg: 'ok', data: { URL: URL_, ClientConfig: this.clientConfig() } };
  }

  private accept(socket: WebSocket, serviceId: number): void {
    const conn: Conn = { id: ++this.connectionsOpened, socket, serviceId, unacked: new Map(), ready: false, silent: false };
    this.conns.set(conn.id, conn);
    const gone = () => {
      if (!this.conns.delete(conn.id)) return;
      // Feishu re-pushes what was never answered
      this.queue.push(...conn.unacked.values());
      conn.unacked.clear();
      this.flush();
      this.notify();
    };
    socket.on('close', gone);
    socket.on('error', gone);
    socket.on('message', (data: Buffer) => {
      if (conn.silent) return;
      const frame = decodeFrame(new Uint8Array(data));
      const type = header(frame, 'type');
      if (frame.method === FRAME_METHOD.control && type === 'ping') {
        this.pings++;
        socket.send(
          encodeFrame({
            SeqID: 0,
            LogID: 0,
            service: frame.service,
            method: FRAME_METHOD.control,
            headers: [{ key: 'type', value: 'pong' }],
            payload: new TextEncoder().encode(JSON.stringify(this.clientConfig())),
          }),
        );
        if (!conn.ready) {
          conn.ready = true;
          this.flush();
          this.notify();
        }
        return;
      }
      if (frame.method === FRAME_METHOD.data) {
        const messageId = header(frame, 'message_id') ?? '';
        conn.unacked.delete(messageId);
        const payload = JSON.parse(new TextDecoder().decode(frame.payload ?? new Uint8Array())) as { code: number };
        this.acks.push({ messageId, code: payload.code, connection: conn.id, bizRt: header(frame, 'biz_rt') });
        this.notify();
      }
    });
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private current(): Conn | undefined {
    return [...this.conns.values()].reverse().find((c) => c.ready && !c.silent && c.socket.readyState === c.socket.OPEN);
  }

  private flush(): void {
    const conn = this.current();
    if (!conn) return;
    for (const p of this.queue.splice(0)) this.send(conn, p);
  }

  private send(conn: Conn, p: Pending): void {
    conn.unacked.set(p.messageId, p);
    const bytes = new TextEncoder().encode(p.body);
    const size = Math.ceil(bytes.length / p.fragments);
    const traceId = randomUUID();
    for (let i = 0; i < p.fragments; i++) {
      conn.socket.send(
        encodeFrame({
          SeqID: this.seq++,
          LogID: this.seq,
          service: conn.serviceId,
          method: FRAME_METHOD.data,
          headers: [
            { key: 'type', value: 'event' },
            { key: 'message_id', value: p.messageId },
            { key: 'sum', value: String(p.fragments) },
            { key: 'seq', value: String(i) },
            { key: 'trace_id', value: traceId },
          ],
          payload: bytes.slice(i * size, (i + 1) * size),
        }),
      );
    }
  }

  /**
   * Deliver an event body (JSON text or object) on the newest live connection, or as soon as one
   * is up. Returns the message_id its ack will carry. Re-pushing a body is how Feishu retries.
   */
  push(body: string | object, opts: { messageId?: string; fragments?: number } = {}): string {
    const p: Pending = {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      messageId: opts.messageId ?? randomUUID(),
      fragments: opts.fragments ?? 1,
    };
    this.queue.push(p);
    this.flush();
    return p.messageId;
  }

  /**
   * Push and, like Feishu, push again after every non-200 answer (its 15 s / 5 min / 1 h … schedule
   * compressed to "at once"), up to `attempts` deliveries. Resolves with the final ack.
   */
  async deliver(body: string | object, attempts = 5): Promise<Ack> {
    const messageId = this.push(body);
    for (let i = 0; ; i++) {
      const ack = await this.waitForAck(messageId, i);
      if (ack.code === 200 || i + 1 >= attempts) return ack;
      this.push(body, { messageId });
    }
  }

  private async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The next ack for message_id (after `after` acks of it were already seen). */
  async waitForAck(messageId: string, after = 0): Promise<Ack> {
    const of = () => this.acks.filter((a) => a.messageId === messageId);
    await this.until(() => of().length > after);
    return of()[after]!;
  }

  /** Until `n` connections have been opened in all and the newest is live. */
  async waitForConnections(n: number): Promise<void> {
    await this.until(() => this.connectionsOpened >= n && this.current() !== undefined);
  }

  async waitForEndpointCalls(n: number): Promise<void> {
    await this.until(() => this.endpointCalls >= n);
  }

  async waitForNoConnections(): Promise<void> {
    await this.until(() => this.conns.size === 0);
  }

  /** Close every open connection the way a gateway restart does (close frame). */
  drop(): void {
    for (const c of this.conns.values()) c.socket.close(1001, 'going away');
  }

  /**
   * Keep the TCP connections open but stop answering anything on them, like a connection that
   * died on the path without a FIN or RST. New connections are served normally.
   */
  silence(): void {
    for (const c of this.conns.values()) c.silent = true;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) c.socket.terminate();
    this.notify();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
