/**
 * A fake Google (OAuth token endpoint + Calendar API v3 events) as a real HTTP server on loopback,
 * for driving the real @googleapis/calendar client and our service-account signer.
 *
 * ```ts
 * const google = await startFakeGoogle({ pageSize: 2 });
 * const port = createGoogleCalendar({ key: google.serviceAccountKey, baseUrl: google.url });
 * // or in env: GOOGLE_SERVICE_ACCOUNT_JSON = google.serviceAccountJson, GOOGLE_CALENDAR_BASE_URL = google.url
 * …
 * await google.close();
 * ```
 *
 * startFakeGoogle(opts?)
 *   opts.pageSize        cap on events per list page (default 250) so paging gets exercised
 *   opts.tokenTtlSeconds expires_in of issued tokens (default 3600)
 *   opts.now             clock (ms) for assertion checks and token expiry (default Date.now)
 *   opts.seed            seed of the random fault choice (default 1)
 *   opts.refuseOutOfOffice  calendars that behave like consumer accounts (see below)
 *   opts.quota           enforce Calendar API quotas: { perMinute? (the project's), userPerMinute? (each
 *                        subject's), windowMs? (default 60,000: calls answered within any window that
 *                        long), answer? ('403', the default: rateLimitExceeded / userRateLimitExceeded;
 *                        or '429'), retryAfterS? (sent as Retry-After with a refusal) }. A refused call
 *                        is logged with fault 'quota:project' or 'quota:user' and does not count.
 *
 * What it returns (FakeGoogle):
 *   url                  Calendar root URL (GOOGLE_CALENDAR_BASE_URL), e.g. http://127.0.0.1:5555/
 *   tokenUri             `${url}token`; the generated key's token_uri points here
 *   serviceAccountKey    a service-account key object (fresh RSA-2048 pair made at start)
 *   serviceAccountJson   the same as JSON text (what GOOGLE_SERVICE_ACCOUNT_JSON holds)
 *   events(calendarId)   deep copies of all events of a calendar, cancelled ones included, by id
 *   event(calendarId,id) one event (copy) or undefined
 *   calls                log of every request: { seq, op, method, path, calendarId, eventId, subject,
 *                        status (number | 'hang' | 'reset'), fault, committed }; `committed` = Google
 *                        carried the request out (2xx inside), even if its response was then failed
 *   faults.add(rule)     fail matching requests: { op?, calendarId?, eventId?, subject?, fault,
 *                        when?: 'before' | 'after' (apply the write, then fail the response),
 *                        times?: number (default 1; Infinity = until faults.clear()) }
 *   faults.random(o)     { rate 0..1, kinds?, ops? (default all calendar ops), afterCommitShare?
 *                        (default 0.5) } or null to stop; choices come from the seeded generator
 *   faults.latencyMs     added to every request before it is handled
 *   faults.clear()       drop rules, random faults and latency
 *   refuseOutOfOffice(calendarId, on = true)  outOfOffice inserts there get 400 eventTypeRestriction
 *   share(calendarId, subject)  that user may also write the calendar (a shared team calendar)
 *   denySubject(email)   token requests for that subject get 400 invalid_grant (not in the domain)
 *   withholdDelegation(on = true)  token requests acting as a user (`sub`) get 401 unauthorized_client,
 *                        as when the Admin console grants the client ID no domain-wide delegation
 *   foreignKey()         a well-formed key of another project's service account whose token_uri is
 *                        this fake: its grants answer 400 invalid_grant "Invalid JWT Signature."
 *   revokeTokens()       every issued token becomes invalid (calendar calls answer 401)
 *   putEvent / alterEvent / cancelEvent / purgeEvent   change state behind the connector's back
 *   close()              stops the server and drops hung connections
 *
 * Fault kinds: 'http500', 'http503', 'http429', 'rateLimitExceeded' (403 usageLimits),
 * 'userRateLimitExceeded' (403), 'hang' (never answers: longer than any client timeout), 'reset'
 * (destroys the connection), or a custom { status, body } (see googleError / tokenError).
 *
 * Google behaviour modelled (Calendar API reference, "Handle API errors" guide,
 * https://developers.google.com/calendar/api/v3/reference/events):
 * client ids must be base32hex 5..1024 (else 400 invalid); insert of an existing id → 409 duplicate,
 * cancelled ones included; delete → status "cancelled" (kept), delete again → 410 deleted, unknown →
 * 404 notFound; get returns cancelled events; patch merges objects, update replaces; eventType never
 * changes; outOfOffice needs timed start/end and outOfOfficeProperties; list filters
 * privateExtendedProperty (all must match), timeMin/timeMax (overlap), showDeleted (default false),
 * pages with nextPageToken; responses omit transparency when it is "opaque". Tokens are per subject:
 * a token's sub must equal the calendarId it accesses (else 403), as with domain-wide delegation,
 * unless the calendar was shared with that user (share()).
 */
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Op = 'token' | 'insert' | 'get' | 'update' | 'patch' | 'delete' | 'list';
export type FaultKind = 'http500' | 'http503' | 'http429' | 'rateLimitExceeded' | 'userRateLimitExceeded' | 'hang' | 'reset';
export interface CustomFault {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
export type Fault = FaultKind | CustomFault;

export interface FaultRule {
  op?: Op | Op[];
  calendarId?: string;
  eventId?: string;
  subject?: string;
  fault: Fault;
  when?: 'before' | 'after';
  times?: number;
}

export interface RandomFaults {
  rate: number;
  kinds?: FaultKind[];
  ops?: Op[];
  afterCommitShare?: number;
}

export interface CallRecord {
  seq: number;
  op: Op | 'unknown';
  method: string;
  path: string;
  calendarId?: string;
  eventId?: string;
  subject?: string;
  status: number | 'hang' | 'reset';
  fault?: string;
  committed: boolean;
}

export interface FakeGoogleOptions {
  pageSize?: number;
  tokenTtlSeconds?: number;
  now?: () => number;
  seed?: number;
  refuseOutOfOffice?: string[];
  quota?: QuotaRules;
}

export interface QuotaRules {
  perMinute?: number;
  userPerMinute?: number;
  windowMs?: number;
  answer?: '403' | '429';
  retryAfterS?: number;
}

export interface ServiceAccountKeyJson {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
}

export type FakeEvent = Record<string, unknown> & { id: string; status: string; eventType: string };

export interface FakeGoogle {
  url: string;
  tokenUri: string;
  serviceAccountKey: ServiceAccountKeyJson;
  serviceAccountJson: string;
  events(calendarId: string): FakeEvent[];
  event(calendarId: string, eventId: string): FakeEvent | undefined;
  calls: CallRecord[];
  /**
   * Checked on every write: no calendar may hold two confirmed events of one block of one record
   * (a tentative hold and the out-of-office block that replaces it included). Each breach is
   * recorded here, with the write that caused it; tests expect it empty.
   */
  violations: string[];
  faults: {
    add(rule: FaultRule): void;
    random(opts: RandomFaults | null): void;
    latencyMs: number;
    clear(): void;
  };
  refuseOutOfOffice(calendarId: string, on?: boolean): void;
  share(calendarId: string, subject: string): void;
  denySubject(email: string): void;
  withholdDelegation(on?: boolean): void;
  foreignKey(): ServiceAccountKeyJson;
  revokeTokens(): void;
  /** insert or overwrite an event without validation (another app's event, say) */
  putEvent(calendarId: string, event: Partial<FakeEvent> & { id: string }): void;
  /** deep-merge fields into an event, as a user editing it in the UI would */
  alterEvent(calendarId: string, eventId: string, fields: Record<string, unknown>): void;
  /** as if the user deleted it in the UI: status "cancelled" */
  cancelEvent(calendarId: string, eventId: string): void;
  /** gone entirely (get → 404) */
  purgeEvent(calendarId: string, eventId: string): void;
  close(): Promise<void>;
}

/** A Calendar-API-shaped error body (the "Handle API errors" guide's JSON). */
export function googleError(status: number, reason: string, message: string, domain = 'global'): CustomFault {
  return { status, body: { error: { errors: [{ domain, reason, message }], code: status, message } } };
}

/** An OAuth token-endpoint error body. */
export function tokenError(status: number, error: string, description: string): CustomFault {
  return { status, body: { error, error_description: description } };
}

const ID_RULE = /^[a-v0-9]{5,1024}$/;
const CALENDAR_OPS: Op[] = ['insert', 'get', 'update', 'patch', 'delete', 'list'];
const ALL_KINDS: FaultKind[] = ['http500', 'http503', 'http429', 'rateLimitExceeded', 'userRateLimitExceeded', 'hang', 'reset'];
const DECLINE_MODES = new Set(['declineNone', 'declineAllConflictingInvitations', 'declineOnlyNewConflictingInvitations']);
const SCOPES_OK = ['https://www.googleapis.com/auth/calendar', 'https://www.googleapis.com/auth/calendar.events'];

const FAULT_RESPONSES: Record<Exclude<FaultKind, 'hang' | 'reset'>, CustomFault> = {
  http500: googleError(500, 'backendError', 'Backend Error'),
  http503: googleError(503, 'backendError', 'The service is currently unavailable.'),
  http429: googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'),
  rateLimitExceeded: googleError(403, 'rateLimitExceeded', 'Rate Limit Exceeded', 'usageLimits'),
  userRateLimitExceeded: googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded', 'usageLimits'),
};

/** mulberry32: small, seedable, good enough to pick faults reproducibly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = <T>(v: T): T => structuredClone(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = deepMerge(out[k] as Record<string, unknown>, v);
    else out[k] = clone(v);
  }
  return out;
}

function b64urlJson(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

const randomId = () => {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  return Array.from(randomBytes(26), (b) => alphabet[b & 31]).join('');
};

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Issued {
  sub: string | undefined;
  scope: string;
  expiresAt: number;
}

export async function startFakeGoogle(opts: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const now = opts.now ?? Date.now;
  const ttl = opts.tokenTtlSeconds ?? 3600;
  const pageSize = opts.pageSize ?? 250;
  const rng = seeded(opts.seed ?? 1);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clientEmail = 'leave-bridge@fake-project.iam.gserviceaccount.com';

  const calendars = new Map<string, Map<string, FakeEvent>>();
  const tokens = new Map<string, Issued>();
  const refused = new Set(opts.refuseOutOfOffice ?? []);
  const denied = new Set<string>();
  let delegation = true;
  const calls: CallRecord[] = [];
  let rules: Array<FaultRule & { left: number }> = [];
  let random: RandomFaults | null = null;
  let seq = 0;
  const hung = new Set<ServerResponse>();

  const store = (calendarId: string) => {
    let m = calendars.get(calendarId);
    if (!m) calendars.set(calendarId, (m = new Map()));
    return m;
  };

  const err = (status: number, reason: string, message: string, domain = 'global'): Reply => {
    const { body } = googleError(status, reason, message, domain);
    return { status, body };
  };

  /** How the real API serialises an event: opaque transparency is the default and left out. */
  const present = (event: FakeEvent): Record<string, unknown> => {
    const out: Record<string, unknown> = clone(event);
    if (out.transparency === 'opaque') delete out.transparency;
    return out;
  };

  function when(t: unknown): { ms: number; allDay: boolean } | null {
    if (!isObject(t)) return null;
    const text = typeof t.dateTime === 'string' ? t.dateTime : typeof t.date === 'string' ? t.date : null;
    if (text === null) return null;
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : { ms, allDay: typeof t.dateTime !== 'string' };
  }

  function validate(calendarId: string, event: Record<string, unknown>, isNew: boolean): Reply | null {
    const start = when(event.start);
    const end = when(event.end);
    if (!start) return err(400, 'required', 'Missing start time.');
    if (!end) return err(400, 'required', 'Missing end time.');
    if (end.ms < start.ms) return err(400, 'timeRangeEmpty', 'The specified time range is empty.', 'calendar');
    const type = event.eventType ?? 'default';
    if (!['default', 'outOfOffice', 'focusTime', 'workingLocation', 'fromGmail', 'birthday'].includes(String(type))) {
      return err(400, 'invalid', `Invalid event type: ${String(type)}`);
    }
    if (type === 'outOfOffice') {
      if (isNew && refused.has(calendarId)) {
        return err(
          400,
          'eventTypeRestriction',
          'Out of office events can only be created on primary calendars of Google Workspace users.',
          'calendar',
        );
      }
      if (start.allDay || end.allDay) return err(400, 'invalid', 'Out of office events cannot be all-day events.');
      const props = event.outOfOfficeProperties;
      if (!isObject(props)) return err(400, 'required', 'An outOfOfficeProperties parameter must be supplied for an outOfOffice event.');
      if (props.autoDeclineMode !== undefined && !DECLINE_MODES.has(String(props.autoDeclineMode))) {
        return err(400, 'invalid', 'Invalid autoDeclineMode value.');
      }
    } else if (event.outOfOfficeProperties !== undefined) {
      return err(400, 'invalid', 'outOfOfficeProperties requires an event type of outOfOffice.');
    }
    const priv = isObject(event.extendedProperties) ? event.extendedProperties.private : undefined;
    if (priv !== undefined && (!isObject(priv) || Object.values(priv).some((v) => typeof v !== 'string'))) {
      return err(400, 'invalid', 'Invalid extended property value.');
    }
    return null;
  }

  let revision = 0;
  const stamp = (event: Record<string, unknown>) => {
    event.updated = new Date(now()).toISOString();
    event.etag = `"${++revision}"`;
  };

  // ---- calendar operations ----------------------------------------------------------------------

  const violations: string[] = [];
  /** calendars shared with users other than their owner */
  const shared = new Map<string, Set<string>>();
  /** the block an event stands for: a hold `hold:<key>` (or `hold`) or a plain event `plain:<key>` (or `plain`) stands for block `<key>` (or '') */
  const blockOf = (e: FakeEvent): string | null => {
    const priv = isObject(e.extendedProperties) && isObject(e.extendedProperties.private) ? e.extendedProperties.private : null;
    if (!priv || typeof priv.instanceCode !== 'string') return null;
    const key = typeof priv.blockKey === 'string' ? priv.blockKey.replace(/^(hold|plain)(:|$)/, '') : '';
    return `${priv.instanceCode} ${key}`;
  };
  function assertOneEventPerBlock(calendarId: string, written: FakeEvent, op: string): void {
    const mine = blockOf(written);
    if (mine === null || written.status === 'cancelled') return;
    const same = [...store(calendarId).values()].filter((e) => e.status !== 'cancelled' && blockOf(e) === mine);
    if (same.length > 1) violations.push(`${op} ${written.id} on ${calendarId}: ${same.length} events of block "${mine}" at once (${same.map((e) => e.id).join(', ')})`);
  }

  function insert(calendarId: string, body: Record<string, unknown>): Reply {
    const id = body.id === undefined ? randomId() : body.id;
    if (typeof id !== 'string' || !ID_RULE.test(id)) return err(400, 'invalid', 'Invalid resource id value.');
    const problem = validate(calendarId, body, true);
    if (problem) return problem;
    const events = store(calendarId);
    if (events.has(id)) return err(409, 'duplicate', 'The requested identifier already exists.');
    const event: FakeEvent = {
      ...clone(body),
      kind: 'calendar#event',
      id,
      status: typeof body.status === 'string' ? body.status : 'confirmed',
      eventType: typeof body.eventType === 'string' ? body.eventType : 'default',
      created: new Date(now()).toISOString(),
      iCalUID: `${id}@google.com`,
      sequence: 0,
      creator: { email: calendarId, self: true },
      organizer: { email: calendarId, self: true },
    };
    stamp(event);
    events.set(id, event);
    assertOneEventPerBlock(calendarId, event, 'insert');
    return { status: 200, body: present(event) };
  }

  function getEvent(calendarId: string, eventId: string): Reply {
    const event = store(calendarId).get(eventId);
    return event ? { status: 200, body: present(event) } : err(404, 'notFound', 'Not Found');
  }

  function modify(calendarId: string, eventId: string, body: Record<string, unknown>, mode: 'update' | 'patch'): Reply {
    const events = store(calendarId);
    const existing = events.get(eventId);
    if (!existing) return err(404, 'notFound', 'Not Found');
    if (body.eventType !== undefined && body.eventType !== existing.eventType) {
      return err(400, 'invalid', 'The event type cannot be changed.');
    }
    const system = {
      kind: existing.kind,
      id: existing.id,
      created: existing.created,
      iCalUID: existing.iCalUID,
      creator: existing.creator,
      organizer: existing.organizer,
      eventType: existing.eventType,
    };
    const next = (
      mode === 'patch'
        ? { ...deepMerge(existing, body), ...system }
        : { ...clone(body), ...system, status: typeof body.status === 'string' ? body.status : 'confirmed' }
    ) as FakeEvent;
    next.sequence = Number(existing.sequence ?? 0) + 1;
    const problem = validate(calendarId, next, false);
    if (problem) return problem;
    stamp(next);
    events.set(eventId, next);
    assertOneEventPerBlock(calendarId, next, mode);
    return { status: 200, body: present(next) };
  }

  function remove(calendarId: string, eventId: string): Reply {
    const event = store(calendarId).get(eventId);
    if (!event) return err(404, 'notFound', 'Not Found');
    if (event.status === 'cancelled') return err(410, 'deleted', 'Resource has been deleted');
    event.status = 'cancelled';
    stamp(event);
    return { status: 204 };
  }

  function list(calendarId: string, q: URLSearchParams): Reply {
    const timeMin = q.get('timeMin') ? Date.parse(q.get('timeMin')!) : undefined;
    const timeMax = q.get('timeMax') ? Date.parse(q.get('timeMax')!) : undefined;
    if (Number.isNaN(timeMin) || Number.isNaN(timeMax)) return err(400, 'badRequest', 'Bad Request');
    if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) {
      return err(400, 'timeRangeEmpty', 'The specified time range is empty.', 'calendar');
    }
    const filters = q.getAll('privateExtendedProperty').map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
    });
    const showDeleted = q.get('showDeleted') === 'true';
    const maxResults = Math.min(Number(q.get('maxResults') ?? 250) || 250, 2500, pageSize);
    // The page token pins the query it belongs to, as Google's does.
    const fingerprint = JSON.stringify([timeMin, timeMax, filters, showDeleted]);
    let offset = 0;
    const token = q.get('pageToken');
    if (token) {
      const parsed = b64urlJson(token);
      if (!parsed || parsed.q !== fingerprint || typeof parsed.offset !== 'number') {
        return err(400, 'invalid', 'Invalid page token value.');
      }
      offset = parsed.offset;
    }
    const matching = [...store(calendarId).values()]
      .filter((e) => showDeleted || e.status !== 'cancelled')
      .filter((e) => {
        const priv = isObject(e.extendedProperties) && isObject(e.extendedProperties.private) ? e.extendedProperties.private : {};
        return filters.every(([k, v]) => priv[k!] === v);
      })
      .filter((e) => {
        const s = when(e.start)?.ms;
        const en = when(e.end)?.ms;
        if (s === undefined || en === undefined) return false;
        return (timeMin === undefined || en > timeMin) && (timeMax === undefined || s < timeMax);
      })
      .sort((a, b) => (when(a.start)?.ms ?? 0) - (when(b.start)?.ms ?? 0) || a.id.localeCompare(b.id));
    const page = matching.slice(offset, offset + maxResults);
    const body: Record<string, unknown> = {
      kind: 'calendar#events',
      summary: calendarId,
      timeZone: 'UTC',
      items: page.map(present),
    };
    if (offset + maxResults < matching.length) {
      body.nextPageToken = Buffer.from(JSON.stringify({ offset: offset + maxResults, q: fingerprint })).toString('base64url');
    }
    return { status: 200, body };
  }

  // ---- token endpoint -----------------------------------------------------------------------------

  function issueToken(form: URLSearchParams): Reply {
    const oauth = (status: number, error: string, description: string): Reply => ({
      status,
      body: { error, error_description: description },
    });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return oauth(400, 'unsupported_grant_type', 'Invalid grant_type: ' + (form.get('grant_type') ?? ''));
    }
    const parts = (form.get('assertion') ?? '').split('.');
    const [h, p, s] = parts;
    const header = parts.length === 3 ? b64urlJson(h!) : null;
    const claims = parts.length === 3 ? b64urlJson(p!) : null;
    if (!header || !claims || header.alg !== 'RS256') return oauth(400, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s!, 'base64url'));
    if (!ok) return oauth(400, 'invalid_grant', 'Invalid JWT Signature.');
    if (claims.iss !== clientEmail) return oauth(400, 'invalid_grant', 'Invalid grant: account not found');
    if (claims.aud !== tokenUri) return oauth(400, 'invalid_grant', 'Invalid JWT: Failed audience check.');
    const nowS = now() / 1000;
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (!(iat <= nowS + 300 && exp >= nowS - 300 && exp - iat <= 3600 && exp > iat)) {
      return oauth(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const scope = String(claims.scope ?? '');
    if (!scope.split(' ').some((x) => SCOPES_OK.includes(x))) {
      return oauth(
        401,
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      );
    }
    const sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    if (sub !== undefined && !delegation) {
      return oauth(
        401,
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      );
    }
    if (sub !== undefined && denied.has(sub)) return oauth(400, 'invalid_grant', 'Invalid email or User ID');
    const token = `ya29.fake-${randomBytes(18).toString('base64url')}`;
    tokens.set(token, { sub, scope, expiresAt: now() + ttl * 1000 });
    return { status: 200, body: { access_token: token, expires_in: ttl, token_type: 'Bearer' } };
  }

  // ---- request plumbing -----------------------------------------------------------------------------

  interface Parsed {
    op: Op | 'unknown';
    calendarId?: string;
    eventId?: string;
    subject?: string;
    run: () => Reply;
  }

  function parse(req: IncomingMessage, url: URL, raw: string): Parsed {
    const method = req.method ?? 'GET';
    if (url.pathname === '/token' && method === 'POST') {
      const form = new URLSearchParams(raw);
      const claims = b64urlJson((form.get('assertion') ?? '').split('.')[1] ?? '');
      const subject = typeof claims?.sub === 'string' ? claims.sub : undefined;
      return { op: 'token', subject, run: () => issueToken(form) };
    }
    const m = /^\/calendar\/v3\/calendars\/([^/]+)\/events(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return { op: 'unknown', run: () => err(404, 'notFound', 'Not Found') };
    const calendarId = decodeURIComponent(m[1]!);
    const eventId = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const op: Op | 'unknown' =
      eventId === undefined
        ? method === 'POST'
          ? 'insert'
          : method === 'GET'
            ? 'list'
            : 'unknown'
        : ({ GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, Op>)[method] ?? 'unknown';
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const issued = bearer ? tokens.get(bearer) : undefined;
    const subject = issued?.sub;
    const run = (): Reply => {
      if (!issued || issued.expiresAt <= now()) return err(401, 'authError', 'Invalid Credentials');
      if (subject !== calendarId && !(subject !== undefined && shared.get(calendarId)?.has(subject))) return err(403, 'forbidden', `Not allowed to access calendar ${calendarId}`);
      let body: Record<string, unknown> = {};
      if (op === 'insert' || op === 'update' || op === 'patch') {
        try {
          const v: unknown = JSON.parse(raw || '{}');
          if (!isObject(v)) return err(400, 'parseError', 'Parse Error');
          body = v;
        } catch {
          return err(400, 'parseError', 'Parse Error');
        }
      }
      switch (op) {
        case 'insert':
          return insert(calendarId, body);
        case 'list':
          return list(calendarId, url.searchParams);
        case 'get':
          return getEvent(calendarId, eventId!);
        case 'update':
          return modify(calendarId, eventId!, body, 'update');
        case 'patch':
          return modify(calendarId, eventId!, body, 'patch');
        case 'delete':
          return remove(calendarId, eventId!);
        default:
          return err(404, 'notFound', 'Not Found');
      }
    };
    return { op, calendarId, eventId, subject, run };
  }

  function pickFault(p: Parsed): { fault: Fault; after: boolean } | null {
    for (const rule of rules) {
      if (rule.left <= 0) continue;
      const ops = rule.op === undefined ? undefined : Array.isArray(rule.op) ? rule.op : [rule.op];
      if (ops && !ops.includes(p.op as Op)) continue;
      if (rule.calendarId !== undefined && rule.calendarId !== p.calendarId) continue;
      if (rule.eventId !== undefined && rule.eventId !== p.eventId) continue;
      if (rule.subject !== undefined && rule.subject !== p.subject) continue;
      rule.left--;
      return { fault: rule.fault, after: rule.when === 'after' };
    }
    if (random && (random.ops ?? CALENDAR_OPS).includes(p.op as Op) && rng() < random.rate) {
      const kinds = random.kinds ?? ALL_KINDS;
      const kind = kinds[Math.floor(rng() * kinds.length)]!;
      return { fault: kind, after: rng() < (random.afterCommitShare ?? 0.5) };
    }
    return null;
  }

  const send = (res: ServerResponse, reply: Reply) => {
    if (reply.body === undefined) {
      res.writeHead(reply.status, reply.headers ?? {}).end();
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8', ...reply.headers }).end(JSON.stringify(reply.body));
  };

  // Calls answered within the last window, per quota (a sliding window: the strictest reading of
  // "per minute").
  const quota = opts.quota;
  const answered = new Map<string, number[]>();
  function overQuota(p: Parsed): { scope: 'project' | 'user'; reply: Reply } | null {
    if (!quota || !CALENDAR_OPS.includes(p.op as Op)) return null;
    const windowMs = quota.windowMs ?? 60_000;
    const t = now();
    const recent = (key: string) => {
      let list = answered.get(key);
      if (!list) answered.set(key, (list = []));
      let drop = 0;
      while (drop < list.length && list[drop]! <= t - windowMs) drop++;
      if (drop > 0) list.splice(0, drop);
      return list;
    };
    const project = recent('project');
    const user = recent(`user:${p.subject ?? ''}`);
    let scope: 'project' | 'user' | null = null;
    if (quota.perMinute !== undefined && project.length >= quota.perMinute) scope = 'project';
    else if (quota.userPerMinute !== undefined && user.length >= quota.userPerMinute) scope = 'user';
    if (scope === null) {
      project.push(t);
      user.push(t);
      return null;
    }
    const headers: Record<string, string> = quota.retryAfterS !== undefined ? { 'retry-after': String(quota.retryAfterS) } : {};
    const reason = scope === 'project' ? 'rateLimitExceeded' : 'userRateLimitExceeded';
    const status = quota.answer === '429' ? 429 : 403;
    const { body } = googleError(status, reason, scope === 'project' ? 'Rate Limit Exceeded' : 'User Rate Limit Exceeded', 'usageLimits');
    return { scope, reply: { status, body, headers } };
  }

  const faults = {
    latencyMs: 0,
    add(rule: FaultRule) {
      rules.push({ ...rule, left: rule.times ?? 1 });
    },
    random(o: RandomFaults | null) {
      random = o;
    },
    clear() {
      rules = [];
      random = null;
      faults.latencyMs = 0;
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = parse(req, url, raw);
    const record: CallRecord = {
      seq: ++seq,
      op: p.op,
      method: req.method ?? 'GET',
      path: url.pathname,
      calendarId: p.calendarId,
      eventId: p.eventId,
      subject: p.subject,
      status: 0,
      committed: false,
    };
    calls.push(record);
    const refusal = overQuota(p);
    if (refusal) {
      record.fault = `quota:${refusal.scope}`;
      record.status = refusal.reply.status;
      send(res, refusal.reply);
      return;
    }
    const chosen = pickFault(p);
    if (!chosen) {
      const reply = p.run();
      record.committed = reply.status < 300;
      record.status = reply.status;
      send(res, reply);
      return;
    }
    // "after": Google applied the request, then the answer was lost (500 after commit, hang, reset).
    if (chosen.after) record.committed = p.run().status < 300;
    const { fault } = chosen;
    record.fault = typeof fault === 'string' ? fault : `custom ${fault.status}`;
    if (fault === 'hang') {
      record.status = 'hang';
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    if (fault === 'reset') {
      record.status = 'reset';
      req.socket.destroy();
      return;
    }
    const reply = typeof fault === 'string' ? FAULT_RESPONSES[fault] : fault;
    record.status = reply.status;
    send(res, { status: reply.status, body: reply.body, ...(reply.headers ? { headers: reply.headers } : {}) });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, err(500, 'backendError', `fake google crashed: ${(e as Error).message}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/`;
  const tokenUri = `${url}token`;
  const serviceAccountKey: ServiceAccountKeyJson = {
    type: 'service_account',
    project_id: 'fake-project',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
  };

  return {
    url,
    tokenUri,
    serviceAccountKey,
    serviceAccountJson: JSON.stringify(serviceAccountKey),
    calls,
    violations,
    faults,
    events: (calendarId) => [...store(calendarId).values()].map(clone).sort((a, b) => a.id.localeCompare(b.id)),
    event: (calendarId, eventId) => {
      const e = store(calendarId).get(eventId);
      return e ? clone(e) : undefined;
    },
    share(calendarId, subject) {
      shared.set(calendarId, new Set([...(shared.get(calendarId) ?? []), subject]));
    },
    refuseOutOfOffice(calendarId, on = true) {
      if (on) refused.add(calendarId);
      else refused.delete(calendarId);
    },
    denySubject(email) {
      denied.add(email);
    },
    withholdDelegation(on = true) {
      delegation = !on;
    },
    foreignKey() {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      return {
        ...serviceAccountKey,
        project_id: 'another-project',
        private_key_id: randomBytes(20).toString('hex'),
        private_key: other.privateKey,
        client_email: 'leave-bridge@another-project.iam.gserviceaccount.com',
        client_id: '200000000000000000002',
      };
    },
    revokeTokens() {
      tokens.clear();
    },
    putEvent(calendarId, event) {
      const full = { status: 'confirmed', eventType: 'default', kind: 'calendar#event', ...clone(event) } as FakeEvent;
      stamp(full);
      store(calendarId).set(event.id, full);
    },
    alterEvent(calendarId, eventId, fields) {
      const e = store(calendarId).get(eventId);
      if (!e) throw new Error(`fake google: no event ${eventId} on ${calendarId}`);
      const next = deepMerge(e, fields) as FakeEvent;
      stamp(next);
      store(calendarId).set(eventId, next);
    },
    cancelEvent(calendarId, eventId) {
      const e = store(calendarId).get(eventId);
      if (!e) throw new Error(`fake google: no event ${eventId} on ${calendarId}`);
      e.status = 'cancelled';
      stamp(e);
    },
    purgeEvent(calendarId, eventId) {
      store(calendarId).delete(eventId);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const res of hung) res.destroy();
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
