import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseI18nResources, parseLoose, parseSegments, resolveI18nText } from '../../src/feishu/strings.js';
import { parseJsonLenient } from '../../src/feishu/json.js';
import { storable } from '../../src/shared/storable.js';
import { allocate, secondsPerDate } from '../../src/leave/allocate.js';
import { DateTime } from 'luxon';
import { fromWallMs, normaliseLocal, toInstant, wallMs } from '../../src/shared/local-time.js';
import { LEAVE_UNITS, UNIT_INFO, type LeaveUnit } from '../../src/leave/types.js';

describe('Feishu non-JSON strings', () => {
  it('parses the documented examples', () => {
    expect(parseI18nResources('[{is_default=true,locale=zh_cn,texts={@i18n@7276381556766212099=事假}}]')).toEqual([
      { isDefault: true, locale: 'zh_cn', texts: { '@i18n@7276381556766212099': '事假' } },
    ]);
    expect(parseSegments('[[2024-09-05 13:30:00,2024-09-05 18:00:00],[2024-09-06 09:00:00,2024-09-06 18:00:00]]')).toEqual([
      ['2024-09-05 13:30:00', '2024-09-05 18:00:00'],
      ['2024-09-06 09:00:00', '2024-09-06 18:00:00'],
    ]);
  });

  it('accepts real JSON arrays and JSON strings alike', () => {
    const pairs = [['2024-09-05 13:30:00', '2024-09-05 18:00:00']];
    expect(parseSegments(pairs)).toEqual(pairs);
    expect(parseSegments(JSON.stringify(pairs))).toEqual(pairs);
    expect(parseI18nResources([{ is_default: false, locale: 'en_us', texts: { k: 'Sick' } }])[0]!.texts.k).toBe('Sick');
    // found by the round-trip property below: a key named __proto__ is a key like any other
    const proto = parseI18nResources('[{is_default=true,locale=zh_cn,texts={__proto__=事假}}]')[0]!.texts;
    expect(Object.keys(proto)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(resolveI18nText(parseI18nResources('[{is_default=true,locale=zh_cn,texts={__proto__=事假}}]'), '__proto__')).toBe('事假');
    // and the payload keeps it when its NULs are replaced (the copy is built from its keys too)
    const payload = JSON.parse('{"a":"x\\u0000","__proto__":{"k":"v"}}') as Record<string, unknown>;
    expect(Object.keys(storable(payload))).toEqual(['a', '__proto__']);
    expect(JSON.stringify(storable(payload))).toBe('{"a":"x\uFFFD","__proto__":{"k":"v"}}');
    expect(parseI18nResources('[{"is_default":true,"locale":"en_us","texts":[{"key":"k","value":"Sick"}]}]')[0]!.texts.k).toBe('Sick');
    expect(parseLoose('[]')).toEqual([]);
    expect(parseLoose(' [ [ ] ] ')).toEqual([[]]);
    expect(parseLoose('{}')).toEqual({});
    // JSON whose first value is not a string is read as the notation: scalars stay strings
    expect(parseLoose('[1,2]')).toEqual(['1', '2']);
  });

  it('reads any JSON array of string pairs the same as JSON.parse', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 6 }), (ps) => {
        expect(parseLoose(JSON.stringify(ps))).toEqual(ps);
      }),
    );
  });

  it('prefers the default locale, then any locale', () => {
    const res = parseI18nResources('[{is_default=false,locale=en_us,texts={k=Personal}},{is_default=true,locale=zh_cn,texts={k=事假}}]');
    expect(resolveI18nText(res, 'k')).toBe('事假');
    expect(resolveI18nText(res, 'missing')).toBeNull();
  });

  it('rejects malformed notation with a reason', () => {
    for (const bad of ['[[a,b]', '[{x=1}', '{a}', '[a]]', '[[a,[b]]']) {
      expect(() => parseLoose(bad), bad).toThrow(/at offset/);
    }
  });

  const localTime = fc
    .integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2040, 0, 1) / 1000 })
    .map((s) => fromWallMs(s * 1000));
  const pairs = fc.array(fc.tuple(localTime, localTime), { maxLength: 8 });

  it('round-trips any list of local time pairs through the toString() notation', () => {
    fc.assert(
      fc.property(pairs, (ps) => {
        const text = `[${ps.map(([a, b]) => `[${a},${b}]`).join(',')}]`;
        expect(parseSegments(text)).toEqual(ps);
      }),
    );
  });

  // Texts without the notation's delimiters (Feishu does not escape them either).
  const word = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[[\]{}=,]/.test(s) && s.trim() === s && s.length > 0);
  it('round-trips i18n resources', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), word, fc.dictionary(word, word, { minKeys: 1, maxKeys: 4 })), { minLength: 1, maxLength: 4 }), (entries) => {
        const text = `[${entries
          .map(([d, locale, texts]) => `{is_default=${d},locale=${locale},texts={${Object.entries(texts).map(([k, v]) => `${k}=${v}`).join(',')}}}`)
          .join(',')}]`;
        const parsed = parseI18nResources(text);
        expect(parsed).toEqual(entries.map(([d, locale, texts]) => ({ isDefault: d, locale, texts })));
      }),
    );
  });

  it('never throws anything but a parse error on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseLoose(s);
        } catch (err) {
          expect((err as Error).name).toBe('LooseParseError');
        }
      }),
    );
  });

  it('accepts the trailing comma of the documented revert example and nothing looser', () => {
    expect(parseJsonLenient('{"a": 1, }')).toEqual({ a: 1 });
    expect(parseJsonLenient('{"a": [1, 2,], "b": "x,}"}')).toEqual({ a: [1, 2], b: 'x,}' });
    expect(() => parseJsonLenient("{'a': 1}")).toThrow();
    expect(() => parseJsonLenient('{"a": 1 // c\n}')).toThrow();
  });
});

describe('allocation over local dates', () => {
  const unit = fc.constantFrom(...LEAVE_UNITS);
  /** a leave: 1..6 segments inside a 20-day window, at minute resolution */
  const leave = fc
    .record({
      base: fc.integer({ min: Date.UTC(2023, 0, 1) / 60000, max: Date.UTC(2026, 0, 1) / 60000 }),
      segs: fc.array(fc.tuple(fc.integer({ min: 0, max: 20 * 1440 }), fc.integer({ min: 0, max: 3 * 1440 })), { minLength: 1, maxLength: 6 }),
      unit,
      steps: fc.integer({ min: 0, max: 200 }),
    })
    .map(({ base, segs, unit, steps }) => {
      const segments = segs
        .map(([off, len]) => [fromWallMs((base + off) * 60000), fromWallMs((base + off + len) * 60000)] as [string, string])
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      return { segments, startLocal: segments[0]![0], unit: unit as LeaveUnit, intervalSeconds: steps * UNIT_INFO[unit as LeaveUnit].stepSeconds };
    });

  /** exact sum of decimal strings in units of 1e-6 */
  const micro = (q: string) => {
    const [w, f = ''] = q.split('.');
    return BigInt(w!) * 1_000_000n + BigInt((f + '000000').slice(0, 6));
  };

  it('adds up exactly to leave_interval, never negative, only on dates the leave covers', () => {
    fc.assert(
      fc.property(leave, (l) => {
        const days = allocate(l);
        const { baseSeconds } = UNIT_INFO[l.unit];
        const total = days.reduce((acc, d) => acc + micro(d.quantity), 0n);
        expect(total * BigInt(baseSeconds)).toBe(BigInt(l.intervalSeconds) * 1_000_000n);
        const covered = new Set([...secondsPerDate(l.segments).keys(), l.startLocal.slice(0, 10)]);
        for (const d of days) {
          expect(micro(d.quantity) > 0n).toBe(true);
          expect(covered.has(d.date)).toBe(true);
          expect(d.quantity).toMatch(/^\d+(\.\d*[1-9])?$/);
        }
        expect(days.map((d) => d.date)).toEqual([...days.map((d) => d.date)].sort());
      }),
      { numRuns: 500 },
    );
  });

  it('moves in whole steps of the unit when the interval is a multiple of it', () => {
    fc.assert(
      fc.property(leave, (l) => {
        const { stepSeconds, baseSeconds } = UNIT_INFO[l.unit];
        for (const d of allocate(l)) {
          const seconds = (micro(d.quantity) * BigInt(baseSeconds)) / 1_000_000n;
          expect(seconds % BigInt(stepSeconds)).toBe(0n);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('splits in proportion to each date’s share (documented examples)', () => {
    expect(allocate({ segments: [['2024-09-05 12:00:00', '2024-09-07 00:00:00']], startLocal: '2024-09-05 12:00:00', intervalSeconds: 129600, unit: 'HALF_DAY' })).toEqual([
      { date: '2024-09-05', quantity: '0.5' },
      { date: '2024-09-06', quantity: '1' },
    ]);
    expect(allocate({ segments: [['2024-09-05 09:00:00', '2024-09-05 11:15:00']], startLocal: '2024-09-05 09:00:00', intervalSeconds: 8100, unit: 'HALF_HOUR' })).toEqual([
      { date: '2024-09-05', quantity: '2.25' },
    ]);
    // 2 days over 3 equal days in whole days: largest remainder, ties to the earlier dates
    expect(allocate({ segments: [['2024-01-01 00:00:00', '2024-01-04 00:00:00']], startLocal: '2024-01-01 00:00:00', intervalSeconds: 2 * 86400, unit: 'DAY' })).toEqual([
      { date: '2024-01-01', quantity: '1' },
      { date: '2024-01-02', quantity: '1' },
    ]);
    // not a multiple of the unit: a finer exact step keeps the sum exact
    expect(allocate({ segments: [['2024-01-01 00:00:00', '2024-01-02 00:00:00']], startLocal: '2024-01-01 00:00:00', intervalSeconds: 21600, unit: 'DAY' })).toEqual([
      { date: '2024-01-01', quantity: '0.25' },
    ]);
  });

  it('wall-clock arithmetic ignores zones (a DST day still has 24 wall hours)', () => {
    expect(wallMs('2024-03-10 03:00:00') - wallMs('2024-03-10 01:00:00')).toBe(2 * 3600 * 1000);
  });
});

describe('reading a Feishu local time (normaliseLocal)', () => {
  it('canonicalises real times and refuses impossible ones, 24:00 included', () => {
    expect(normaliseLocal('2024-09-05 12:00:00')).toBe('2024-09-05 12:00:00');
    expect(normaliseLocal(' 2024-09-05T12:00 ')).toBe('2024-09-05 12:00:00');
    expect(normaliseLocal('2024-02-29 08:30:00')).toBe('2024-02-29 08:30:00');
    expect(normaliseLocal('2024-12-31 24:00:00')).toBe('2025-01-01 00:00:00');
    for (const bad of ['2023-02-29 08:00:00', '1900-02-29 00:00:00', '2024-04-31 10:00:00', '2024-09-05 25:00:00',
      '2024-09-05 12:60:00', '2024-09-05 12:00:60', '2024-09-05 24:00:01', '2024-00-10 10:00:00',
      // a 24:00 on a date that does not exist is not the midnight that ends it
      '2024-13-01 24:00:00', '2024-09-00 24:00:00', '2024-02-30 24:00:00',
      // Date.UTC would read these years as 19xx
      '0050-08-05 10:00:00', '0099-12-31 24:00:00', '2024-9-5 12:00:00']) {
      expect(normaliseLocal(bad), bad).toBeNull();
    }
  });

  it('agrees with the calendar (Date.UTC) on any syntactically valid time', () => {
    const p2 = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }),
        (y, mo, d, h, mi, s) => {
          const text = `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)} ${p2(h)}:${p2(mi)}:${p2(s)}`;
          const ms = Date.UTC(y, mo - 1, d, h, mi, s);
          const back = new Date(ms);
          const exists = back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d;
          const valid = mo >= 1 && mo <= 12 && d >= 1 && mi <= 59 && s <= 59 &&
            (h < 24 ? exists : h === 24 && mi === 0 && s === 0 && new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d);
          expect(normaliseLocal(text)).toBe(valid ? fromWallMs(ms) : null);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('placing a local time in a zone (toInstant)', () => {
  it('DST gap moves forward, an overlap takes the second occurrence (standard time), plain zones add their offset', () => {
    expect(toInstant('2024-03-10 02:30:00', 'America/New_York').toISOString()).toBe('2024-03-10T07:30:00.000Z');
    expect(toInstant('2024-11-03 01:30:00', 'America/New_York').toISOString()).toBe('2024-11-03T06:30:00.000Z');
    expect(toInstant('2024-09-05 09:00:00', 'Asia/Shanghai').toISOString()).toBe('2024-09-05T01:00:00.000Z');
    expect(() => toInstant('2024-09-05 09:00:00', 'Mars/Olympus')).toThrow(/Mars\/Olympus/);
    expect(() => toInstant('2024-09-05', 'Asia/Shanghai')).toThrow(/2024-09-05/);
  });

  it("agrees with luxon's own parser of the same format for any time in any zone", () => {
    const zones = ['Asia/Shanghai', 'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'America/Santiago', 'Pacific/Chatham', 'UTC'];
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) }), fc.constantFrom(...zones), (ms, zone) => {
        const local = fromWallMs(Math.floor(ms / 1000) * 1000);
        const reference = DateTime.fromFormat(local, 'yyyy-MM-dd HH:mm:ss', { zone }).toJSDate();
        expect(toInstant(local, zone).toISOString()).toBe(reference.toISOString());
      }),
      { numRuns: 2000 },
    );
  });
});
