import type { Context } from 'hono';
import type { Config } from '../config.js';

/** What @hono/node-server puts in c.env: the Node request, whose socket knows the peer. */
interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The address a request came from, for throttling and the audit log.
 *
 * - Node: the socket's peer. Behind a reverse proxy that is the proxy, so with TRUST_PROXY the last
 *   X-Forwarded-For entry is used instead: the one the proxy in front appended (entries further
 *   left were written by the client and prove nothing).
 * - Workers: CF-Connecting-IP, which Cloudflare sets on every request and a client cannot override.
 *
 * A request with neither (an in-process test) is "unknown", one shared bucket.
 */
export function clientAddress(c: Context, config: Pick<Config, 'TRUST_PROXY'>): string {
  const incoming = (c.env as NodeBindings | undefined)?.incoming;
  if (incoming) {
    if (config.TRUST_PROXY) {
      const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
      const last = hops.at(-1);
      if (last) return normalise(last);
    }
    return normalise(incoming.socket?.remoteAddress ?? 'unknown');
  }
  const cf = c.req.header('cf-connecting-ip')?.trim();
  return cf ? normalise(cf) : 'unknown';
}

/** IPv4 peers of a dual-stack socket appear as ::ffff:a.b.c.d; one address, one bucket. */
const normalise = (address: string) => address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1').slice(0, 100);
