/** The first problem of a failed zod parse, naming the field: `timezone: not an IANA time zone name`. */
export function firstIssue(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }, whole = 'body'): string {
  const i = error.issues[0]!;
  return `${i.path.map(String).join('.') || whole}: ${i.message}`;
}
