/** What the SDK's Client is built with: a token cache of its own, a logger that scrubs the secret, an HTTP instance with a timeout and no GET bodies. */
import { defaultHttpInstance, type Cache, type HttpInstance } from '@larksuiteoapi/node-sdk';
import { sdkLogText, type Logger } from '../logger.js';

/** The SDK's token cache is module-global by default; each client keeps its own so tests (and a
 * second app id) never share a token, and a refused token can be dropped. */
export class TokenCache implements Cache {
  private readonly values = new Map<string, { value: unknown; expiresAt: number | undefined }>();
  // `Symbol` (not `symbol`): the SDK's Cache interface declares it so
  async get(key: string | Symbol, options?: { namespace?: string }): Promise<unknown> {
    const entry = this.values.get(`${options?.namespace ?? ''}/${String(key)}`);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) return undefined;
    return entry.value;
  }
  async set(key: string | Symbol, value: unknown, expiresAt?: number, options?: { namespace?: string }): Promise<boolean> {
    this.values.set(`${options?.namespace ?? ''}/${String(key)}`, { value, expiresAt });
    return true;
  }
  clear(): void {
    this.values.clear();
  }
}

/** The SDK logs whole axios errors (request bodies included): keep only messages, at debug. */
export function sdkLogger(logger: Logger, secret: string) {
  const scrub = (line: string) => (secret ? line.split(secret).join('[redacted]') : line);
  const log = (...parts: unknown[]) => {
    const detail = scrub(sdkLogText(parts));
    if (detail) logger.debug('feishu sdk', { detail });
  };
  return { error: log, warn: log, info: () => {}, debug: () => {}, trace: () => {} };
}

function withoutBodyOnGet<T extends { method?: string; data?: unknown }>(opts: T): T {
  const method = (opts.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') return opts;
  const { data: _ignored, ...rest } = opts;
  return rest as T;
}

export function httpWithTimeout(timeoutMs: number): HttpInstance {
  // defaultHttpInstance unwraps `response.data` (the SDK relies on that); we only add a timeout.
  const http = defaultHttpInstance as unknown as HttpInstance;
  return {
    // The SDK sends `data: {}` with every call, GETs included (Client.formatPayload). Node's http
    // adapter puts that "{}" on the wire; on Workers axios uses its fetch adapter, and fetch refuses
    // a GET or HEAD with a body ("Request with a GET or HEAD method cannot have a body"). A GET has
    // no body to lose, so drop it here.
    request: (opts) => http.request({ timeout: timeoutMs, ...withoutBodyOnGet(opts) }),
    get: (url, opts) => http.get(url, { timeout: timeoutMs, ...opts }),
    delete: (url, opts) => http.delete(url, { timeout: timeoutMs, ...opts }),
    head: (url, opts) => http.head(url, { timeout: timeoutMs, ...opts }),
    options: (url, opts) => http.options(url, { timeout: timeoutMs, ...opts }),
    post: (url, data, opts) => http.post(url, data, { timeout: timeoutMs, ...opts }),
    put: (url, data, opts) => http.put(url, data, { timeout: timeoutMs, ...opts }),
    patch: (url, data, opts) => http.patch(url, data, { timeout: timeoutMs, ...opts }),
  };
}
