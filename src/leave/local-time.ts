import { DateTime } from 'luxon';
import type { LocalDateTime } from './types.js';

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * Canonicalise a zone-less Feishu time to `YYYY-MM-DD HH:mm:ss`, or null when it is not one.
 * 24:00:00 is accepted as the midnight that ends a day (some forms write it).
 */
export function normaliseLocal(value: string): LocalDateTime | null {
  const m = LOCAL_RE.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '00'] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const back = new Date(ms);
  // Date.UTC rolls over silently (Feb 30 → Mar 2); a rolled value is not what Feishu meant
  // except for the one legitimate case 24:00:00.
  const rolled =
    back.getUTCFullYear() !== Number(y) || back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d);
  if (Number(h) > 24 || Number(mi) > 59 || Number(s) > 59) return null;
  if (Number(h) === 24 && (Number(mi) !== 0 || Number(s) !== 0)) return null;
  if (rolled && Number(h) !== 24) return null;
  return fromWallMs(ms);
}

/** Wall-clock arithmetic without zones: a local time as if it were UTC. */
export function wallMs(local: LocalDateTime): number {
  const m = LOCAL_RE.exec(local)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
}

export function fromWallMs(ms: number): LocalDateTime {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export const localDate = (local: LocalDateTime): string => local.slice(0, 10);

/**
 * The instant a wall-clock time means in `zone`. In a DST gap luxon moves forward; in an overlap it
 * takes the second occurrence (standard time): 01:30 on 2024-11-03 in New York is 06:30Z. Either
 * is an acceptable edge for an out-of-office block.
 */
export function toInstant(local: LocalDateTime, zone: string): Date {
  const m = LOCAL_RE.exec(local);
  if (!m) throw new Error(`cannot place ${local} in zone ${zone}: not a YYYY-MM-DD HH:mm:ss local time`);
  // fromObject rather than fromFormat: same zone rules, without parsing a format string per call
  // (that was most of the drainer's time outside the Google client).
  const dt = DateTime.fromObject(
    { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6] ?? 0) },
    { zone },
  );
  if (!dt.isValid) throw new Error(`cannot place ${local} in zone ${zone}: ${dt.invalidExplanation ?? dt.invalidReason}`);
  return dt.toJSDate();
}

/** The local date (YYYY-MM-DD) an instant falls on in `zone`. */
export function instantToLocalDate(instant: Date, zone: string): string {
  return DateTime.fromJSDate(instant, { zone }).toFormat('yyyy-MM-dd');
}
