import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/google/node-fetch.js';

/**
 * The Node transport of the Google clients answers like fetch for what they send. The adapter
 * suites (test/google-calendar.test.ts) run over it against the fake Google; these are the cases
 * they do not reach.
 */
describe('nodeFetch (undici request behind a fetch signature)', () => {
  let server: http.Server;
  let base: string;
  const received: Array<{ method: string; headers: http.IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        received.push({ method: req.method!, headers: req.headers, body });
        if (req.url === '/empty') {
          res.statusCode = 204;
          res.end();
        } else if (req.url === '/cookies') {
          res.setHeader('set-cookie', ['a=1', 'b=2']);
          res.setHeader('x-multi', ['one', 'two']);
          res.end('ok');
        } else if (req.url === '/stall') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"partial":');
          // and nothing more: the caller's signal must end it
        } else if (req.url === '/error') {
          res.writeHead(403, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(JSON.stringify({ error: { code: 403, message: 'no', errors: [{ reason: 'rateLimitExceeded' }] } }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
          res.end(JSON.stringify({ echo: body, method: req.method }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the method, headers and a string, form or byte body as fetch would', async () => {
    received.length = 0;
    const json = await nodeFetch(new URL(`${base}/x`), {
      method: 'post',
      headers: new Headers({ 'content-type': 'application/json', authorization: 'Bearer t' }),
      body: '{"a":1}',
    });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(await json.json()).toEqual({ echo: '{"a":1}', method: 'POST' });
    await (await nodeFetch(`${base}/x`, { method: 'POST', body: new URLSearchParams({ grant_type: 'g', assertion: 'a b' }) })).text();
    await (await nodeFetch(`${base}/x`, { method: 'PUT', body: new TextEncoder().encode('bytes') })).text();
    await (await nodeFetch(`${base}/x`, { method: 'PATCH', body: 'plain' })).text();
    await (await nodeFetch(`${base}/x`)).text();
    expect(received.map((r) => [r.method, r.headers['content-type'], r.body])).toEqual([
      ['POST', 'application/json', '{"a":1}'],
      ['POST', 'application/x-www-form-urlencoded;charset=UTF-8', 'grant_type=g&assertion=a+b'],
      ['PUT', undefined, 'bytes'],
      ['PATCH', 'text/plain;charset=UTF-8', 'plain'],
      ['GET', undefined, ''],
    ]);
    expect(received[0]!.headers.authorization).toBe('Bearer t');
  });

  it('answers 204 without a body, keeps repeated headers, passes error statuses through', async () => {
    const empty = await nodeFetch(`${base}/empty`, { method: 'DELETE' });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');
    const cookies = await nodeFetch(`${base}/cookies`);
    expect(cookies.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(cookies.headers.get('x-multi')).toBe('one, two');
    const refused = await nodeFetch(`${base}/error`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { errors: Array<{ reason: string }> } }).error.errors[0]!.reason).toBe('rateLimitExceeded');
  });

  it("a body that stops arriving ends with the caller's signal", async () => {
    const started = Date.now();
    await expect(nodeFetch(`${base}/stall`, { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a refused connection rejects with its code; other bodies and Requests go to fetch', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(nodeFetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    received.length = 0;
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('streamed'));
        c.close();
      },
    });
    const res = await nodeFetch(`${base}/x`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(await res.json()).toEqual({ echo: 'streamed', method: 'POST' });
    const viaRequest = await nodeFetch(new Request(`${base}/x`, { method: 'POST', body: 'req' }));
    expect(await viaRequest.json()).toEqual({ echo: 'req', method: 'POST' });
  });
});
