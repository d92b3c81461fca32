/**
 * Service-account access tokens with domain-wide delegation (subject = the employee), hand-written on
 * Web Crypto so the same code runs on Node and Cloudflare Workers.
 *
 * Why not google-auth-library: its JWT client posts to a hard-coded token URL and ignores the key's
 * `token_uri` (which we honour, so tests and private token proxies work), and handing its token to an
 * OAuth2Client with an `expiry_date` but no refresh token makes it try, and fail, to refresh near
 * expiry. So: sign the RFC 7523 assertion ourselves, cache per subject, renew early.
 *
 * Source: Google "Using OAuth 2.0 for Server to Server Applications" (JWT claim set: iss, sub, scope,
 * aud, iat, exp ≤ iat + 3600; grant_type urn:ietf:params:oauth:grant-type:jwt-bearer).
 */
import { z } from 'zod';
import { ConfigError, type Config } from '../config.js';
import { ExternalError } from '../ports.js';

export const CALENDAR_EVENTS_SCOPE = 'https://www.googleapis.com/auth/calendar.events';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google caps an assertion's lifetime at one hour. */
const ASSERTION_LIFETIME_S = 3600;

const ServiceAccountKey = z.object({
  type: z.string().optional(),
  client_email: z.string().min(3).includes('@', { message: 'client_email must be an email address' }),
  private_key: z.string().includes('PRIVATE KEY', { message: 'private_key must be a PEM private key' }),
  private_key_id: z.string().optional(),
  /** the numeric id domain-wide delegation is granted to (Admin console) */
  client_id: z.string().optional(),
  token_uri: z.string().url().default(DEFAULT_TOKEN_URI),
});
export type ServiceAccountKey = z.output<typeof ServiceAccountKey>;

/** Parse a key JSON; errors name the variable it came from and never echo the key. */
export function parseServiceAccountKey(json: string, source = 'GOOGLE_SERVICE_ACCOUNT_JSON'): ServiceAccountKey {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError([`${source}: not valid JSON (expected a service-account key file's contents)`]);
  }
  const parsed = ServiceAccountKey.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(key)'}: ${i.message}`));
  }
  return parsed.data;
}

/**
 * The configured key, or null when calendar sync is off. node:fs is imported only when a file is
 * configured, so a Worker (which passes GOOGLE_SERVICE_ACCOUNT_JSON) never needs it.
 */
export async function loadServiceAccountKey(
  config: Pick<Config, 'GOOGLE_SERVICE_ACCOUNT_JSON' | 'GOOGLE_SERVICE_ACCOUNT_FILE'>,
): Promise<ServiceAccountKey | null> {
  let key: ServiceAccountKey;
  let source: string;
  if (config.GOOGLE_SERVICE_ACCOUNT_JSON !== undefined) {
    source = 'GOOGLE_SERVICE_ACCOUNT_JSON';
    key = parseServiceAccountKey(config.GOOGLE_SERVICE_ACCOUNT_JSON, source);
  } else if (config.GOOGLE_SERVICE_ACCOUNT_FILE !== undefined) {
    const file = config.GOOGLE_SERVICE_ACCOUNT_FILE;
    source = `GOOGLE_SERVICE_ACCOUNT_FILE (${file})`;
    const { readFile } = await import('node:fs/promises');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`GOOGLE_SERVICE_ACCOUNT_FILE: cannot read ${file}: ${(err as { code?: string }).code ?? (err as Error).message}`]);
    }
    key = parseServiceAccountKey(text, source);
  } else {
    return null;
  }
  // Fail at start, not at the first leave: a key that Web Crypto cannot import never will.
  try {
    await importPrivateKey(key.private_key);
  } catch {
    throw new ConfigError([`${source}: private_key is not a PKCS#8 RSA private key`]);
  }
  return key;
}

export interface AccessTokenSource {
  /** A bearer token acting as `subject`; cached until shortly before it expires. */
  token(subject: string): Promise<string>;
  /** Forget `token` (e.g. after a 401) unless a newer one has replaced it meanwhile. */
  invalidate(subject: string, token: string): void;
}

export interface ServiceAccountAuthOptions {
  fetch?: typeof fetch;
  /** ms since epoch; tests move it to expire tokens */
  now?: () => number;
  scope?: string;
  timeoutMs?: number;
  /** renew this long before expiry (capped at half the token's lifetime) */
  refreshMarginMs?: number;
}

interface CachedToken {
  token: string;
  renewAt: number;
}

export function createServiceAccountAuth(key: ServiceAccountKey, opts: ServiceAccountAuthOptions = {}): AccessTokenSource {
  const doFetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = opts.now ?? Date.now;
  const scope = opts.scope ?? CALENDAR_EVENTS_SCOPE;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const margin = opts.refreshMarginMs ?? 5 * 60_000;
  const cache = new Map<string, CachedToken>();
  // One request per subject at a time: a burst of outbox messages for one employee must not
  // each fetch a token (the token endpoint has its own quota).
  const inflight = new Map<string, Promise<string>>();
  let signingKey: Promise<CryptoKey> | undefined;

  const fetchToken = async (subject: string): Promise<string> => {
    if (!signingKey) {
      signingKey = importPrivateKey(key.private_key);
      signingKey.catch(() => (signingKey = undefined));
    }
    const issuedAt = Math.floor(now() / 1000);
    const assertion = await signJwt(await signingKey, key.private_key_id, {
      iss: key.client_email,
      sub: subject,
      scope,
      aud: key.token_uri,
      iat: issuedAt,
      exp: issuedAt + ASSERTION_LIFETIME_S,
    });
    let res: Response;
    try {
      res = await doFetch(key.token_uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new ExternalError('transient', `Google token endpoint unreachable: ${describeNetworkError(err)}`);
    }
    const text = await res.text().catch(() => '');
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // non-JSON (a proxy's HTML error page): classified by status alone
    }
    if (!res.ok) throw tokenError(res.status, body, subject);
    const token = body.access_token;
    const expiresIn = Number(body.expires_in ?? 3600);
    if (typeof token !== 'string' || token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new ExternalError('transient', 'Google token endpoint answered 200 without an access_token', res.status);
    }
    const lifetimeMs = expiresIn * 1000;
    cache.set(subject, { token, renewAt: now() + lifetimeMs - Math.min(margin, lifetimeMs / 2) });
    return token;
  };

  return {
    token(subject) {
      const cached = cache.get(subject);
      if (cached && now() < cached.renewAt) return Promise.resolve(cached.token);
      let pending = inflight.get(subject);
      if (!pending) {
        pending = fetchToken(subject).finally(() => inflight.delete(subject));
        inflight.set(subject, pending);
      }
      return pending;
    },
    invalidate(subject, token) {
      if (cache.get(subject)?.token === token) cache.delete(subject);
    },
  };
}

/**
 * Token endpoint failures. A refused grant (bad key, delegation not granted, unknown user, wrong
 * scope, clock skew) will not heal by retrying the same request: 'configuration', so the outbox
 * pauses instead of burning attempts. Throttling and server trouble are 'transient'.
 */
function tokenError(status: number, body: Record<string, unknown>, subject: string): ExternalError {
  const code = typeof body.error === 'string' ? body.error : undefined;
  const description = typeof body.error_description === 'string' ? body.error_description : undefined;
  const detail = [code, description].filter(Boolean).join(': ') || 'no error body';
  if (status === 408 || status === 429 || status >= 500) {
    return new ExternalError('transient', `Google token endpoint answered ${status} (${detail})`, status, code);
  }
  return new ExternalError(
    'configuration',
    `Google refused a token for ${subject}: ${status} ${detail} — check the service-account key and its domain-wide delegation for ${CALENDAR_EVENTS_SCOPE}`,
    status,
    code,
  );
}

export function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const name = (e as { name?: unknown }).name;
    const code = (e as { code?: unknown }).code;
    const message = (e as { message?: unknown }).message;
    if (name === 'TimeoutError' || name === 'AbortError') parts.push('timed out');
    else if (typeof code === 'string') parts.push(code);
    else if (typeof message === 'string' && message !== '') parts.push(message);
    e = (e as { cause?: unknown }).cause;
  }
  return [...new Set(parts)].join(' / ') || 'network error';
}

// ---- RS256 on Web Crypto -----------------------------------------------------------------------

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  // Keys pasted into env vars often keep "\n" as two characters; strip those along with whitespace.
  const b64 = pem
    .replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '')
    .replace(/\\n/g, '')
    .replace(/\s+/g, '');
  let der: Uint8Array<ArrayBuffer>;
  try {
    const bin = atob(b64);
    der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    return await crypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  } catch {
    // Not retryable: the key itself is unusable.
    throw new ExternalError('configuration', 'service-account private_key is not a PKCS#8 RSA key');
  }
}

async function signJwt(key: CryptoKey, kid: string | undefined, claims: Record<string, unknown>): Promise<string> {
  const header = kid ? { alg: 'RS256', typ: 'JWT', kid } : { alg: 'RS256', typ: 'JWT' };
  const input = `${base64url(encoder.encode(JSON.stringify(header)))}.${base64url(encoder.encode(JSON.stringify(claims)))}`;
  const signature = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, encoder.encode(input)));
  return `${input}.${base64url(signature)}`;
}
