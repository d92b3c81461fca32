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

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "15m", "1h", "30d" or plain seconds, in ms; undefined when unset, empty, "0" or "off". */
function parseDuration(v: string | undefined, ctx: z.RefinementCtx): number | undefined {
  if (v === undefined || v.trim() === '' || v.trim() === '0' || v.trim().toLowerCase() === 'off') return undefined;
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 15m, 1h or 30d' });
    return z.NEVER;
  }
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
}

/** A duration that may be switched off ("0"/"off"): ms, or undefined. */
const Duration = z.string().optional().transform(parseDuration);

/** A duration that must be set to something (a default applies when unset): ms > 0. */
const RequiredDuration = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const ms = parseDuration(v === undefined || v.trim() === '' ? fallback : v, ctx);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a positive duration (it cannot be switched off)' });
        return z.NEVER;
      }
      return ms;
    });

const Bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? '').trim().toLowerCase();
      if (t === '') return fallback;
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      ctx.addIssue({ code: 'custom', message: 'expected true or false' });
      return z.NEVER;
    });

/** Comma or whitespace separated ids; unset or empty → []. */
const IdList = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(/[\s,]+/).filter((s) => s !== ''));

/** The admin token guards every admin route: long enough that guessing it is not a plan. */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** What the Feishu SDK's long connection accepts as an app id. */
export const LONG_CONNECTION_APP_ID = /^cli_[0-9a-fA-F]{16}$/;

export const ConfigSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8787),
    /** Address `serve` binds to: 127.0.0.1 keeps it to this machine (behind a local proxy). */
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    /**
     * Where people and Feishu reach the service (https://leave.example.com): the origin admin
     * requests must come from, the OAuth redirect URI, and whether cookies can be Secure.
     */
    PUBLIC_URL: optionalString.pipe(
      z
        .string()
        .url()
        .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http or https URL')
        .refine((u) => new URL(u).pathname.replace(/\/+$/, '') === '' && !new URL(u).search, 'must be an origin without a path (https://leave.example.com)')
        .refine(
          (u) => new URL(u).protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(new URL(u).hostname),
          'must be https (plain http only for localhost): session cookies are Secure',
        )
        .transform((u) => new URL(u).origin)
        .optional(),
    ),
    /** Node only: take the client address from the last X-Forwarded-For hop (a reverse proxy in front). */
    TRUST_PROXY: Bool(false),
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
    /** Refuse to start in webhook mode without FEISHU_ENCRYPT_KEY (unsigned events can be forged). */
    FEISHU_REQUIRE_ENCRYPT_KEY: Bool(false),
    GOOGLE_SERVICE_ACCOUNT_JSON: optionalString,
    GOOGLE_SERVICE_ACCOUNT_FILE: optionalString,
    GOOGLE_CALENDAR_BASE_URL: z.string().url().default('https://www.googleapis.com/'),
    /** Calendar API quota of the Google Cloud project, and of each user acted as (Cloud console → Quotas). */
    GOOGLE_QUOTA_PER_MINUTE: positiveInt(10_000),
    GOOGLE_USER_QUOTA_PER_MINUTE: positiveInt(600),
    /** The part of each quota calendar sync uses (the rest is headroom for other clients of the project). */
    GOOGLE_QUOTA_SHARE: z.coerce.number().gt(0).max(1).default(0.9),
    DEFAULT_TIMEZONE: TimeZone.default('Asia/Shanghai'),
    ADMIN_TOKEN: optionalString.pipe(
      z.string().min(ADMIN_TOKEN_MIN_LENGTH, `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters (e.g. openssl rand -hex 24)`).optional(),
    ),
    /** Feishu sign-in to the dashboard: these user ids (user_id or open_id) may sign in. */
    ADMIN_FEISHU_USERS: IdList,
    /** … and members of these departments (department_id or open_department_id) or their sub-departments. */
    ADMIN_FEISHU_DEPARTMENTS: IdList,
    /** A dashboard session ends this long after sign-in, or after this long unused. */
    SESSION_TTL: RequiredDuration('12h'),
    SESSION_IDLE_TIMEOUT: RequiredDuration('1h'),
    /** Failed authentications per client address within AUTH_FAILURE_WINDOW before 429. */
    AUTH_FAILURE_LIMIT: positiveInt(10),
    AUTH_FAILURE_WINDOW: RequiredDuration('15m'),
    /** Keep what employees wrote as the reason for a leave (often health data). */
    STORE_LEAVE_REASONS: Bool(false),
    /** Raw event payloads are purged this long after receipt (dedupe keys and leaves stay). */
    EVENT_PAYLOAD_RETENTION: RequiredDuration('30d'),
    /** Recorded payroll exports lose their email addresses this long after the export. */
    EXPORT_RETENTION: RequiredDuration('90d'),
    /** Audit entries (who did what, from which address) are deleted this long after. */
    AUDIT_RETENTION: RequiredDuration('365d'),
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
    /** A shared "who's out" calendar (a calendar id), written as GOOGLE_TEAM_CALENDAR_OWNER; off when unset. */
    GOOGLE_TEAM_CALENDAR_ID: optionalString,
    /** The Workspace user the service account acts as (domain-wide delegation) to write the team calendar. */
    GOOGLE_TEAM_CALENDAR_OWNER: optionalString.pipe(z.string().email('must be an email address').optional()),
    /** ICS feeds: how far back and ahead of today their absences reach (days). */
    FEED_WINDOW_PAST_DAYS: nonNegativeInt(30),
    FEED_WINDOW_FUTURE_DAYS: positiveInt(365),
    /** Outbox: attempts before a transiently failing message goes dead. */
    OUTBOX_MAX_ATTEMPTS: positiveInt(12),
    OUTBOX_BATCH_SIZE: positiveInt(16),
    /**
     * The most rows one process runs at once (the drainer adapts below it, src/outbox/aimd.ts). High
     * enough to keep Google's quota busy at its latency: 150 calls a second at 200 ms is 30 in flight.
     * 0: `serve` does not drain (an ingest-only process; another process drains).
     */
    OUTBOX_CONCURRENCY: nonNegativeInt(128),
    OUTBOX_LEASE_SECONDS: positiveInt(60),
    OUTBOX_POLL_MS: positiveInt(1000),
    /** Periodic backfill inside `serve` (off by default), e.g. 1h. Needs BACKFILL_APPROVAL_CODES. */
    BACKFILL_INTERVAL: Duration,
    BACKFILL_APPROVAL_CODES: optionalString,
    /** Feishu People (CoreHR) leave requests as a second source: its process events ring for a sync of the leave API. */
    COREHR_ENABLED: Bool(false),
    /** Periodic CoreHR sync (off by default): `serve`'s loop, or the Worker's minute cron. */
    COREHR_SYNC_INTERVAL: Duration,
    /** How far each incremental sync reaches back before the last watermark (late writes, clock skew). */
    COREHR_SYNC_OVERLAP: RequiredDuration('10m'),
    /** Requests per minute to leave_request_history, shared by every process (Feishu allows 100). */
    COREHR_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).max(100).default(90),
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
    } else if (c.FEISHU_EVENT_MODE === 'ws' && !LONG_CONNECTION_APP_ID.test(c.FEISHU_APP_ID!)) {
      // The SDK's WSClient.start() only logs such an id and never connects.
      ctx.addIssue({ code: 'custom', path: ['FEISHU_APP_ID'], message: 'the long connection needs an app id like cli_0123456789abcdef' });
    }
    if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
      // node:http refuses to start with headersTimeout > requestTimeout
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must not exceed HTTP_REQUEST_TIMEOUT_MS' });
    }
    if (c.ADMIN_FEISHU_USERS.length > 0 || c.ADMIN_FEISHU_DEPARTMENTS.length > 0) {
      const which = c.ADMIN_FEISHU_USERS.length > 0 ? 'ADMIN_FEISHU_USERS' : 'ADMIN_FEISHU_DEPARTMENTS';
      if (c.FEISHU_APP_ID === undefined) {
        ctx.addIssue({ code: 'custom', path: ['FEISHU_APP_ID'], message: `required with ${which} (Feishu sign-in uses the app's credentials)` });
      }
      if (c.PUBLIC_URL === undefined) {
        ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: `required with ${which} (the sign-in's redirect URI is PUBLIC_URL/dashboard/oauth/callback)` });
      }
    }
    if ((c.GOOGLE_TEAM_CALENDAR_ID === undefined) !== (c.GOOGLE_TEAM_CALENDAR_OWNER === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.GOOGLE_TEAM_CALENDAR_ID === undefined ? 'GOOGLE_TEAM_CALENDAR_ID' : 'GOOGLE_TEAM_CALENDAR_OWNER'],
        message: 'GOOGLE_TEAM_CALENDAR_ID and GOOGLE_TEAM_CALENDAR_OWNER go together (the calendar, and the user it is written as)',
      });
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

/**
 * Webhook mode needs a Verification Token: without it anyone could post events. Without an
 * Encrypt Key nothing is signed, so whoever sees one plaintext body (a proxy log, a debug dump)
 * knows the token and can forge events: a warning, or a refusal with FEISHU_REQUIRE_ENCRYPT_KEY.
 */
export function requireWebhookSecrets(config: Config): void {
  if (config.FEISHU_EVENT_MODE !== 'webhook') return;
  const issues: string[] = [];
  if (config.FEISHU_VERIFICATION_TOKEN === undefined) {
    issues.push('FEISHU_VERIFICATION_TOKEN: required in webhook mode (Feishu developer console → Events & Callbacks → Encryption Strategy)');
  }
  if (config.FEISHU_REQUIRE_ENCRYPT_KEY && config.FEISHU_ENCRYPT_KEY === undefined) {
    issues.push('FEISHU_ENCRYPT_KEY: required because FEISHU_REQUIRE_ENCRYPT_KEY=true (developer console → Events & Callbacks → Encryption Strategy → Encrypt Key)');
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** Why the webhook is weaker than it could be, for the start-up log and /readyz; [] when it is not. */
export function webhookWarnings(config: Config): string[] {
  if (config.FEISHU_EVENT_MODE !== 'webhook' || config.FEISHU_ENCRYPT_KEY !== undefined) return [];
  return [
    'FEISHU_ENCRYPT_KEY is not set: webhook events are not signed, so anyone who sees one plaintext event can forge events; set the Encrypt Key (and FEISHU_REQUIRE_ENCRYPT_KEY=true to refuse to start without it)',
  ];
}

/** Dashboard sign-in with Feishu is on: someone may sign in by user or department. */
export const feishuSignInEnabled = (config: Config): boolean =>
  config.ADMIN_FEISHU_USERS.length > 0 || config.ADMIN_FEISHU_DEPARTMENTS.length > 0;

/** The admin surface (/api/*, /dashboard) exists when a token or Feishu sign-in can open it. */
export const adminSurfaceEnabled = (config: Config): boolean => config.ADMIN_TOKEN !== undefined || feishuSignInEnabled(config);

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
