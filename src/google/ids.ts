/**
 * Deterministic Google Calendar event ids, one per leave.
 *
 * Google lets a client choose an event id if it is base32hex (`[a-v0-9]`, lowercase) and 5..1024
 * characters long (Calendar API, Events resource, `id`). Choosing it ourselves makes every retry
 * idempotent: a repeated insert answers 409 `duplicate` instead of making a second block, even after
 * a crash between Google committing and us recording it.
 *
 * The id is "lb" + base32hex of the UTF-8 instance code rather than of a hash: it stays synchronous
 * (Web Crypto digests are async), has no collisions at all, and can be read back to the instance
 * code (reconciliation can name the leave of an event whose private properties someone stripped).
 * Feishu instance codes are 36-character UUIDs → 60-character ids, far below the limit.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';
const PREFIX = 'lb';
const encoder = new TextEncoder();

/** Google's rule for client-chosen event ids. */
export const EVENT_ID_PATTERN = /^[a-v0-9]{5,1024}$/;

export function base32hex(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function fromBase32hex(text: string): Uint8Array | null {
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 255);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  // Leftover bits are padding and must be zero, or this was not produced by base32hex().
  if (buffer !== 0) return null;
  return Uint8Array.from(out);
}

/** The event id of a leave's calendar block. Throws for codes that cannot make a valid id. */
export function eventIdFor(instanceCode: string): string {
  const id = PREFIX + base32hex(encoder.encode(instanceCode));
  if (!EVENT_ID_PATTERN.test(id)) {
    throw new RangeError(
      `instance code of ${instanceCode.length} characters cannot make a Google event id (5..1024 base32hex characters)`,
    );
  }
  return id;
}

/** The inverse of eventIdFor; null for ids we did not make. */
export function instanceCodeFromEventId(eventId: string): string | null {
  if (!eventId.startsWith(PREFIX)) return null;
  const bytes = fromBase32hex(eventId.slice(PREFIX.length));
  if (!bytes) return null;
  try {
    const code = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return eventIdFor(code) === eventId ? code : null;
  } catch {
    return null;
  }
}
