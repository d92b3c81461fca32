import { setOwn } from '../shared/own-property.js';

/**
 * Feishu's leave_approvalV2 sends `i18n_resources`, `leave_range` and `leave_detail` as strings in
 * a Java `toString()`-like notation, not JSON
 * (https://open.feishu.cn/document/server-docs/approval-v4/event/special-event/leave):
 *
 *   [{is_default=true,locale=zh_cn,texts={@i18n@7276381556766212099=事假}}]
 *   [[2024-09-05 13:30:00,2024-09-05 18:00:00],[2024-09-06 09:00:00,2024-09-06 18:00:00]]
 *
 * while the SDK's types declare real arrays. parseLoose accepts: an already-parsed value, a JSON
 * string, or that notation. Scalars stay strings (the notation has no types); callers coerce.
 */
export type Loose = string | Loose[] | { [key: string]: Loose };

export class LooseParseError extends Error {
  constructor(message: string, readonly input: string) {
    super(message);
    this.name = 'LooseParseError';
  }
}

export function parseLoose(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === '') return [];
  if (looksLikeJson(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON after all: fall through to the toString() notation
    }
  }
  return new LooseParser(text).parseDocument();
}

/**
 * Whether to try JSON.parse first: the first value inside the brackets is a quoted string (or there
 * is none). The notation's values are never quoted, so V2's strings skip a JSON.parse that could
 * only fail: a thrown SyntaxError per field was a visible share of the ingest CPU. JSON whose
 * first value is a number or a boolean takes the notation's path and keeps its scalars as strings,
 * which callers coerce anyway.
 */
function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '[' || ch === '{' || ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') continue;
    return ch === '"' || ((ch === ']' || ch === '}') && i > 0);
  }
  return false;
}

class LooseParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): Loose {
    const v = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail(`unexpected ${JSON.stringify(this.text[this.pos])}`);
    return v;
  }

  private value(): Loose {
    this.skipSpace();
    const ch = this.text[this.pos];
    if (ch === '[') return this.list();
    if (ch === '{') return this.map();
    return this.scalar(',]}');
  }

  private list(): Loose[] {
    this.pos++; // [
    const items: Loose[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const ch = this.text[this.pos++];
      if (ch === ']') return items;
      if (ch !== ',') this.fail(ch === undefined ? 'unterminated list' : `expected , or ] in list`);
    }
  }

  private map(): { [key: string]: Loose } {
    this.pos++; // {
    const out: { [key: string]: Loose } = {};
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      const key = this.scalar('=,}').trim();
      if (this.text[this.pos] !== '=') this.fail(`expected = after key ${JSON.stringify(key)}`);
      this.pos++;
      setOwn(out, key, this.value());
      this.skipSpace();
      const ch = this.text[this.pos++];
      if (ch === '}') return out;
      if (ch !== ',') this.fail(ch === undefined ? 'unterminated map' : 'expected , or } in map');
    }
  }

  /** Text up to the next delimiter; surrounding spaces trimmed, inner ones kept (dates). */
  private scalar(stops: string): string {
    const start = this.pos;
    while (this.pos < this.text.length && !stops.includes(this.text[this.pos]!)) {
      const ch = this.text[this.pos]!;
      if (ch === '[' || ch === '{') this.fail(`unexpected ${ch} inside a value`);
      this.pos++;
    }
    return this.text.slice(start, this.pos).trim();
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private fail(message: string): never {
    throw new LooseParseError(`${message} at offset ${this.pos}`, this.text);
  }
}

export interface I18nResource {
  isDefault: boolean;
  locale: string;
  texts: Record<string, string>;
}

/** i18n_resources in any accepted form → typed entries; texts may also be [{key, value}] pairs. */
export function parseI18nResources(value: unknown): I18nResource[] {
  const parsed = parseLoose(value);
  if (parsed === undefined || parsed === null) return [];
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new LooseParseError(`i18n_resources[${i}] is not an object`, String(value));
    }
    const e = entry as Record<string, unknown>;
    const texts: Record<string, string> = {};
    const rawTexts = e.texts;
    if (Array.isArray(rawTexts)) {
      for (const t of rawTexts) {
        const kv = t as { key?: unknown; value?: unknown };
        if (typeof kv?.key === 'string') setOwn(texts, kv.key, String(kv.value ?? ''));
      }
    } else if (rawTexts && typeof rawTexts === 'object') {
      for (const [k, v] of Object.entries(rawTexts)) setOwn(texts, k, String(v));
    }
    return {
      isDefault: e.is_default === true || e.is_default === 'true',
      locale: typeof e.locale === 'string' ? e.locale : '',
      texts,
    };
  });
}

/** The leave name for `key`: the default locale's text first, then any locale's, else null. */
export function resolveI18nText(resources: I18nResource[], key: string): string | null {
  const ordered = [...resources.filter((r) => r.isDefault), ...resources.filter((r) => !r.isDefault)];
  for (const r of ordered) {
    const t = r.texts[key];
    if (t !== undefined && t !== '') return t;
  }
  return null;
}

/** leave_range / leave_detail in any accepted form → [start, end] pairs of local times. */
export function parseSegments(value: unknown): Array<[string, string]> {
  const parsed = parseLoose(value);
  if (parsed === undefined || parsed === null) return [];
  if (!Array.isArray(parsed)) throw new LooseParseError('segments are not a list', String(value));
  return parsed.map((seg, i) => {
    if (!Array.isArray(seg) || seg.length !== 2 || typeof seg[0] !== 'string' || typeof seg[1] !== 'string') {
      throw new LooseParseError(`segment ${i} is not a [start, end] pair`, String(value));
    }
    return [seg[0].trim(), seg[1].trim()] as [string, string];
  });
}
