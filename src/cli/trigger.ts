import { parseArgs } from 'node:util';
import { secretValues, type Config } from '../config.js';
import { AppError, type ErrorCode } from '../errors.js';
import { sha256, toHex } from '../feishu/crypto.js';
import { feishuRequest, type BuiltEvent, type UserIds } from '../feishu/event-builders.js';
import { describeNetworkError } from '../google/auth.js';
import { parsePeriod } from '../reports/period.js';
import { addDays } from '../shared/dates.js';
import { instantToLocalDate } from '../shared/local-time.js';
import { printableUrl, redacting, stdio, type CliIo } from './io.js';
import { REQUEST_TIMEOUT_MS, showRecord, type RecordSummary } from './trigger/record.js';
import { findScenario, SCENARIOS, type Scenario } from './trigger/scenarios.js';

/**
 * `leave-bridge trigger <scenario>`: post the events Feishu would send for a scenario to a running
 * service, exactly as Feishu does (its order, encryption, signature, a fresh uuid per delivery),
 * print what was sent and answered, then the record the service made of it.
 */

const usage = () =>
  [
    'usage: leave-bridge trigger <scenario> [--employee <user_id>] [--peer <user_id>] [--from <YYYY-MM-DD>] [--to <YYYY-MM-DD>] [--url <webhook>]',
    '',
    'scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.description}`),
  ].join('\n');

/** Who a triggered approval belongs to unless --employee says otherwise. */
export const DEFAULT_EMPLOYEE = 'leave_bridge_trigger';
/** Who travels along on a triggered trip unless --peer says otherwise. */
export const DEFAULT_PEER = 'leave_bridge_trigger_peer';
/** The approval code of triggered events: recognisable in every list and report. */
export const TRIGGER_APPROVAL_CODE = 'LEAVE-BRIDGE-TRIGGER';
/** Feishu counts a delivery not answered 200 within 3 s as failed and pushes it again later. */
const FEISHU_ANSWER_MS = 3_000;

export interface TriggerOptions {
  fetch?: typeof fetch;
  now?: () => Date;
  /** how long to wait for the service's calendar work to settle before printing the record */
  settleMs?: number;
}

interface Answer {
  status: number | null;
  body: string;
  ms: number;
}

/**
 * What to check for each refusal the webhook answers with (its `error.code`, src/feishu/envelope.ts),
 * naming the setting that differs between this shell and the service.
 */
const REFUSAL_HINTS: Partial<Record<ErrorCode, string>> = {
  bad_token: 'FEISHU_VERIFICATION_TOKEN here differs from the service\'s: set the same value in both',
  bad_signature: 'FEISHU_ENCRYPT_KEY here differs from the service\'s (the signature does not match): set the same value in both',
  decrypt_failed: 'FEISHU_ENCRYPT_KEY here differs from the service\'s (the body does not decrypt): set the same value in both',
  missing_signature: 'the service has FEISHU_ENCRYPT_KEY set and this shell does not: set the same FEISHU_ENCRYPT_KEY here',
  encrypt_key_missing: 'this shell has FEISHU_ENCRYPT_KEY set and the service does not: unset it here, or set the same one on the service',
  stale_timestamp: "this machine's clock and the service's differ by more than FEISHU_TIMESTAMP_TOLERANCE seconds",
  bad_timestamp: "this machine's clock and the service's differ by more than FEISHU_TIMESTAMP_TOLERANCE seconds",
  token_not_configured: 'the service has no FEISHU_VERIFICATION_TOKEN: set the same value on the service as here',
};

function hintFor(answer: Answer, url: URL): string | null {
  if (answer.status === null) return `is the service running and listening there? (npm start, or leave-bridge serve; --url sets another address)`;
  let code: string | undefined;
  try {
    code = (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  const known = code === undefined ? undefined : REFUSAL_HINTS[code as ErrorCode];
  if (known) return known;
  if (answer.status === 401) return 'check that FEISHU_VERIFICATION_TOKEN and FEISHU_ENCRYPT_KEY here are the service\'s';
  if (answer.status === 404) return `no webhook at ${url.pathname}: the service's is /webhook/feishu (check --url)`;
  if (answer.status === 503) return 'the service cannot reach its database; GET /readyz says why';
  return null;
}

interface TriggerArgs {
  scenario: Scenario;
  from: string;
  to: string;
  employeeId: string;
  /** the trip scenarios' peer; null for the others */
  peerId: string | null;
  url: URL;
}

/** A Feishu user_id as the events carry it. */
const USER_ID = /^\S{1,64}$/;

/** Check the arguments before anything is sent; an error says what is wrong. */
export function parseTriggerArgs(config: Config, args: string[], today: string): TriggerArgs | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { employee: { type: 'string' }, peer: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, url: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    return { error: (err as Error).message };
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return { error: 'name one scenario' };
  const scenario = findScenario(positionals[0]!);
  if (!scenario) return { error: `unknown scenario ${JSON.stringify(positionals[0])}` };
  const from = values.from ?? addDays(today, 1);
  const to = values.to ?? from;
  try {
    parsePeriod(from, to);
  } catch (err) {
    if (err instanceof AppError) return { error: err.message.replace(/^(from|to):/, '--$1:') };
    throw err;
  }
  const employeeId = values.employee ?? DEFAULT_EMPLOYEE;
  if (!USER_ID.test(employeeId)) return { error: '--employee must be a Feishu user_id (no spaces, at most 64 characters)' };
  if (values.peer !== undefined && !scenario.withPeer) {
    return { error: `--peer is for the trip scenarios (${SCENARIOS.filter((s) => s.withPeer).map((s) => s.name).join(', ')})` };
  }
  const peerId = scenario.withPeer ? (values.peer ?? DEFAULT_PEER) : null;
  if (peerId !== null && !USER_ID.test(peerId)) return { error: '--peer must be a Feishu user_id (no spaces, at most 64 characters)' };
  // Feishu lists the requester among no trip's peers; the service would drop such a peer
  if (peerId === employeeId) return { error: '--peer must be someone other than the employee' };
  const target = values.url ?? `http://127.0.0.1:${config.PORT}/webhook/feishu`;
  const url = URL.canParse(target) ? new URL(target) : null;
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    return { error: '--url must be an http(s) URL, e.g. http://127.0.0.1:8787/webhook/feishu' };
  }
  return { scenario, from, to, employeeId, peerId, url };
}

/**
 * The ids events carry besides the user_id: made-up but stable ones, derived from it, stand in
 * for the open_id and union_id Feishu would send.
 */
async function userIds(userId: string): Promise<UserIds> {
  const hex = toHex(await sha256(`leave-bridge trigger ${userId}`));
  return { userId, openId: `ou_${hex.slice(0, 32)}`, unionId: `on_${hex.slice(32, 64)}` };
}

/**
 * The record's page: the leave page shows leaves approved or reverted, and sends every other
 * record (another kind, a pending request) on to its approval page (src/routes/dashboard.ts).
 */
function dashboardPath(instanceCode: string, r: RecordSummary): string {
  const leavePage = (r.kind === 'leave' || r.kind === null) && (r.status === 'approved' || r.status === 'reverted');
  return `/dashboard/${leavePage ? 'leaves' : 'approvals'}/${encodeURIComponent(instanceCode)}`;
}

/** What the webhook said it did with a delivery (`{"code": 0, "status": …}`), if it said. */
function outcomeOf(answer: Answer): string | null {
  try {
    const status = (JSON.parse(answer.body) as { status?: unknown }).status;
    return typeof status === 'string' ? status : null;
  } catch {
    return null;
  }
}

const HOLDS_OFF =
  'the service ignored the pending request: it acts on approval_instance PENDING only with tentative holds on. To record pending requests and hold their time on the calendar, set CALENDAR_TENTATIVE_HOLDS=true on the service and restart it (the hold reads the request\'s form through the Feishu app: FEISHU_APP_ID and FEISHU_APP_SECRET).';

/** `leave-bridge trigger <scenario>`: exit 0 when every delivery was acknowledged, 1 otherwise, 2 on bad arguments. */
export async function triggerCommand(config: Config, args: string[], rawIo: CliIo = stdio, opts: TriggerOptions = {}): Promise<number> {
  const io = redacting(rawIo, secretValues(config));
  const doFetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const parsed = parseTriggerArgs(config, args, instantToLocalDate(opts.now?.() ?? new Date(), config.DEFAULT_TIMEZONE));
  if ('error' in parsed) {
    io.err(`leave-bridge trigger: ${parsed.error}\n${usage()}`);
    return 2;
  }
  const { scenario, from, to, employeeId, peerId, url } = parsed;
  if (config.FEISHU_VERIFICATION_TOKEN === undefined) {
    io.err('leave-bridge trigger: set FEISHU_VERIFICATION_TOKEN to the service\'s value (Feishu puts it in every event)');
    return 78; // EX_CONFIG
  }

  const instanceCode = crypto.randomUUID().toUpperCase();
  const employee = await userIds(employeeId);
  const events = scenario.events({
    token: config.FEISHU_VERIFICATION_TOKEN,
    instanceCode,
    approvalCode: TRIGGER_APPROVAL_CODE,
    appId: config.FEISHU_APP_ID,
    employee,
    peer: peerId === null ? null : await userIds(peerId),
    from,
    to,
  });

  const encrypted = config.FEISHU_ENCRYPT_KEY !== undefined;
  io.out(`trigger ${scenario.name}: ${scenario.description}`);
  io.out(`  ${scenario.kind} ${instanceCode}, employee ${employeeId}${peerId === null ? '' : `, peer ${peerId}`}, ${from === to ? from : `${from} to ${to}`}`);
  io.out(
    `  ${events.length} ${events.length === 1 ? 'delivery' : 'deliveries'} to ${printableUrl(url)}, ${encrypted ? 'encrypted and signed with FEISHU_ENCRYPT_KEY' : 'as plain JSON with the verification token (no FEISHU_ENCRYPT_KEY set)'}`,
  );
  io.out('');

  const answers = await deliverAll(events, { url, encryptKey: config.FEISHU_ENCRYPT_KEY, doFetch, io });
  io.out('');
  // Nothing acknowledged, nothing stored: no record to show.
  if (answers.length === 0) return 1;
  const exit = answers.length === events.length ? 0 : 1;
  if (answers.every((a) => outcomeOf(a) === 'ignored')) {
    io.out(scenario.pending ? HOLDS_OFF : 'the service ignored every delivery: it made no record of them');
    return exit;
  }
  const record = await showRecord({ config, url, instanceCode, doFetch, io, settleMs: opts.settleMs ?? 10_000 });
  const page = record ?? { kind: scenario.kind, status: scenario.pending ? 'pending' : 'approved' };
  io.out(`dashboard: ${new URL(dashboardPath(instanceCode, page), printableUrl(url)).toString()}`);
  return exit;
}

/**
 * One delivery after the other, each with a fresh timestamp and nonce. An approval's events are ordered:
 * Feishu does not send the next one before the last was answered 200, so neither does this.
 * Returns the acknowledged deliveries' answers.
 */
async function deliverAll(
  events: BuiltEvent[],
  o: { url: URL; encryptKey: string | undefined; doFetch: typeof fetch; io: CliIo },
): Promise<Answer[]> {
  const acked: Answer[] = [];
  for (const [i, e] of events.entries()) {
    o.io.out(`  → ${e.eventType.padEnd(22)} ${e.keyName} ${e.uuid}  instance_code ${e.instanceCode}`);
    const req = await feishuRequest(e.body, { encryptKey: o.encryptKey });
    const answer = await post(o.doFetch, o.url, req);
    const slow = answer.ms > FEISHU_ANSWER_MS ? ` (after ${answer.ms} ms: Feishu gives up after ${FEISHU_ANSWER_MS} ms and pushes again)` : '';
    o.io.out(`    ← ${answer.status ?? 'no answer'} ${answer.body.slice(0, 300)}${slow}`);
    if (answer.status !== 200) {
      const hint = hintFor(answer, o.url);
      if (hint) o.io.out(`    hint: ${hint}`);
      const left = events.slice(i + 1);
      if (left.length > 0) o.io.out(`  not sent (Feishu holds the events after an unanswered one): ${left.map((l) => l.eventType).join(', ')}`);
      return acked;
    }
    acked.push(answer);
  }
  return acked;
}

async function post(doFetch: typeof fetch, url: URL, req: { body: string; headers: Record<string, string> }): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await doFetch(url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: res.status, body: await res.text(), ms: Date.now() - started };
  } catch (err) {
    return { status: null, body: `could not reach ${printableUrl(url)}: ${describeNetworkError(err)}`, ms: Date.now() - started };
  }
}
