import { request } from 'undici';

/**
 * fetch() for the Google clients on Node (the Calendar API through gaxios, and the token
 * request), over undici's request API: the engine of Node's own fetch without its WHATWG stream
 * layer. Node 20's fetch costs several times undici.request's CPU per small JSON POST, and the
 * drainer makes one call per message (docs/decisions/0007-undici-request-for-google.md). Workers
 * keep the platform fetch (this module is Node-only and never imported there).
 *
 * It covers what those two callers send: a string, URLSearchParams or byte body, headers and an
 * abort signal (gaxios's timeout, which also cuts a body that stops arriving). Anything else goes
 * to fetch. Redirects are not followed: the Calendar API and the token endpoint answer directly.
 */
export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (input instanceof Request) return fetch(input, init);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  const body = init.body;
  let payload: string | Uint8Array | undefined;
  if (body === undefined || body === null) payload = undefined;
  else if (typeof body === 'string') {
    payload = body;
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (body instanceof URLSearchParams) {
    payload = body.toString();
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
  } else if (body instanceof Uint8Array) payload = body;
  else if (body instanceof ArrayBuffer) payload = new Uint8Array(body);
  else return fetch(input, init);

  const res = await request(input, {
    method: (init.method ?? 'GET').toUpperCase() as 'GET',
    headers,
    body: payload,
    signal: init.signal ?? undefined,
  });
  // Read it all, so the connection goes back to the pool (and a stalled body meets the signal).
  const bytes = await res.body.arrayBuffer();
  const out = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else if (value !== undefined) out.append(name, value);
  }
  const nullBody = res.statusCode === 204 || res.statusCode === 205 || res.statusCode === 304;
  return new Response(nullBody ? null : bytes, { status: res.statusCode, headers: out });
}
