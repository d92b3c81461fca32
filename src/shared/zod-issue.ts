/**
 * The first problem of a failed zod parse, naming the field: `timezone: not an IANA time zone name`.
 * A field that should not be there (a strict object's unrecognized key) is named too.
 */
export function firstIssue(
  error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: ReadonlyArray<string> }> },
  whole = 'body',
): string {
  const i = error.issues[0]!;
  const path = i.code === 'unrecognized_keys' && i.keys?.length ? [...i.path, i.keys[0]!] : i.path;
  return `${path.map(String).join('.') || whole}: ${i.code === 'unrecognized_keys' ? 'not a known field' : i.message}`;
}
