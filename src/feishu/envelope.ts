import { AppError } from '../errors.js';
import { type Bytes, constantTimeEqual, decryptEvent, equalDigests, eventSignature, sha256, toHex } from './crypto.js';
import { parseJsonLenient } from './json.js';

export interface EnvelopeOptions {
  verificationToken: string | undefined;
  encryptKey: string | undefined;
  toleranceSeconds: number;
  now: Date;
}

export interface SignatureHeaders {
  timestamp?: string | null;
  nonce?: string | null;
  signature?: string | null;
}

/** An authentic delivery: who it is (dedupe key), what it is, and its decrypted body. */
export interface AuthenticEvent {
  kind: 'event';
  schema: 'v1' | 'v2';
  /** v1 `uuid`, v2 `header.event_id`; a body hash when an authentic event lacks both */
  eventKey: string;
  eventType: string;
  /** the event object (v1 `event`, v2 `event`) */
  event: unknown;
  body: Record<string, unknown>;
  /** why the envelope itself is unusable although authentic (→ quarantine), else null */
  problem: string | null;
}

export type Envelope = { kind: 'challenge'; challenge: string } | AuthenticEvent;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deeper than any Feishu event; beyond it JSON.stringify and jsonb (limit ~5000) start to fail. */
export const MAX_JSON_DEPTH = 64;

function depthExceeds(value: unknown, limit: number): boolean {
  // Recursion stops at `limit` levels, so a hostile body cannot overflow the stack here.
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (depthExceeds(value[i], limit - 1)) return true;
    return false;
  }
  for (const key in value) if (depthExceeds((value as Record<string, unknown>)[key], limit - 1)) return true;
  return false;
}

function parseBody(text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJsonLenient(text);
  } catch {
    throw new AppError('invalid_json', `${what} is not valid JSON`);
  }
  if (!isObject(parsed)) throw new AppError('invalid_json', `${what} is not a JSON object`);
  if (depthExceeds(parsed, MAX_JSON_DEPTH)) throw new AppError('too_deep', `${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  return parsed;
}

/** Ids and types longer than this cannot be index keys (Postgres btree rows ≤ ~2.7 kB); no real one is. */
const MAX_ID_LENGTH = 200;

/**
 * With an encrypt key, the one body that comes unsigned is Feishu's url_verification (a few hundred
 * bytes); anything longer is an event without its signature, refused before it is parsed.
 */
export const UNSIGNED_BODY_LIMIT = 4 * 1024;

/** All three signature headers are there. */
export const isSigned = (h: SignatureHeaders): boolean => Boolean(h.timestamp && h.nonce && h.signature);

/**
 * Verify, then decrypt, then parse: with an encrypt key, a signed request's timestamp and the
 * signature over its raw bytes are checked before the body is decoded or parsed, so a forged body
 * costs a hash and nothing more. Then the Verification Token must match.
 *
 * url_verification is the one exception to "signed": Feishu sends the challenge WITHOUT signature
 * headers even when an encrypt key is set (cf. openclaw/openclaw#58905), so it is authenticated by
 * decryption plus token, and its body may be at most UNSIGNED_BODY_LIMIT bytes. Every other event
 * must be signed when a key is set.
 */
export async function openEnvelope(
  raw: Bytes,
  headers: SignatureHeaders,
  opts: EnvelopeOptions,
): Promise<Envelope> {
  const { timestamp, nonce, signature } = headers;
  const signed = isSigned(headers);
  // true once the signature over the raw bytes matched: the body is Feishu's, whatever it holds
  const verified = Boolean(opts.encryptKey && signed);
  if (opts.encryptKey && signed) {
    const ts = Number(timestamp);
    if (!Number.isFinite(ts) || !/^\d+$/.test(timestamp!)) {
      throw new AppError('bad_timestamp', 'X-Lark-Request-Timestamp is not a number of seconds');
    }
    if (Math.abs(opts.now.getTime() / 1000 - ts) > opts.toleranceSeconds) {
      throw new AppError('stale_timestamp', 'X-Lark-Request-Timestamp is outside the allowed window');
    }
    const expected = await eventSignature(timestamp!, nonce!, opts.encryptKey, raw);
    if (!equalDigests(expected, signature!.trim().toLowerCase())) {
      throw new AppError('bad_signature', 'X-Lark-Signature does not match the body');
    }
  } else if (opts.encryptKey && raw.length > UNSIGNED_BODY_LIMIT) {
    throw new AppError('missing_signature', `signature headers are required when an encrypt key is set (only a url_verification of at most ${UNSIGNED_BODY_LIMIT} bytes comes unsigned)`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new AppError('invalid_body', 'body is not UTF-8 text');
  }
  const outer = parseBody(text, 'body');

  let body = outer;
  if ('encrypt' in outer) {
    if (typeof outer.encrypt !== 'string') throw new AppError('invalid_body', '"encrypt" must be a string');
    if (!opts.encryptKey) {
      throw new AppError('encrypt_key_missing', 'body is encrypted but FEISHU_ENCRYPT_KEY is not set');
    }
    let plain: string;
    try {
      plain = await decryptEvent(opts.encryptKey, outer.encrypt);
    } catch {
      // Signed and verified, the body is authentic and merely malformed (400). Unsigned (Feishu's
      // url_verification), decryption is what authenticates it, so a failure is a 401.
      if (verified) throw new AppError('invalid_ciphertext', 'a signed body does not decrypt with the configured encrypt key');
      throw new AppError('decrypt_failed', 'body does not decrypt with the configured encrypt key');
    }
    body = parseBody(plain, 'decrypted body');
  }

  const header = isObject(body.header) ? body.header : undefined;
  const token = header ? header.token : body.token;
  if (!opts.verificationToken) {
    throw new AppError('token_not_configured', 'FEISHU_VERIFICATION_TOKEN is not configured');
  }
  if (typeof token !== 'string' || !(await constantTimeEqual(token, opts.verificationToken))) {
    throw new AppError('bad_token', 'verification token does not match');
  }

  if (body.type === 'url_verification') {
    if (typeof body.challenge !== 'string') throw new AppError('invalid_challenge', 'challenge must be a string');
    // Authenticated by the token (plaintext reveals nothing) or by decryption + token.
    return { kind: 'challenge', challenge: body.challenge };
  }

  if (opts.encryptKey && !signed) {
    throw new AppError('missing_signature', 'signature headers are required when an encrypt key is set');
  }

  return { kind: 'event', ...(await identifyEvent(body)), body };
}


/**
 * Who an authenticated body is and what it carries: its dedupe key (v1 `uuid`, v2
 * `header.event_id`), its type, its event object, and why it cannot be used if it cannot. Shared
 * by the webhook and the long connection.
 */
export async function identifyEvent(body: Record<string, unknown>): Promise<Omit<AuthenticEvent, 'kind' | 'body'>> {
  const header = isObject(body.header) ? body.header : undefined;
  const schema: 'v1' | 'v2' = header ? 'v2' : 'v1';
  const event = body.event;
  const eventType = header ? header.event_type : isObject(event) && typeof event.type === 'string' ? event.type : body.type;
  const eventKey = header ? header.event_id : body.uuid;
  const keyName = header ? 'header.event_id' : 'uuid';
  const keyOk = typeof eventKey === 'string' && eventKey !== '' && eventKey.length <= MAX_ID_LENGTH;
  const typeOk = typeof eventType === 'string' && eventType !== '' && eventType.length <= MAX_ID_LENGTH;
  let problem: string | null = null;
  if (typeof eventKey !== 'string' || eventKey === '') problem = `missing ${keyName}`;
  else if (!keyOk) problem = `${keyName} longer than ${MAX_ID_LENGTH} characters`;
  else if (typeof eventType !== 'string' || eventType === '') problem = 'missing event type';
  else if (!typeOk) problem = `event type longer than ${MAX_ID_LENGTH} characters`;
  else if (!isObject(event)) problem = 'missing event object';
  return {
    schema,
    // An authentic event without a usable id still must not be lost: key it by its decrypted
    // content, so a re-push (encrypted afresh, with another IV) finds the same key.
    eventKey: keyOk ? (eventKey as string) : `sha256:${toHex(await sha256(JSON.stringify(body)))}`,
    eventType: typeOk ? (eventType as string) : 'unknown',
    event,
    problem,
  };
}
