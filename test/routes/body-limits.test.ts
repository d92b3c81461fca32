import net from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_WRITE_LIMIT, SMALL_BODY_LIMIT, WEBHOOK_BODY_LIMIT } from '../../src/routes/body-limit.js';
import { UNSIGNED_BODY_LIMIT } from '../../src/feishu/envelope.js';
import { ADMIN, testApp } from '../support/app.js';
import { offerBody, type OfferedBody } from '../support/raw-body.js';
import { createPostgresDatabase, type TestDatabase } from '../support/db.js';
import { encryptedRequest, leaveApprovalV1, signedRequest } from '../support/feishu.js';

/*
 * Bodies are limited on every route before they are read: the app runs on a real node-server
 * listening on loopback, and what the server READ from each socket is measured (socket.bytesRead),
 * so a body that was buffered (or read and thrown away) shows, whatever the process's memory does.
 */

let db: TestDatabase;
let server: ServerType;
let port: number;
let t: ReturnType<typeof testApp>;
/** the server side of every accepted connection, in order */
const sockets: net.Socket[] = [];

beforeAll(async () => {
  db = await createPostgresDatabase();
  t = testApp(db);
  server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  server.on('connection', (s: net.Socket) => sockets.push(s));
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db?.close();
});

interface RawResult extends OfferedBody {
  /** bytes the server read from this connection */
  serverRead: number;
}

/** offerBody, plus what the server side of that connection read (socket.bytesRead), once it has noticed the close. */
async function rawPost(path: string, headers: Record<string, string>, declared: number | 'chunked', send: number): Promise<RawResult> {
  const accepted = sockets.length;
  const offered = await offerBody(port, path, headers, declared, send);
  await new Promise((r) => setTimeout(r, 50));
  return { ...offered, serverRead: sockets[accepted]?.bytesRead ?? -1 };
}

const MB = 1024 * 1024;

describe('body limits, before the body is read', () => {
  it('a 200 MB sign-in form is refused after reading almost none of it, and the connection is closed', async () => {
    const before = process.memoryUsage().rss;
    const r = await rawPost('/dashboard/login', { 'content-type': 'application/x-www-form-urlencoded', origin: `http://127.0.0.1:${port}` }, 200 * MB, 200 * MB);
    // the server answers and closes without reading on: a sender still writing may see the close
    // (a reset) before it reads the 413
    if (r.status !== null) {
      expect(r.status).toBe(413);
      expect(r.head).toMatch(/\r\nconnection: close/i);
    }
    // headers plus whatever was already in flight when the answer went out: nowhere near 200 MB
    expect(r.serverRead).toBeLessThan(8 * MB);
    expect(r.sent).toBeLessThan(50 * MB);
    // and the process did not grow by anything like the body
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * MB);
  });

  it('the same body, chunked (no length declared), is cut off at the limit while streaming', async () => {
    const r = await rawPost('/dashboard/login', { 'content-type': 'application/x-www-form-urlencoded', origin: `http://127.0.0.1:${port}` }, 'chunked', 200 * MB);
    expect([413, null]).toContain(r.status);
    expect(r.serverRead).toBeLessThan(8 * MB);
  });

  it('limits per route: sign-in and other small routes 4 KiB, admin writes 64 KiB, the webhook 1 MiB', async () => {
    expect(SMALL_BODY_LIMIT).toBe(4096);
    const body = (n: number) => 'a'.repeat(n);
    const login = (n: number) => t.app.request('/dashboard/login', { method: 'POST', body: body(n), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost', 'content-length': String(n) } });
    const over = await login(SMALL_BODY_LIMIT + 1);
    expect(over.status).toBe(413);
    // closed rather than kept alive: Node would otherwise read the rest to find the next request
    expect(over.headers.get('connection')).toBe('close');
    expect((await login(SMALL_BODY_LIMIT)).status).toBe(401);
    const write = (n: number) =>
      t.admin('/api/employees/u_x', { method: 'PUT', body: JSON.stringify({ email: null, pad: body(n) }), headers: { 'content-type': 'application/json' } });
    expect((await write(ADMIN_WRITE_LIMIT)).status).toBe(413);
    expect((await write(ADMIN_WRITE_LIMIT - 100)).status).toBe(400);
    // no Content-Length (an in-process request, or a Worker's streamed body): counted as it is read
    const streamed = await t.app.request('/api/events/1/replay', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(body(ADMIN_WRITE_LIMIT + 1)));
          controller.close();
        },
      }),
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await t.post({ body: body(WEBHOOK_BODY_LIMIT + 1), headers: { 'content-type': 'application/json', 'content-length': String(WEBHOOK_BODY_LIMIT + 1) } })).status).toBe(413);
  });
});

describe('the webhook verifies before it parses', () => {
  it('a 1 MiB body with a wrong signature is refused without a JSON parse', async () => {
    const big = JSON.stringify({ encrypt: 'A'.repeat(WEBHOOK_BODY_LIMIT - 200) });
    const signed = await signedRequest(big);
    const forged = { ...signed, headers: { ...signed.headers, 'x-lark-signature': 'f'.repeat(64) } };
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const res = await t.post(forged);
      const calls = parse.mock.calls.length;
      expect(res.status).toBe(401);
      expect(calls).toBe(0);
      expect(await res.json()).toMatchObject({ error: { code: 'bad_signature' } });
    } finally {
      parse.mockRestore();
    }
  });

  it('with an encrypt key, an unsigned body can only be a small url_verification: larger ones are refused unparsed', async () => {
    const event = await encryptedRequest(leaveApprovalV1());
    const unsigned = { body: event.body.padEnd(UNSIGNED_BODY_LIMIT + 10, ' '), headers: { 'content-type': 'application/json' } };
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const res = await t.post(unsigned);
      expect(parse.mock.calls.length).toBe(0);
      expect(res.status).toBe(413);
      // without a declared length (streamed), the same is refused by the envelope check
      const streamed = await t.app.request('/webhook/feishu', {
        method: 'POST',
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(unsigned.body));
            controller.close();
          },
        }),
        headers: unsigned.headers,
        duplex: 'half',
      } as RequestInit);
      expect(parse.mock.calls.length).toBe(0);
      expect(streamed.status).toBe(413);
    } finally {
      parse.mockRestore();
    }
    // the real url_verification still passes unsigned
    const challenge = await t.post({ body: JSON.stringify({ type: 'url_verification', token: '41a9425ea7df4536a7623e38fa321bae', challenge: 'c-1' }), headers: { 'content-type': 'application/json' } });
    expect(challenge.status).toBe(200);
  });
});
