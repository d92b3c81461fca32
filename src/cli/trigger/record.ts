import { z } from 'zod';
import type { Config } from '../../config.js';
import { describeNetworkError } from '../../google/auth.js';
import { printableUrl, type CliIo } from '../io.js';

/**
 * The record a service made of a triggered approval, of any kind, read back through its admin API
 * once the calendar work has come to rest: the work from GET /api/outbox?key=:instance_code (its
 * due times and what each run did), then the record from GET /api/approvals/:instance_code (kind,
 * status, days per person, every calendar block).
 */

/** Per request to the service, the deliveries' included. */
export const REQUEST_TIMEOUT_MS = 10_000;

const Work = z.object({
  id: z.number(),
  kind: z.string(),
  status: z.string(),
  run_after: z.string().nullable().optional(),
  last_error: z.string().nullable().optional(),
  result: z.object({ action: z.string().optional(), detail: z.string().optional() }).passthrough().nullable().optional(),
});
type Work = z.output<typeof Work>;
const WorkList = z.object({ items: z.array(Work) });

const ApprovalRecord = z.object({
  instance_code: z.string(),
  kind: z.string().nullable(),
  status: z.string(),
  employee_id: z.string().nullable().optional(),
  type_name: z.string().nullable().optional(),
  unit: z.string().nullable().optional(),
  peers: z.array(z.string()).default([]),
  days: z.array(z.object({ employee_id: z.string().nullable(), date: z.string(), quantity: z.string(), unit: z.string() })).default([]),
  calendar: z
    .object({
      blocks: z
        .array(
          z.object({
            block_key: z.string(),
            employee_id: z.string().nullable().optional(),
            state: z.string(),
            calendar_id: z.string().nullable().optional(),
            event_type: z.string().nullable().optional(),
            start: z.string().nullable().optional(),
            end: z.string().nullable().optional(),
          }),
        )
        .default([]),
    })
    .default({ blocks: [] }),
});
type ApprovalRecord = z.output<typeof ApprovalRecord>;

/** What the dashboard link is chosen by. */
export type RecordSummary = Pick<ApprovalRecord, 'kind' | 'status'>;

/** The held or dead row a pending one waits behind: a record's rows run in order. */
const blockerOf = (work: Work[], i: number): Work | undefined => work.slice(0, i).find((e) => e.status === 'held' || e.status === 'dead');

/**
 * The service's calendar work for the record has come to rest: nothing running, and nothing
 * pending that will run soon (a row waits behind an earlier held or dead row of its record, and a
 * retry in backoff waits for its time).
 */
function settled(work: Work[], now: number): boolean {
  return work.every((m, i) => {
    if (m.status === 'running') return false;
    if (m.status !== 'pending') return true;
    const later = m.run_after ? Date.parse(m.run_after) > now + 1_000 : false;
    return blockerOf(work, i) !== undefined || later;
  });
}

/** GOOGLE_SERVICE_ACCOUNT_* named: the service holds calendar work because it has no key. */
const NO_GOOGLE = /GOOGLE_SERVICE_ACCOUNT/;
const ENABLE_CALENDAR =
  'to enable calendar sync: give the service GOOGLE_SERVICE_ACCOUNT_JSON (the key file\'s contents) or GOOGLE_SERVICE_ACCOUNT_FILE (its path) and restart it; held calendar work is released at start. `leave-bridge doctor --as <email>` checks the key and its delegation first.';
/** FEISHU_APP_ID named: a tentative hold waits for the Feishu app that reads the request's form. */
const NO_FEISHU_APP = /FEISHU_APP_ID/;
const ENABLE_HOLDS_READ =
  "a tentative hold reads the request's form from Feishu's approval API: give the service FEISHU_APP_ID and FEISHU_APP_SECRET (an app with approval:approval:readonly) and restart it; held calendar work is released at start. A triggered request exists only in this service, so Feishu's API will not know it and no hold follows even then; a request submitted in Feishu gets one.";

/** The kinds that never block a calendar. */
const NO_BLOCK_KINDS = new Set(['overtime', 'remedy', 'shift']);

/**
 * Print the record: its kind, status, days per person, calendar blocks and calendar work, waiting
 * up to `settleMs` for that work to come to rest. Without ADMIN_TOKEN it cannot be read; then say
 * what a service without a Google key does with it. Returns what the dashboard link needs, or null
 * when there is no record to show.
 */
export async function showRecord(o: {
  config: Config;
  url: URL;
  instanceCode: string;
  doFetch: typeof fetch;
  io: CliIo;
  settleMs: number;
}): Promise<RecordSummary | null> {
  const { config, io } = o;
  if (config.ADMIN_TOKEN === undefined) {
    io.out('record: set ADMIN_TOKEN to the service\'s value to see it here (and to open the dashboard)');
    if (config.GOOGLE_SERVICE_ACCOUNT_JSON === undefined && config.GOOGLE_SERVICE_ACCOUNT_FILE === undefined) {
      io.out('calendar: this shell has no GOOGLE_SERVICE_ACCOUNT_JSON/_FILE; a service without one holds the calendar work (outbox status held) with that reason');
      io.out(`  ${ENABLE_CALENDAR}`);
    }
    return null;
  }
  const read = (path: string) => readJson(o.doFetch, new URL(path, o.url), config.ADMIN_TOKEN!);
  const code = encodeURIComponent(o.instanceCode);
  const deadline = Date.now() + o.settleMs;
  let work: Work[];
  for (;;) {
    const got = await read(`/api/outbox?key=${code}&limit=1000`);
    if (typeof got === 'string') return failed(io, got);
    const parsed = WorkList.safeParse(got.body);
    if (got.status !== 200 || !parsed.success) return failed(io, unexpected(got));
    work = parsed.data.items.sort((a, b) => a.id - b.id);
    if (settled(work, Date.now()) || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const got = await read(`/api/approvals/${code}`);
  if (typeof got === 'string') return failed(io, got);
  if (got.status === 404 && got.text.includes('approval_not_found')) {
    io.out('record: none (the service made no record of this instance)');
    return null;
  }
  const record = ApprovalRecord.safeParse(got.body);
  if (got.status !== 200 || !record.success) return failed(io, unexpected(got));
  printRecord(record.data, work, io);
  return record.data;
}

function failed(io: CliIo, why: string): null {
  io.out(`record: ${why}`);
  return null;
}

interface Answered {
  url: URL;
  status: number;
  text: string;
  body: unknown;
}

function unexpected(a: Answered): string {
  if (a.status === 200) return `${printableUrl(a.url)} answered a shape this trigger does not know`;
  return `${printableUrl(a.url)} answered ${a.status} ${a.text.slice(0, 300)}`;
}

async function readJson(doFetch: typeof fetch, url: URL, adminToken: string): Promise<Answered | string> {
  let res: Response;
  try {
    res = await doFetch(url, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    return `could not read ${printableUrl(url)}: ${describeNetworkError(err)}`;
  }
  const text = await res.text();
  if (res.status === 401) return 'the admin API refused ADMIN_TOKEN: set the service\'s value here';
  // a service without ADMIN_TOKEN mounts no admin API: every path under it is unknown
  if (res.status === 404 && !text.includes('approval_not_found')) return 'the service has no admin API (it has no ADMIN_TOKEN)';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { url, status: res.status, text, body };
}

const joined = (parts: Array<string | null | undefined>) => parts.filter((p) => p).join(' · ');

function printRecord(r: ApprovalRecord, work: Work[], io: CliIo): void {
  io.out(
    `record: ${joined([
      r.status,
      r.kind ?? "kind not known yet (the request's form names it)",
      r.type_name,
      r.unit,
      r.employee_id ? `employee ${r.employee_id}` : null,
      r.peers.length > 0 ? `peers ${r.peers.join(', ')}` : null,
    ])}`,
  );
  const people = [...new Set(r.days.map((d) => d.employee_id ?? '?'))];
  if (people.length === 0) io.out('  days: none (no attendance is counted)');
  for (const person of people) {
    const own = r.days.filter((d) => (d.employee_id ?? '?') === person);
    io.out(`  days of ${person}: ${own.map((d) => `${d.date} ${d.quantity} ${d.unit}`).join(', ')}`);
  }
  for (const b of r.calendar.blocks) {
    // a leave's or an out's single block has the key '', a hold 'hold' or 'hold:<key>'
    io.out(`  calendar${b.block_key ? ` ${b.block_key}` : ''}: ${joined([b.state, b.event_type, b.calendar_id, b.start && b.end ? `${b.start} to ${b.end}` : null])}`);
  }
  if (r.calendar.blocks.length === 0) {
    const why = NO_BLOCK_KINDS.has(r.kind ?? '') ? `${r.kind} blocks no calendar` : r.status === 'pending' ? 'no tentative hold placed' : 'no block placed';
    io.out(`  calendar: none (${why})`);
  }
  for (const [i, m] of work.entries()) {
    const did = m.status === 'done' && m.result?.action ? ` · ${m.result.action}${m.result.detail ? ` (${m.result.detail})` : ''}` : '';
    const blocker = m.status === 'pending' ? blockerOf(work, i) : undefined;
    const waits = blocker ? ` (waits for #${blocker.id}: a record's work runs in order)` : '';
    io.out(`  calendar work #${m.id} ${m.kind}: ${m.status}${did}${waits}${m.last_error ? ` (${m.last_error})` : ''}`);
  }
  const held = work.filter((m) => m.status === 'held');
  if (held.some((m) => NO_GOOGLE.test(m.last_error ?? ''))) io.out(`  ${ENABLE_CALENDAR}`);
  if (held.some((m) => NO_FEISHU_APP.test(m.last_error ?? ''))) io.out(`  ${ENABLE_HOLDS_READ}`);
  if (work.some((m, i) => (m.status === 'pending' && !blockerOf(work, i)) || m.status === 'running')) {
    io.out('  (pending work runs when the service drains its outbox; the dashboard shows it as it changes)');
  }
}
