import { ConfigError, type Config } from '../../config.js';
import { CALENDAR_EVENTS_SCOPE, createServiceAccountAuth, loadServiceAccountKey, type ServiceAccountKey } from '../../google/auth.js';
import { explainGoogleError, outOfOfficeRefused } from '../../google/error-codes.js';
import { failed, failedCall, fixWithSource, ok, skipped, warning, type CheckResult } from './check.js';

const CHECKS = { key: 'google.key', token: 'google.token', calendar: 'google.calendar', probe: 'google.out-of-office' };
const KEY_FIX =
  'set GOOGLE_SERVICE_ACCOUNT_JSON (a service-account key file\'s contents) or GOOGLE_SERVICE_ACCOUNT_FILE (its path): Google Cloud console → IAM & Admin → Service accounts → Keys';
const UNKNOWN_FIX = 'the message above is Google\'s; https://developers.google.com/workspace/calendar/api/guides/errors lists the Calendar API\'s';

export interface GoogleChecksInput {
  /** the Workspace user to act as (--as) */
  as: string | undefined;
  writeProbe: boolean;
  now: Date;
}

const skipRest = (from: 'token' | 'calendar' | 'probe', why: string, fix: string | null = null): CheckResult[] => {
  const order = ['token', 'calendar', 'probe'] as const;
  return order.slice(order.indexOf(from)).map((k) => skipped(CHECKS[k], why, fix));
};

/** The key parses; a token acting as --as is granted; that calendar reads; with --write-probe, it takes out-of-office events. */
export async function checkGoogle(config: Config, input: GoogleChecksInput): Promise<CheckResult[]> {
  let key: ServiceAccountKey | null;
  try {
    key = await loadServiceAccountKey(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [failed(CHECKS.key, err.issues.join('; '), KEY_FIX), ...skipRest('token', 'the service-account key cannot be used')];
  }
  if (key === null) {
    return [
      skipped(CHECKS.key, 'no service-account key: calendar sync is off, the service holds calendar work (outbox status held) until one is set', KEY_FIX),
      ...skipRest('token', 'no service-account key'),
    ];
  }
  const results = [ok(CHECKS.key, `service account ${key.client_email}${key.client_id ? ` (client ID ${key.client_id})` : ''}, token endpoint ${key.token_uri}`)];
  if (!input.as) {
    return [...results, ...skipRest('token', 'no user to act as', 'pass --as <email> of a Google Workspace user whose leave should reach their calendar')];
  }
  const context = { clientId: key.client_id, subject: input.as };
  const [{ createGoogleCalendar }, { nodeFetch }] = await Promise.all([import('../../google/calendar.js'), import('../../google/node-fetch.js')]);
  const auth = createServiceAccountAuth(key, { fetch: nodeFetch, timeoutMs: 10_000 });

  try {
    await auth.token(input.as);
  } catch (err) {
    results.push(failedCall(CHECKS.token, `Google refused a token acting as ${input.as}`, err, explainGoogleError(err, context), UNKNOWN_FIX));
    return [...results, ...skipRest('calendar', 'no token')];
  }
  results.push(ok(CHECKS.token, `Google granted a token acting as ${input.as} for ${CALENDAR_EVENTS_SCOPE}: domain-wide delegation works`));

  const calendar = createGoogleCalendar({ key, baseUrl: config.GOOGLE_CALENDAR_BASE_URL, fetch: nodeFetch, auth, timeoutMs: 10_000 });
  try {
    const next = await calendar.listMarkedEvents(input.as, input.now, new Date(input.now.getTime() + 30 * 86_400_000));
    results.push(ok(CHECKS.calendar, `calendar ${input.as} reads (${next.length} leave-bridge block${next.length === 1 ? '' : 's'} in the next 30 days)`));
  } catch (err) {
    results.push(failedCall(CHECKS.calendar, `reading calendar ${input.as}`, err, explainGoogleError(err, context), UNKNOWN_FIX));
    return [...results, ...skipRest('probe', 'the calendar cannot be read')];
  }

  if (!input.writeProbe) {
    results.push(skipped(CHECKS.probe, 'not run: --write-probe inserts an out-of-office event a month ahead and deletes it, which shows whether the account takes them'));
    return results;
  }
  try {
    const probe = await calendar.probeOutOfOffice(input.as, input.now);
    if (!probe.outOfOffice) {
      const refused = outOfOfficeRefused(probe.refusal);
      results.push(failed(CHECKS.probe, `${input.as}: ${refused.cause}`, fixWithSource(refused)));
    } else if (!probe.deleted) {
      results.push(
        warning(
          CHECKS.probe,
          `${input.as} takes out-of-office events, but the probe event ${probe.eventId} could not be deleted: ${probe.error}`,
          'delete it by hand: its title is "leave-bridge doctor probe (safe to delete)"',
        ),
      );
    } else {
      results.push(ok(CHECKS.probe, `${input.as} took an out-of-office event (a Workspace calendar); the probe is deleted`));
    }
  } catch (err) {
    results.push(failedCall(CHECKS.probe, `inserting an out-of-office probe on ${input.as}`, err, explainGoogleError(err, context), UNKNOWN_FIX));
  }
  return results;
}
