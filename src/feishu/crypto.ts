/**
 * Feishu's event crypto on Web Crypto only, so the same code runs on Node and in workerd.
 * Source: Feishu "Encrypt Key" docs; DESIGN §2.
 */
const encoder = new TextEncoder();

/** Bytes backed by a plain ArrayBuffer (what Web Crypto accepts). */
export type Bytes = Uint8Array<ArrayBuffer>;

export async function sha256(data: Bytes | string): Promise<Bytes> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function base64ToBytes(b64: string): Bytes {
  // atob exists on Node ≥16 and Workers; it throws on characters outside the alphabet.
  const bin = atob(b64.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function aesKey(encryptKey: string, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const cacheKey = `${usage}:${encryptKey}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = sha256(encryptKey).then((raw) =>
      crypto.subtle.importKey('raw', raw, { name: 'AES-CBC' }, false, [usage]),
    );
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** base64 → first 16 bytes IV, rest AES-256-CBC with PKCS#7 (Web Crypto strips the padding). */
export async function decryptEvent(encryptKey: string, encrypted: string): Promise<string> {
  const data = base64ToBytes(encrypted);
  if (data.length < 32 || data.length % 16 !== 0) {
    throw new Error('ciphertext has the wrong length');
  }
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-CBC', iv: data.subarray(0, 16) },
    await aesKey(encryptKey, 'decrypt'),
    data.subarray(16),
  );
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
): Promise<string> {
  const prefix = encoder.encode(timestamp + nonce + encryptKey);
  const buf = new Uint8Array(prefix.length + rawBody.length);
  buf.set(prefix, 0);
  buf.set(rawBody, prefix.length);
  return toHex(await sha256(buf));
}

/**
 * Compare without an early exit, so the time taken does not reveal how many leading characters
 * matched. Hand-written because Node's crypto.timingSafeEqual is not on Web Crypto and the
 * Workers variant is not on Node; both inputs are hashed first so lengths never leak either.
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256(a), sha256(b)]);
  let diff = 0;
  for (let i = 0; i < ha.length; i++) diff |= ha[i]! ^ hb[i]!;
  return diff === 0;
}
