import { z } from 'zod';

/** A zone name that Intl (and so luxon) understands; rejects typos such as "Asia/Shangai". */
const TimeZone = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not an IANA time zone name (e.g. Asia/Shanghai)' },
);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** Duration like "15m", "1h", "30s" or plain seconds; "0"/"off" disables. Result in ms. */
const Duration = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '' || v === '0' || v.toLowerCase() === 'off') return undefined;
    const m = /^(\d+)\s*(ms|s|m|h)?$/.exec(v.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 15m or 1h' });
      return z.NEVER;
    }
    const n = Number(m[1]);
    const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
    return n * mult;
  });

export const ConfigSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8787),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
        .optional(),
    ),
    DATA_DIR: z.string().min(1).default('./.data'),
    FEISHU_APP_ID: optionalString,
    FEISHU_APP_SECRET: optionalString,
    FEISHU_VERIFICATION_TOKEN: optionalString,
    FEISHU_ENCRYPT_KEY: optionalString,
    FEISHU_BASE_URL: z.string().url().default('https://open.feishu.cn'),
    FEISHU_EVENT_MODE: z.enum(['webhook', 'ws']).default('webhook'),
    /** How far a signed request's X-Lark-Request-Timestamp may be from our clock (seconds). */
    FEISHU_TIMESTAMP_TOLERANCE: positiveInt(300),
    GOOGLE_SERVICE_ACCOUNT_JSON: optionalString,
    GOOGLE_SERVICE_ACCOUNT_FILE: optionalString,
    GOOGLE_CALENDAR_BASE_URL: z.string().url().default('https://www.googleapis.com/'),
    DEFAULT_TIMEZONE: TimeZone.default('Asia/Shanghai'),
    ADMIN_TOKEN: optionalString,
    /** Calendar block presentation: a generic title so sensitive leave types are not exposed. */
    CALENDAR_EVENT_TITLE: z.string().min(1).default('Out of office'),
    CALENDAR_DECLINE_MODE: z
      .enum(['declineNone', 'declineAllConflictingInvitations', 'declineOnlyNewConflictingInvitations'])
      .default('declineOnlyNewConflictingInvitations'),
    CALENDAR_DECLINE_MESSAGE: z.string().default('I am on leave and will reply when I am back.'),
    /** Pending requests as tentative holds on the requester's calendar (off by default). */
    CALENDAR_TENTATIVE_HOLDS: z
      .enum(['true', 'false', '1', '0', ''])
      .optional()
      .transform((v) => v === 'true' || v === '1'),
    CALENDAR_HOLD_TITLE: z.string().min(1).default('Leave requested'),
    /** How a hold shows: transparent (free) by default, so it never makes anyone look busy before approval. */
    CALENDAR_HOLD_TRANSPARENCY: z.enum(['transparent', 'opaque']).default('transparent'),
    /** Outbox: attempts before a transiently failing message goes dead. */
    OUTBOX_MAX_ATTEMPTS: positiveInt(12),
    OUTBOX_BATCH_SIZE: positiveInt(16),
    /** 0: `serve` does not drain (an ingest-only process; another process drains) */
    OUTBOX_CONCURRENCY: nonNegativeInt(8),
    OUTBOX_LEASE_SECONDS: positiveInt(60),
    OUTBOX_POLL_MS: positiveInt(1000),
    /** Periodic backfill inside `serve` (off by default), e.g. 1h. Needs BACKFILL_APPROVAL_CODES. */
    BACKFILL_INTERVAL: Duration,
    BACKFILL_APPROVAL_CODES: optionalString,
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    /** HTTP server (serve): all headers of a request within this many ms, the whole request within the next (slowloris). */
    HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000),
    HTTP_REQUEST_TIMEOUT_MS: positiveInt(15_000),
  })
  .superRefine((c, ctx) => {
    if ((c.FEISHU_APP_ID === undefined) !== (c.FEISHU_APP_SECRET === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.FEISHU_APP_ID === undefined ? 'FEISHU_APP_ID' : 'FEISHU_APP_SECRET'],
        message: 'FEISHU_APP_ID and FEISHU_APP_SECRET go together',
      });
    }
    if (c.FEISHU_EVENT_MODE === 'ws' && c.FEISHU_APP_ID === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['FEISHU_APP_ID'],
        message: 'required when FEISHU_EVENT_MODE=ws (the long connection logs in with the app credentials)',
      });
    }
    if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
      // node:http refuses to start with headersTimeout > requestTimeout
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS' });
    }
    if (c.GOOGLE_SERVICE_ACCOUNT_JSON !== undefined && c.GOOGLE_SERVICE_ACCOUNT_FILE !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['GOOGLE_SERVICE_ACCOUNT_FILE'],
        message: 'set GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE, not both',
      });
    }
  });

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parse the environment once at start. Secrets are never echoed: messages name the variable and
 * what is wrong with it, not its value.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = ConfigSchema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`),
  );
}

/** Webhook mode needs a Verification Token: without it anyone could post events. */
export function requireWebhookSecrets(config: Config): void {
  if (config.FEISHU_EVENT_MODE === 'webhook' && config.FEISHU_VERIFICATION_TOKEN === undefined) {
    throw new ConfigError([
      'FEISHU_VERIFICATION_TOKEN: required in webhook mode (Feishu developer console → Events & Callbacks → Encryption Strategy)',
    ]);
  }
}

/** Every configured secret value, for the logger to scrub from whatever it writes. */
export function secretValues(config: Config): Array<string | undefined> {
  return [
    config.FEISHU_APP_SECRET,
    config.FEISHU_ENCRYPT_KEY,
    config.FEISHU_VERIFICATION_TOKEN,
    config.ADMIN_TOKEN,
    config.GOOGLE_SERVICE_ACCOUNT_JSON,
    config.DATABASE_URL ? passwordOf(config.DATABASE_URL) : undefined,
  ];
}

function passwordOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
