import type { Hono } from 'hono';
import { expect } from 'vitest';

/** The `name=value` pairs a response sets, as one Cookie header, and the raw Set-Cookie lines. */
export function cookiesOf(res: Response): { header: string; lines: string[]; get(name: string): string | undefined } {
  const lines = res.headers.getSetCookie();
  const pairs = lines.map((l) => l.split(';')[0]!).filter((p) => !/=$/.test(p));
  return {
    header: pairs.join('; '),
    lines,
    get: (name) => pairs.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1),
  };
}

/** Sign in through the token form (installations without Feishu sign-in); returns the Cookie header. */
export async function signInWithToken(app: Hono, token: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await app.request('/dashboard/login', {
    method: 'POST',
    body: new URLSearchParams({ token, next: '/dashboard' }),
    headers: { origin: 'http://localhost', ...headers },
  });
  expect(res.status).toBe(303);
  return cookiesOf(res).header;
}

/**
 * The whole Feishu sign-in as a browser does it, against the fake Feishu: /dashboard/oauth/start
 * (sets the state cookie, redirects to Feishu's authorize page), the authorize page (redirects back
 * with a code), the callback. Returns the callback's response and the cookies the browser then holds.
 */
export async function signInWithFeishu(app: Hono, opts: { headers?: Record<string, string>; tamper?: (callback: URL) => void } = {}) {
  const start = await app.request('/dashboard/oauth/start?next=%2Fdashboard%3Ffrom%3D2042-03-01%26to%3D2042-03-31', { headers: opts.headers });
  expect(start.status).toBe(302);
  const pending = cookiesOf(start).header;
  const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  expect(authorize.status).toBe(302);
  const callback = new URL(authorize.headers.get('location')!);
  opts.tamper?.(callback);
  const res = await app.request(`${callback.pathname}${callback.search}`, { headers: { cookie: pending, ...opts.headers } });
  return { res, cookie: cookiesOf(res).header, authorizeUrl: new URL(start.headers.get('location')!), callback };
}
