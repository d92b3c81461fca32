/**
 * Feishu's event crypto. Web Crypto everywhere it has to be (workerd); on Node, node:crypto for the
 * two primitives it needs (SHA-256, AES-256-CBC decryption), because Node runs every Web Crypto
 * call as a thread-pool job: a thread hop and a promise per call, several times the cost of the
 * work itself for inputs this small (docs/decisions/0012-node-crypto-on-node.md). Both
 * implementations are exported and tested against the same vectors.
 * Source: https://open.feishu.cn/document/ukTMukTMukTM/uYDNxYjL2QTM24iN0EjN/event-subscription-configure-/encrypt-key-encryption-configuration-case
 */
import type * as NodeCryptoModule from 'node:crypto';

const encoder = new TextEncoder();

/** Bytes backed by a plain ArrayBuffer (what Web Crypto accepts). */
export type Bytes = Uint8Array<ArrayBuffer>;

export interface CryptoPrimitives {
  sha256(data: Bytes): Promise<Bytes>;
  /** hex SHA-256 of the parts, one after the other */
  sha256Hex(parts: Array<Bytes | string>): Promise<string>;
  /** base64 (whitespace ignored) → bytes; throws on characters outside the alphabet */
  fromBase64(b64: string): Bytes;
  /** AES-256-CBC with PKCS#7 padding removed, key = SHA-256(encryptKey) */
  decrypt(encryptKey: string, iv: Bytes, data: Bytes): Promise<Uint8Array>;
}

const webKeys = new Map<string, Promise<CryptoKey>>();

export const webCryptoPrimitives: CryptoPrimitives = {
  async sha256(data) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  },
  async sha256Hex(parts) {
    const bytes = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
    const buf = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of bytes) {
      buf.set(b, at);
      at += b.length;
    }
    return toHex(await webCryptoPrimitives.sha256(buf));
  },
  fromBase64(b64) {
    // atob exists on Node ≥16 and Workers; it throws on characters outside the alphabet.
    const bin = atob(b64.replace(/\s+/g, ''));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  },
  async decrypt(encryptKey, iv, data) {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-CBC', iv }, await aesKey(encryptKey, 'decrypt'), data));
  },
};

/** node:crypto on Node (process.getBuiltinModule: no import, so the Worker bundle does not see it). */
function loadNodeCrypto(): typeof NodeCryptoModule | undefined {
  // workerd with nodejs_compat also has getBuiltinModule, but its Decipheriv depends on the runtime
  // version; Workers say so in navigator.userAgent, Node 20 has no navigator.
  const nav = (globalThis as { navigator?: { userAgent?: string } }).navigator;
  if (nav?.userAgent === 'Cloudflare-Workers') return undefined;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:crypto') as typeof NodeCryptoModule | undefined;
}

const nodeCrypto = loadNodeCrypto();
const NOT_BASE64 = /[^A-Za-z0-9+/]/;
const nodeKeys = new Map<string, Buffer>();

export const nodeCryptoPrimitives: CryptoPrimitives | undefined = nodeCrypto && {
  async sha256(data) {
    const digest = nodeCrypto.createHash('sha256').update(data).digest();
    return new Uint8Array(digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.byteLength));
  },
  async sha256Hex(parts) {
    const hash = nodeCrypto.createHash('sha256');
    for (const p of parts) hash.update(p);
    return hash.digest('hex');
  },
  fromBase64(b64) {
    // Buffer's decoder skips characters outside the alphabet where atob throws. Canonical padded
    // base64 (what Feishu sends) is what Buffer encodes the bytes back to: one native round trip,
    // measurably cheaper than scanning the text for other characters. Anything else is
    // checked first, as atob does (WHATWG forgiving-base64: up to two '=' end a whole quantum,
    // nothing else is allowed).
    if (b64.length % 4 === 0) {
      const buf = Buffer.from(b64, 'base64');
      if (buf.toString('base64') === b64) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) as Bytes;
    }
    let clean = b64.replace(/\s+/g, '');
    if (clean.length % 4 === 0) clean = clean.endsWith('==') ? clean.slice(0, -2) : clean.endsWith('=') ? clean.slice(0, -1) : clean;
    if (clean.length % 4 === 1 || NOT_BASE64.test(clean)) throw new Error('not base64');
    const buf = Buffer.from(clean, 'base64');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) as Bytes;
  },
  async decrypt(encryptKey, iv, data) {
    let key = nodeKeys.get(encryptKey);
    if (!key) nodeKeys.set(encryptKey, (key = nodeCrypto.createHash('sha256').update(encryptKey).digest()));
    const decipher = nodeCrypto.createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([decipher.update(data), decipher.final()]);
  },
};

const primitives: CryptoPrimitives = nodeCryptoPrimitives ?? webCryptoPrimitives;

export async function sha256(data: Bytes | string): Promise<Bytes> {
  return primitives.sha256(typeof data === 'string' ? encoder.encode(data) : data);
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function aesKey(encryptKey: string, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const cacheKey = `${usage}:${encryptKey}`;
  let key = webKeys.get(cacheKey);
  if (!key) {
    key = webCryptoPrimitives
      .sha256(encoder.encode(encryptKey))
      .then((raw) => crypto.subtle.importKey('raw', raw, { name: 'AES-CBC' }, false, [usage]));
    webKeys.set(cacheKey, key);
  }
  return key;
}

/** base64 → first 16 bytes IV, rest AES-256-CBC with PKCS#7 (the padding is stripped). */
export async function decryptEvent(encryptKey: string, encrypted: string, impl: CryptoPrimitives = primitives): Promise<string> {
  const data = impl.fromBase64(encrypted);
  if (data.length < 32 || data.length % 16 !== 0) {
    throw new Error('ciphertext has the wrong length');
  }
  const plain = await impl.decrypt(encryptKey, data.subarray(0, 16), data.subarray(16));
  return new TextDecoder('utf-8', { fatal: true }).decode(plain);
}

/** The inverse, for tests, fakes and benchmarks that must produce what Feishu sends. */
export async function encryptEvent(encryptKey: string, plaintext: string, iv?: Bytes): Promise<string> {
  const ivBytes = iv ?? crypto.getRandomValues(new Uint8Array(16));
  const cipher = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-CBC', iv: ivBytes },
      await aesKey(encryptKey, 'encrypt'),
      encoder.encode(plaintext),
    ),
  );
  const out = new Uint8Array(16 + cipher.length);
  out.set(ivBytes, 0);
  out.set(cipher, 16);
  return bytesToBase64(out);
}

/**
 * hex SHA-256(timestamp + nonce + encryptKey + raw body bytes). Over the RAW bytes as received:
 * the official SDK hashes a re-serialised body, which breaks on any byte-level difference.
 */
export async function eventSignature(
  timestamp: string,
  nonce: string,
  encryptKey: string,
  rawBody: Bytes,
  impl: CryptoPrimitives = primitives,
): Promise<string> {
  return impl.sha256Hex([timestamp + nonce + encryptKey, rawBody]);
}

/**
 * Digests of the secrets this process holds (the Verification Token, the admin token and the
 * dashboard session value derived from it), per implementation: each is hashed once, not on
 * every request. Bounded, because nothing else should ever be passed as `secret`.
 */
const secretDigests = new WeakMap<CryptoPrimitives, Map<string, Promise<string>>>();
const MAX_REMEMBERED_SECRETS = 16;

function secretDigest(secret: string, impl: CryptoPrimitives): Promise<string> {
  let memo = secretDigests.get(impl);
  if (!memo) secretDigests.set(impl, (memo = new Map()));
  let digest = memo.get(secret);
  if (!digest) {
    digest = impl.sha256Hex([secret]);
    if (memo.size < MAX_REMEMBERED_SECRETS) memo.set(secret, digest);
  }
  return digest;
}

/**
 * Whether `given` equals `secret` (a value we hold), without an early exit, so the time taken
 * reveals neither how many leading characters matched nor the secret's length: both sides are
 * compared as SHA-256 digests. Hand-written because Node's crypto.timingSafeEqual is not on Web
 * Crypto and the Workers variant is not on Node.
 */
export async function constantTimeEqual(given: string, secret: string, impl: CryptoPrimitives = primitives): Promise<boolean> {
  const [hg, hs] = [await impl.sha256Hex([given]), await secretDigest(secret, impl)];
  return equalDigests(hg, hs);
}

/**
 * Two hex digests compared without an early exit. Their length is public (64 for SHA-256), so
 * strings of different lengths are simply unequal: this is for a computed digest (the expected
 * X-Lark-Signature) against the one a request carries, where hashing both again would only cost.
 */
export function equalDigests(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
