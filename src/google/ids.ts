/**
 * Deterministic Google Calendar event ids, one per calendar block of a record.
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
 *
 * A record with one block (a leave, an out) has the block key '' and the id of the instance code
 * alone, as every leave always had: events already in users' calendars are still found, updated and
 * deleted. A record with several (a trip: one per schedule segment, for the requester and each
 * peer) encodes `<instance code> NUL <block key>`: stored text never holds NUL (it is replaced
 * before anything is stored), so the two parts split back unambiguously and no block's id can equal
 * another record's.
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

/** The event id of a record's single block (every leave's). Throws for codes that cannot make a valid id. */
export const eventIdFor = (instanceCode: string): string => blockEventIdFor(instanceCode, '');

/** The event id of one block of a record. Throws for codes that cannot make a valid id. */
export function blockEventIdFor(instanceCode: string, blockKey: string): string {
  const id = PREFIX + base32hex(encoder.encode(blockKey === '' ? instanceCode : `${instanceCode}\u0000${blockKey}`));
  if (!EVENT_ID_PATTERN.test(id)) {
    throw new RangeError(
      `instance code of ${instanceCode.length} characters cannot make a Google event id (5..1024 base32hex characters)`,
    );
  }
  return id;
}

/** The inverse of eventIdFor: the record and block of an id; null for ids we did not make. */
export function blockFromEventId(eventId: string): { instanceCode: string; blockKey: string } | null {
  if (!eventId.startsWith(PREFIX)) return null;
  const bytes = fromBase32hex(eventId.slice(PREFIX.length));
  if (!bytes) return null;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const cut = text.indexOf('\u0000');
    const instanceCode = cut < 0 ? text : text.slice(0, cut);
    const blockKey = cut < 0 ? '' : text.slice(cut + 1);
    if (cut >= 0 && blockKey === '') return null;
    return blockEventIdFor(instanceCode, blockKey) === eventId ? { instanceCode, blockKey } : null;
  } catch {
    return null;
  }
}

/** The record of an event id we made (any of its blocks); null for ids we did not make. */
export function instanceCodeFromEventId(eventId: string): string | null {
  return blockFromEventId(eventId)?.instanceCode ?? null;
}
