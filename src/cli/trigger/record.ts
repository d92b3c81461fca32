import { z } from 'zod';
import type { Config } from '../../config.js';
import { describeNetworkError } from '../../google/auth.js';
import { printableUrl, type CliIo } from '../io.js';

/**
 * The record a service made of a triggered leave, read back through its admin API
 * (GET /api/leaves/:instance_code) once the calendar work has come to rest.
 */

/** Per request to the service, the deliveries' included. */
export const REQUEST_TIMEOUT_MS = 10_000;

const LeaveRecord = z.object({
  instance_code: z.string(),
  status: z.string(),
  employee_id: z.string().nullable().optional(),
  leave_type: z.string().nullable().optional(),
  unit: z.string().nullable().optional(),
  days: z.array(z.object({ date: z.string(), quantity: z.string(), unit: z.string() })).default([]),
  calendar: z.object({ state: z.string(), event_type: z.string().nullable().optional(), calendar_id: z.string().nullable().optional() }).partial().optional(),
  outbox: z
    .array(
      z.object({
        id: z.number(),
        kind: z.string(),
        status: z.string(),
        attempts: z.number().optional(),
        run_after: z.string().nullable().optional(),
        last_error: z.string().nullable().optional(),
      }),
    )
    .default([]),
});
type LeaveRecord = z.output<typeof LeaveRecord>;

/**
 * The service's calendar work for the leave has come to rest: nothing running, and nothing
 * pending that will run soon (a row waits behind an earlier held or dead row of its leave, and a
 * retry in backoff waits for its time).
 */
function settled(record: LeaveRecord, now: number): boolean {
  return record.outbox.every((m, i) => {
    if (m.status === 'running') return false;
    if (m.status !== 'pending') return true;
    const blocked = record.outbox.slice(0, i).some((e) => e.status === 'held' || e.status === 'dead');
    const later = m.run_after ? Date.parse(m.run_after) > now + 1_000 : false;
    return blocked || later;
  });
}

/** GOOGLE_SERVICE_ACCOUNT_* named: the service holds calendar work because it has no key. */
const NO_GOOGLE = /GOOGLE_SERVICE_ACCOUNT/;
const ENABLE_CALENDAR =
  'to enable calendar sync: give the service GOOGLE_SERVICE_ACCOUNT_JSON (the key file\'s contents) or GOOGLE_SERVICE_ACCOUNT_FILE (its path) and restart it; held calendar work is released at start. `leave-bridge doctor --as <email>` checks the key and its delegation first.';

/**
 * Print the leave's record: its status, days and calendar work, waiting up to `settleMs` for that
 * work to come to rest. Without ADMIN_TOKEN it cannot be read; then say what a service without a
 * Google key does with it.
 */
export async function showRecord(o: {
  config: Config;
  url: URL;
  instanceCode: string;
  doFetch: typeof fetch;
  io: CliIo;
  settleMs: number;
}): Promise<void> {
  const { config, io } = o;
  if (config.ADMIN_TOKEN === undefined) {
    io.out('record: set ADMIN_TOKEN to the service\'s value to see it here (and to open the dashboard)');
    if (config.GOOGLE_SERVICE_ACCOUNT_JSON === undefined && config.GOOGLE_SERVICE_ACCOUNT_FILE === undefined) {
      io.out('calendar: this shell has no GOOGLE_SERVICE_ACCOUNT_JSON/_FILE; a service without one holds the leave\'s calendar work (outbox status held) with that reason');
      io.out(`  ${ENABLE_CALENDAR}`);
    }
    return;
  }
  const api = new URL(`/api/leaves/${encodeURIComponent(o.instanceCode)}`, o.url);
  const deadline = Date.now() + o.settleMs;
  let record: LeaveRecord;
  for (;;) {
    const got = await readRecord(o.doFetch, api, config.ADMIN_TOKEN);
    if (typeof got === 'string') {
      io.out(`record: ${got}`);
      return;
    }
    record = got;
    if (settled(record, Date.now()) || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  printRecord(record, io);
}

async function readRecord(doFetch: typeof fetch, api: URL, adminToken: string): Promise<LeaveRecord | string> {
  let res: Response;
  try {
    res = await doFetch(api, { headers: { authorization: `Bearer ${adminToken}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    return `could not read ${printableUrl(api)}: ${describeNetworkError(err)}`;
  }
  const text = await res.text();
  if (res.status === 401) return 'the admin API refused ADMIN_TOKEN: set the service\'s value here';
  if (res.status === 404 && !text.includes('leave_not_found')) return 'the service has no admin API (it has no ADMIN_TOKEN)';
  if (res.status !== 200) return `${printableUrl(api)} answered ${res.status} ${text.slice(0, 300)}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = LeaveRecord.safeParse(body);
  return parsed.success ? parsed.data : `${printableUrl(api)} answered a shape this trigger does not know`;
}

function printRecord(r: LeaveRecord, io: CliIo): void {
  io.out(`record: ${r.status}${r.leave_type ? ` · ${r.leave_type}` : ''}${r.unit ? ` · ${r.unit}` : ''}${r.employee_id ? ` · employee ${r.employee_id}` : ''}`);
  io.out(`  days: ${r.days.length > 0 ? r.days.map((d) => `${d.date} ${d.quantity} ${d.unit}`).join(', ') : 'none (no attendance is counted)'}`);
  const cal = r.calendar;
  if (cal?.state) io.out(`  calendar: ${cal.state}${cal.event_type ? ` · ${cal.event_type}` : ''}${cal.calendar_id ? ` · ${cal.calendar_id}` : ''}`);
  for (const m of r.outbox) {
    io.out(`  calendar work #${m.id} ${m.kind}: ${m.status}${m.last_error ? ` (${m.last_error})` : ''}`);
  }
  if (r.outbox.some((m) => m.status === 'held' && NO_GOOGLE.test(m.last_error ?? ''))) io.out(`  ${ENABLE_CALENDAR}`);
  if (r.outbox.some((m) => m.status === 'pending' || m.status === 'running')) {
    io.out('  (pending work runs when the service drains its outbox; the dashboard shows it as it changes)');
  }
}
