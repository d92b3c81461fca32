import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, secretValues, type Config } from '../config.js';
import { createLogger } from '../logger.js';
import { failed, skipped, type CheckResult, type CheckStatus } from './doctor/check.js';
import { checkDatabase } from './doctor/database.js';
import { checkEventSecrets, checkFeishuApi } from './doctor/feishu.js';
import { checkGoogle } from './doctor/google.js';
import { printableUrl, redacting, stdio, type CliIo } from './io.js';

/**
 * `leave-bridge doctor`: check each configured part live, one line per check with the fix for each
 * failure. It takes the raw environment, so a configuration that does not parse is a failed check
 * rather than a stop.
 */

const USAGE = 'usage: leave-bridge doctor [--as <email>] [--approval <code>]… [--employee <user_id>] [--write-probe] [--json]';

export interface DoctorOptions {
  fetch?: typeof fetch;
  now?: () => Date;
}

export interface DoctorArgs {
  as: string | undefined;
  approvals: string[];
  employee: string | undefined;
  writeProbe: boolean;
  json: boolean;
}

export function parseDoctorArgs(args: string[]): DoctorArgs | { error: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        as: { type: 'string' },
        approval: { type: 'string', multiple: true },
        employee: { type: 'string' },
        'write-probe': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (values.as !== undefined && !/^[^\s@]+@[^\s@]+$/.test(values.as)) return { error: '--as must be an email address' };
  if (values['write-probe'] && values.as === undefined) return { error: '--write-probe needs --as <email>: the calendar to probe' };
  return {
    as: values.as,
    approvals: (values.approval ?? []).map((a) => a.trim()).filter((a) => a !== ''),
    employee: values.employee,
    writeProbe: values['write-probe'] ?? false,
    json: values.json ?? false,
  };
}

/** The checks that need a configuration (approval checks are one per code, so not listed). */
const AFTER_CONFIG = ['database', 'feishu.event-secrets', 'feishu.credentials', 'feishu.contact-email', 'google.key', 'google.token', 'google.calendar', 'google.out-of-office'];

/** Every check, in order. Configuration that does not parse fails its check and skips the rest. */
export async function runChecks(env: Record<string, string | undefined>, args: DoctorArgs, opts: DoctorOptions = {}): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [
      failed('config', err.issues.join('; '), 'correct the variables named (leave-bridge reads its configuration from the environment)'),
      ...AFTER_CONFIG.map((c) => skipped(c, 'the configuration does not parse')),
    ];
  }
  const now = opts.now?.() ?? new Date();
  const doFetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  // The checks' failures are their output; the SDK's own log lines would only repeat them.
  const logger = createLogger({ level: config.LOG_LEVEL === 'debug' ? 'debug' : 'silent', secrets: secretValues(config) });

  const results: CheckResult[] = [{ check: 'config', status: 'ok', detail: describeConfig(config), fix: null }];
  const database = await checkDatabase(config, { fetch: doFetch });
  results.push(database.result, checkEventSecrets(config));
  const approvals = args.approvals.length > 0 ? args.approvals : (config.BACKFILL_APPROVAL_CODES ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
  const employee = args.employee
    ? { id: args.employee, from: '--employee' }
    : database.latestEmployee
      ? { id: database.latestEmployee, from: 'the latest leave\'s employee' }
      : null;
  results.push(...(await checkFeishuApi(config, { approvals, employee, logger })));
  results.push(...(await checkGoogle(config, { as: args.as, writeProbe: args.writeProbe, now })));
  return results;
}

function describeConfig(c: Config): string {
  return [
    `${c.FEISHU_EVENT_MODE} mode`,
    c.DATABASE_URL ? `Postgres ${printableUrl(new URL(c.DATABASE_URL))}` : `embedded PGlite in ${c.DATA_DIR}`,
    c.FEISHU_APP_ID ? `Feishu app ${c.FEISHU_APP_ID} at ${c.FEISHU_BASE_URL}` : 'no Feishu app',
    c.GOOGLE_SERVICE_ACCOUNT_JSON ? 'Google key from GOOGLE_SERVICE_ACCOUNT_JSON' : c.GOOGLE_SERVICE_ACCOUNT_FILE ? `Google key from ${c.GOOGLE_SERVICE_ACCOUNT_FILE}` : 'calendar sync off',
    c.ADMIN_TOKEN ? 'admin API on' : 'admin API off (no ADMIN_TOKEN)',
    ...(c.COREHR_ENABLED ? [`CoreHR sync on${c.COREHR_SYNC_INTERVAL ? `, every ${Math.round(c.COREHR_SYNC_INTERVAL / 1000)} s` : ', events only'}`] : []),
  ].join('; ');
}

export function formatResults(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.flatMap((r) => [
    `${r.status.padEnd(8)} ${r.check.padEnd(width)}  ${r.detail}`,
    ...(r.fix && r.status !== 'ok' ? [`${' '.repeat(9 + width)}  fix: ${r.fix}`] : []),
  ]);
  const count = (s: CheckStatus) => results.filter((r) => r.status === s).length;
  const summary = `${count('ok')} ok, ${count('warning')} warning(s), ${count('failed')} failed, ${count('skipped')} skipped`;
  return [...lines, '', count('failed') > 0 ? `${summary}: fix the failed checks, then run leave-bridge doctor again` : summary].join('\n');
}

/** `leave-bridge doctor`: exit 1 when a check failed, 2 on a usage error. */
export async function doctorCommand(env: Record<string, string | undefined>, args: string[], rawIo: CliIo = stdio, opts: DoctorOptions = {}): Promise<number> {
  // Secret values are scrubbed from the output even when the configuration does not parse: the
  // variables are read by name from the environment as it is.
  const io = redacting(rawIo, secretValues(env as unknown as Config));
  const parsed = parseDoctorArgs(args);
  if ('error' in parsed) {
    io.err(`${parsed.error}\n${USAGE}`);
    return 2;
  }
  const results = await runChecks(env, parsed, opts);
  io.out(parsed.json ? JSON.stringify(results, null, 2) : formatResults(results));
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}
