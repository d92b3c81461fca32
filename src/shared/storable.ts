import { setOwn } from './own-property.js';

/**
 * Postgres text and jsonb cannot hold U+0000 (22P05 / 22021), and Feishu JSON may legally carry
 * "\u0000" in any string. An authentic event must still be stored, so NUL becomes U+FFFD (the
 * replacement character) in every string and key before anything reaches the database.
 */
export function storable<T>(value: T): T {
  // almost nothing carries a NUL: look before copying (this runs on every event's payload)
  return hasNul(value) ? replaceNul(value) : value;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    for (const k in value) if (k.includes('\u0000') || hasNul((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

function replaceNul<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map(replaceNul) as T;
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, replaceNul(k), replaceNul(v));
    return out as T;
  }
  return value;
}
