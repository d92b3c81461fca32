import { DateTime } from 'luxon';

/** A local wall-clock time `YYYY-MM-DD HH:mm:ss` with no zone (the employee's clock). */
export type LocalDateTime = string;

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

const daysInMonth = (y: number, m: number): number =>
  m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;

/**
 * Canonicalise a zone-less Feishu time to `YYYY-MM-DD HH:mm:ss`, or null when it is not one.
 * 24:00:00 is accepted as the midnight that ends a day (some forms write it). Years before 0100
 * are refused: Date.UTC reads them as 19xx, so no later arithmetic could be trusted.
 * (Checked field by field and built from the matched text, without a Date: every time in every
 * event goes through here.)
 */
export function normaliseLocal(value: string): LocalDateTime | null {
  const m = LOCAL_RE.exec(value.trim());
  if (!m) return null;
  const [, ys, mos, ds, hs, mis, ss = '00'] = m;
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  const h = Number(hs);
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  if (h > 24 || Number(mis) > 59 || Number(ss) > 59) return null;
  if (h === 24) {
    if (mis !== '00' || ss !== '00') return null;
    return fromWallMs(Date.UTC(y, mo - 1, d + 1));
  }
  return `${ys}-${mos}-${ds} ${hs}:${mis}:${ss}`;
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

/** The date (YYYY-MM-DD) of a wall-clock time given as ms (see wallMs). */
export const wallDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

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
