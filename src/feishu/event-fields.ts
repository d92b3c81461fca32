/** Decoding an approval event's fields, each failure an UnusableEventError naming the field. */
import { z } from 'zod';
import { normaliseLocal } from '../shared/local-time.js';
import { LooseParseError, parseI18nResources, parseLoose, parseSegments, resolveI18nText } from './strings.js';
import { UnusableEventError } from './unusable-event-error.js';

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
    .join('; ');
}

export function parse<T extends z.ZodTypeAny>(schema: T, event: unknown, type: string): z.output<T> {
  const r = schema.safeParse(event);
  if (!r.success) throw new UnusableEventError(`${type}: ${describe(r.error)}`);
  return r.data;
}

export function segmentsOf(
  raw: unknown,
  field: 'leave_range' | 'leave_detail',
): Array<[string, string]> {
  let pairs: Array<[string, string]>;
  try {
    pairs = parseSegments(raw);
  } catch (err) {
    if (err instanceof LooseParseError) throw new UnusableEventError(`${field}: ${err.message}`);
    throw err;
  }
  return pairs.map(([s, e], i) => {
    const start = normaliseLocal(s);
    const end = normaliseLocal(e);
    if (start === null || end === null) {
      throw new UnusableEventError(`${field}[${i}]: not a pair of local times: ${JSON.stringify([s, e])}`);
    }
    if (end < start) throw new UnusableEventError(`${field}[${i}]: ends before it starts`);
    return [start, end];
  });
}

/** i18n_resources as a list of JSON strings (out_approval), a list of objects, or V2's loose string. */
export function i18nName(resources: unknown, key: string | null): string | null {
  let parsed;
  try {
    const list = Array.isArray(resources) ? resources.map((r) => (typeof r === 'string' ? parseLoose(r) : r)) : resources;
    parsed = parseI18nResources(list);
  } catch (err) {
    if (err instanceof LooseParseError) throw new UnusableEventError(`i18n_resources: ${err.message}`);
    throw err;
  }
  return key === null ? null : (resolveI18nText(parsed, key) ?? (key.startsWith('@i18n@') ? null : key));
}

export function ordered(type: string, start: string, end: string): void {
  if (end < start) throw new UnusableEventError(`${type}: ends before it starts`);
}

/** A 2.0-schema special event carries its fields in event.object. */
export const objectOf = (event: unknown): unknown =>
  typeof event === 'object' && event !== null && 'object' in event ? (event as { object: unknown }).object : event;
