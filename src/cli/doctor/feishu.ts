import type { Config } from '../../config.js';
import type { FeishuClient } from '../../feishu/client.js';
import { explainFeishuCode, explainFeishuError } from '../../feishu/error-codes.js';
import { isLeaveWidget } from '../../feishu/form.js';
import type { Logger } from '../../logger.js';
import { failed, failedCall, fixWithSource, ok, skipped, warning, type CheckResult } from './check.js';

const CONSOLE = 'Feishu developer console → your app';
const CREDENTIALS_FIX = `set FEISHU_APP_ID and FEISHU_APP_SECRET (${CONSOLE} → Credentials & Basic Info)`;
const ENCRYPTION_PAGE = `${CONSOLE} → Events & Callbacks → Encryption Strategy`;
/** Leave events carry a user's address only with this scope (the contact API leaves `email` out without it). */
const EMAIL_SCOPE = 'contact:user.email:readonly';
const USER_FIELDS_PAGE = 'https://open.feishu.cn/document/server-docs/contact-v3/user/field-overview';
const UNKNOWN_FIX = 'the message above is Feishu\'s; its error code is explained at https://open.feishu.cn/document/server-docs/api-call-guide/generic-error-code';

/** Webhook mode needs the token; without an encrypt key, one plaintext body seen is enough to forge events. */
export function checkEventSecrets(config: Config): CheckResult {
  const check = 'feishu.event-secrets';
  if (config.FEISHU_EVENT_MODE === 'ws') {
    return ok(check, 'FEISHU_EVENT_MODE=ws: events arrive over the long connection the app credentials open; the token and encrypt key are not used');
  }
  if (config.FEISHU_VERIFICATION_TOKEN === undefined) {
    return failed(check, 'webhook mode without FEISHU_VERIFICATION_TOKEN: serve refuses to start, since anyone could post events', `set FEISHU_VERIFICATION_TOKEN to the Verification Token (${ENCRYPTION_PAGE})`);
  }
  if (config.FEISHU_ENCRYPT_KEY === undefined) {
    return warning(
      check,
      'FEISHU_VERIFICATION_TOKEN set, no FEISHU_ENCRYPT_KEY: events arrive as plain JSON authenticated by the token alone, so anyone who sees one body can forge events',
      `set an Encrypt Key (${ENCRYPTION_PAGE}) and the same value as FEISHU_ENCRYPT_KEY: Feishu then encrypts and signs every event`,
    );
  }
  return ok(check, 'FEISHU_VERIFICATION_TOKEN and FEISHU_ENCRYPT_KEY set: events are decrypted, their signatures and token checked');
}

export interface FeishuChecksInput {
  approvals: string[];
  /** the user whose email the contact check reads */
  employee: { id: string; from: string } | null;
  logger: Logger;
}

const CHECKS = { credentials: 'feishu.credentials', contact: 'feishu.contact-email', corehr: 'feishu.corehr' };
const COREHR_PAGE = 'https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history';
const COREHR_FIX = `${CONSOLE} → Permissions & Scopes: add corehr:leave:read (or corehr:corehr:readonly) and contact:user.employee_id:readonly (employees as user_ids), then publish a new app version; the API is only in Feishu People's Enterprise edition (${COREHR_PAGE})`;
const approvalCheck = (code: string) => `feishu.approval ${code}`;

/** Every Feishu check that calls the Open API, in order; later ones are skipped when the credentials fail. */
export async function checkFeishuApi(config: Config, input: FeishuChecksInput): Promise<CheckResult[]> {
  const approvalNames = input.approvals.length > 0 ? input.approvals.map(approvalCheck) : ['feishu.approval'];
  if (!config.FEISHU_APP_ID || !config.FEISHU_APP_SECRET) {
    return [
      skipped(CHECKS.credentials, 'FEISHU_APP_ID/FEISHU_APP_SECRET not set: employees\' emails cannot be looked up (only `leave-bridge employee set` addresses are used), and subscribe and backfill are off', CREDENTIALS_FIX),
      ...approvalNames.map((c) => skipped(c, 'no Feishu app credentials')),
      skipped(CHECKS.contact, 'no Feishu app credentials'),
      ...(config.COREHR_ENABLED ? [skipped(CHECKS.corehr, 'COREHR_ENABLED but no Feishu app credentials: CoreHR syncs are held', CREDENTIALS_FIX)] : []),
    ];
  }
  // Imported only when configured: the SDK is heavy.
  const { createFeishuClient } = await import('../../feishu/client.js');
  const client = createFeishuClient({
    appId: config.FEISHU_APP_ID,
    appSecret: config.FEISHU_APP_SECRET,
    baseUrl: config.FEISHU_BASE_URL,
    logger: input.logger,
    retry: { retries: 1, minTimeout: 300, maxTimeout: 1_000 },
    timeoutMs: 10_000,
  });

  try {
    await client.verifyCredentials();
  } catch (err) {
    return [
      failedCall(CHECKS.credentials, `Feishu refused app ${config.FEISHU_APP_ID}`, err, explainFeishuError(err), CREDENTIALS_FIX),
      ...approvalNames.map((c) => skipped(c, 'the app credentials were refused')),
      skipped(CHECKS.contact, 'the app credentials were refused'),
      ...(config.COREHR_ENABLED ? [skipped(CHECKS.corehr, 'the app credentials were refused')] : []),
    ];
  }
  const results = [ok(CHECKS.credentials, `app ${config.FEISHU_APP_ID} got a tenant_access_token from ${config.FEISHU_BASE_URL}`)];
  if (input.approvals.length === 0) {
    results.push(
      skipped(
        'feishu.approval',
        'no approval code given: events flow only for the approval definitions the app subscribed to',
        'pass --approval <code> (repeatable) for each leave approval definition, or set BACKFILL_APPROVAL_CODES',
      ),
    );
  }
  for (const code of input.approvals) results.push(await checkApproval(client, code));
  results.push(await checkContactEmail(client, input.employee));
  if (config.COREHR_ENABLED) results.push(await checkCorehr(client));
  return results;
}

/**
 * COREHR_ENABLED: the leave API answers this app (one page of one request). It is what every
 * CoreHR sync calls; the process events themselves need corehr:process:read on the subscription.
 */
async function checkCorehr(client: FeishuClient): Promise<CheckResult> {
  const check = CHECKS.corehr;
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const now = new Date();
  try {
    const page = await client.leaveRequestPage({ pageSize: 1, endDateMin: day(new Date(now.getTime() - 30 * 86_400_000)), startDateMax: day(now) });
    return ok(check, `leave_request_history answered (${page.items.length === 0 ? 'no request' : 'requests'} in the last 30 days): CoreHR leave requests can be synced`);
  } catch (err) {
    return failedCall(check, 'reading CoreHR leave requests (leave_request_history)', err, explainFeishuError(err), COREHR_FIX);
  }
}

function hasLeaveWidget(form: string): boolean {
  try {
    const widgets: unknown = JSON.parse(form);
    return Array.isArray(widgets) && widgets.some((w) => typeof w === 'object' && w !== null && isLeaveWidget(w));
  } catch {
    return false;
  }
}

/**
 * Readable (the definition API answers) and subscribed. Feishu has no call that reports whether
 * the app is subscribed without side effects; subscribing answers 1390007 when it already is, and
 * subscribes when it is not, which is the fix anyway. So this check subscribes, and says so.
 */
async function checkApproval(client: FeishuClient, code: string): Promise<CheckResult> {
  const check = approvalCheck(code);
  let definition;
  try {
    definition = await client.getApprovalDefinition(code);
  } catch (err) {
    return failedCall(check, 'reading the approval definition', err, explainFeishuError(err), UNKNOWN_FIX);
  }
  if (definition === null) {
    const e = explainFeishuCode(1390002)!;
    return failed(check, `reading the approval definition: ${e.cause}`, fixWithSource(e));
  }
  let subscription: 'subscribed' | 'already_subscribed';
  try {
    subscription = await client.subscribeApproval(code);
  } catch (err) {
    return failedCall(check, `"${definition.name ?? code}" is readable, subscribing failed`, err, explainFeishuError(err), UNKNOWN_FIX);
  }
  const name = `"${definition.name ?? code}" (${definition.status ?? 'status unknown'})`;
  const problems: string[] = [];
  const fixes: string[] = [];
  if (definition.status !== null && definition.status !== 'ACTIVE') {
    problems.push(`the definition is ${definition.status}`);
    fixes.push('use the code of an active definition');
  }
  if (!hasLeaveWidget(definition.form)) {
    problems.push('its form has no leave widget group, and Feishu sends leave events only for definitions that have one');
    fixes.push('use the code of the definition whose form holds the leave widget group (请假控件组)');
  }
  if (subscription === 'subscribed') {
    problems.push('the app was not subscribed; this check subscribed it (events flow from now on)');
    fixes.push(`recover leaves approved before now: leave-bridge backfill --approval ${code} --from <date> --to <date>`);
  }
  const said = subscription === 'already_subscribed' ? 'already subscribed' : 'subscribed now';
  if (problems.length === 0) return ok(check, `${name}, leave widget present, ${said}`);
  return warning(check, `${name}: ${problems.join('; ')}`, fixes.join('; '));
}

/**
 * The contact API leaves `email` out of a user unless the app holds contact:user.email:readonly
 * (and `enterprise_email` unless it may read employment details): no error, just no address.
 * Reading one user shows which.
 */
async function checkContactEmail(client: FeishuClient, employee: FeishuChecksInput['employee']): Promise<CheckResult> {
  const check = CHECKS.contact;
  if (employee === null) {
    return skipped(check, 'no user to read: no --employee given and no leave in the database yet', 'pass --employee <user_id> of someone in the app\'s contact range');
  }
  let user;
  try {
    user = await client.getUser(employee.id);
  } catch (err) {
    return failedCall(check, `reading user ${employee.id} (${employee.from})`, err, explainFeishuError(err), UNKNOWN_FIX);
  }
  if (user === null) {
    const e = explainFeishuCode(41012)!;
    return failed(check, `reading user ${employee.id} (${employee.from}): ${e.cause}`, fixWithSource(e));
  }
  const email = user.email ?? user.enterpriseEmail;
  if (email) {
    return ok(check, `user ${employee.id}${user.name ? ` (${user.name})` : ''} has ${user.email ? 'email' : 'enterprise_email'} ${email}: their leave goes to that calendar unless \`leave-bridge employee set\` overrides it`);
  }
  return failed(
    check,
    `Feishu returned user ${employee.id} (${employee.from}) without email or enterprise_email: the app lacks ${EMAIL_SCOPE}, or the person has no address in Feishu`,
    `${CONSOLE} → Permissions & Scopes: add ${EMAIL_SCOPE}, then publish a new app version (see ${USER_FIELDS_PAGE}); or give the person an address by hand: leave-bridge employee set ${employee.id} --email <address>`,
  );
}
