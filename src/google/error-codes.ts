/**
 * Google token-endpoint and Calendar API failures whose cause is known, each with what a person
 * does about it and the page that documents it. Used where a failure is shown to a person
 * (`leave-bridge doctor`); the outbox's retry classification is in calendar-errors.ts and auth.ts.
 */
import { ExternalError, type Explanation } from '../ports.js';
import { CALENDAR_EVENTS_SCOPE } from './auth.js';

/** What a sentence may name: the service account's numeric client id, the user acted as. */
export interface GoogleContext {
  clientId?: string;
  subject?: string;
}

const SERVICE_ACCOUNT_ERRORS = 'https://developers.google.com/identity/protocols/oauth2/service-account#error-codes';
const DELEGATION = 'https://support.google.com/a/answer/162106';
const CALENDAR_ERRORS = 'https://developers.google.com/workspace/calendar/api/guides/errors';
const EVENT_TYPES = 'https://developers.google.com/workspace/calendar/api/guides/event-types';
const ENABLE_API = 'https://console.cloud.google.com/apis/library/calendar-json.googleapis.com';

const delegationFix = (c: GoogleContext) =>
  `Google Admin console → Security → Access and data control → API controls → Manage domain-wide delegation: add client ID ${c.clientId ?? '(client_id in the key file: the number, not the email)'} with scope ${CALENDAR_EVENTS_SCOPE}; it can take some minutes to apply`;
const NEW_KEY_FIX =
  'Google Cloud console → IAM & Admin → Service accounts → the account → Keys: add a JSON key and set GOOGLE_SERVICE_ACCOUNT_JSON (its contents) or GOOGLE_SERVICE_ACCOUNT_FILE (its path)';

interface Failure {
  status: number | undefined;
  /** the OAuth `error` of the token endpoint, or the Calendar API's reason */
  reason: string;
  /** the whole message: Google's description is part of it */
  text: string;
}

const TABLE: Array<{ match: (f: Failure) => boolean; explain: (c: GoogleContext) => Explanation }> = [
  {
    match: (f) => f.reason === 'unauthorized_client',
    explain: (c) => ({
      cause: `domain-wide delegation is not granted to this service account's client ID for ${CALENDAR_EVENTS_SCOPE} (or it was granted by the account's email instead of its numeric client ID)`,
      fix: delegationFix(c),
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'access_denied',
    explain: (c) => ({ cause: `the delegation granted to this client ID does not include ${CALENDAR_EVENTS_SCOPE}`, fix: delegationFix(c), source: DELEGATION }),
  },
  {
    match: (f) => f.reason === 'admin_policy_enforced',
    explain: (c) => ({
      cause: `a policy of ${c.subject ?? 'the user'}'s Workspace administrator forbids this scope for them`,
      fix: 'ask the Workspace administrator to allow the Calendar API for the service account (Admin console → Security → API controls)',
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'invalid_grant' && /invalid email|user id|not a valid email/i.test(f.text),
    explain: (c) => ({
      cause: `Google has no user ${c.subject ?? '(the subject)'} in a Workspace domain that granted the delegation (a consumer account, a typo, or another domain)`,
      fix: 'act as (--as) and sync people of the Workspace domain whose administrator granted the delegation; an employee\'s address comes from Feishu or from `leave-bridge employee set`',
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'invalid_grant' && /short-lived|timeframe|\biat\b|\bexp\b|clock/i.test(f.text),
    explain: () => ({
      cause: "this machine's clock is off: Google refuses assertions issued too far from its time",
      fix: 'synchronise the clock (NTP, e.g. systemd-timesyncd or chrony) and run again',
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'invalid_grant' && /signature/i.test(f.text),
    explain: () => ({
      cause: 'the key is not a current key of the service account it names: deleted, disabled, expired, or a key of another account or project',
      fix: NEW_KEY_FIX,
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'invalid_grant' && /account not found/i.test(f.text),
    explain: () => ({ cause: "the service account the key names (client_email) does not exist: deleted, or the key's project is another one", fix: NEW_KEY_FIX, source: SERVICE_ACCOUNT_ERRORS }),
  },
  {
    match: (f) => f.reason === 'invalid_grant',
    explain: (c) => ({
      cause: `Google refused the grant: ${c.subject ?? 'the user'} is not in the delegating domain, the clock is off, or the key was revoked`,
      fix: `check the address, the clock, and the key; ${NEW_KEY_FIX}`,
      source: SERVICE_ACCOUNT_ERRORS,
    }),
  },
  {
    match: (f) => f.reason === 'invalid_client' || f.reason === 'disabled_client',
    explain: () => ({ cause: "Google does not accept the key's client: the service account or its key is deleted or disabled", fix: NEW_KEY_FIX, source: SERVICE_ACCOUNT_ERRORS }),
  },
  {
    match: (f) => f.status === 403 && f.reason === 'forbiddenForServiceAccounts',
    explain: (c) => ({
      cause: 'Google took the call as the service account itself rather than as the user: domain-wide delegation is not in effect for it',
      fix: delegationFix(c),
      source: CALENDAR_ERRORS,
    }),
  },
  {
    match: (f) => f.status === 403 && /^(accessNotConfigured|SERVICE_DISABLED)$/i.test(f.reason),
    explain: () => ({
      cause: "the Google Calendar API is not enabled in the service account's project",
      fix: `enable it: ${ENABLE_API} (pick the key's project)`,
      source: CALENDAR_ERRORS,
    }),
  },
  {
    match: (f) => f.status === 403 && /^insufficientPermissions$/i.test(f.reason),
    explain: (c) => ({ cause: `the token does not carry ${CALENDAR_EVENTS_SCOPE}`, fix: delegationFix(c), source: DELEGATION }),
  },
  {
    match: (f) => f.status === 404,
    explain: (c) => ({
      cause: `Google has no calendar ${c.subject ?? '(the subject)'}: the user does not exist in Google Workspace, or has no Calendar service`,
      fix: "use the person's primary Google Workspace address (their calendar id is their email)",
      source: CALENDAR_ERRORS,
    }),
  },
  {
    match: (f) => f.status === 401,
    explain: () => ({ cause: 'Google refused the access token it had just issued (the key was revoked meanwhile)', fix: NEW_KEY_FIX, source: CALENDAR_ERRORS }),
  },
];

/** The explanation of a failed token request or Calendar call, or null when its cause is not known here. */
export function explainGoogleError(err: unknown, context: GoogleContext = {}): Explanation | null {
  if (!(err instanceof ExternalError)) return null;
  const failure: Failure = { status: err.status, reason: err.reason ?? '', text: err.message };
  return TABLE.find((row) => row.match(failure))?.explain(context) ?? null;
}

/** Google refused an out-of-office event: the account cannot have them. */
export function outOfOfficeRefused(detail: string): Explanation {
  return {
    cause: `Google refused an out-of-office event (${detail}): a consumer Google account, or a calendar that is not a Workspace user's primary one`,
    fix: 'sync Google Workspace accounts; for accounts like this one, leave-bridge places an opaque default event instead and the reconciliation report says so',
    source: EVENT_TYPES,
  };
}
