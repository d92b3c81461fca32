export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * An error as a log field: name, code and message, without what drivers attach. drizzle's
 * "Failed query: …\nparams: …" would put employee emails and whole event payloads into the logs,
 * so the parameters are cut off and long messages truncated.
 */
function describeError(err: Error): Record<string, unknown> {
  const paramsAt = err.message.indexOf('\nparams:');
  const message = (paramsAt >= 0 ? `${err.message.slice(0, paramsAt)} [params omitted]` : err.message).slice(0, 1000);
  const cause = err.cause instanceof Error ? describeError(err.cause) : undefined;
  return { name: err.name, message, code: (err as { code?: unknown }).code, ...(cause ? { cause } : {}) };
}

/**
 * The strings to replace in every line. A multi-line secret (a PEM private key, a key file's JSON
 * with its "\n" escapes) reaches a JSON log line with its line breaks escaped or re-wrapped, so
 * each of its lines is scrubbed on its own as well; longest first, so a whole secret goes before
 * its parts.
 */
function scrubList(values: Array<string | undefined>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') continue;
    if (value.length >= 6) out.add(value);
    for (const piece of value.split(/\r?\n|\\n/)) {
      const line = piece.trim();
      if (line.length >= 24 && !line.startsWith('-----')) out.add(line);
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * What the Feishu SDK's own log calls may say, reduced to text without payloads: at debug the
 * long connection logs every event it receives (`…; data: <the event>`), the token manager and
 * HTTP errors carry request bodies, and the connection URL carries a ticket. Objects are left
 * out, a `data:` tail and URL query strings are cut.
 */
export function sdkLogText(args: unknown[]): string {
  return args
    .flat()
    .map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : typeof a === 'number' || typeof a === 'boolean' ? String(a) : ''))
    .filter((s) => s !== '')
    .join(' ')
    .replace(/\bdata: [\s\S]*$/, 'data: [omitted]')
    .replace(/((?:https?|wss?):\/\/[^\s?]+)\?\S*/g, '$1?[omitted]')
    .slice(0, 1000);
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * JSON lines on stderr. Every line is scrubbed of the configured secrets before it is written, so a
 * secret that slips into an error message (an SDK echoing a request, say) still never reaches logs.
 */
export function createLogger(opts: {
  level?: LogLevel;
  secrets?: Array<string | undefined>;
  write?: (line: string) => void;
}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const secrets = scrubList(opts.secrets ?? []);
  const write = opts.write ?? ((line: string) => console.error(line));
  const scrub = (line: string) => secrets.reduce((acc, s) => acc.split(s).join('[redacted]'), line);
  const emit = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const record: LogFields = { t: new Date().toISOString(), level, msg };
    for (const [k, v] of Object.entries(fields ?? {})) {
      record[k] = v instanceof Error ? describeError(v) : v;
    }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ t: record.t, level, msg });
    }
    write(scrub(line));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
