/**
 * JSON.parse that also accepts trailing commas before `}` or `]`. Feishu's own documented
 * leave_approval_revert example carries one (`"operate_time": 1564590532, }`); we take the docs'
 * examples as ground truth, so a payload like it must not be rejected. Nothing else is relaxed:
 * comments, single quotes, NaN stay errors. Hand-written because JSON5-style parsers accept far
 * more than this one quirk.
 */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const stripped = stripTrailingCommas(text);
    if (stripped === text) throw first;
    return JSON.parse(stripped);
  }
}

function stripTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[++i] ?? '';
      } else if (ch === '"') {
        inString = false;
      }
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    if (ch === ',') {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === '}' || text[j] === ']') continue;
    }
    out += ch;
  }
  return out;
}
