import { syncCorehr } from '../feishu/corehr-sync.js';
import { COREHR_SYNC_KIND } from '../leave/types.js';
import { TEAM_OUTBOX_KIND } from '../leave/team.js';
import { ExternalError } from '../ports.js';
import type { HandlerDeps, HandlerOutcome, HandlerResult, OutboxMessage } from './handler-types.js';
import { syncLeaveCalendar } from './leave-calendar.js';
import type { SyncState } from './sync-state.js';
import { syncTeamCalendar } from './team-calendar.js';

export const HANDLED_KINDS = ['calendar.upsert', 'calendar.delete', 'team_calendar.sync', COREHR_SYNC_KIND] as const;

/**
 * Both kinds bring Google to the leave's CURRENT state rather than replaying what the message
 * said: rows of one leave coalesce (one pending row per key+kind), a revert may land while an
 * upsert waits in backoff, and after a crash a row may run twice. Reading the state when the row
 * runs makes every run idempotent and lets a late upsert of a reverted leave remove the block.
 * `state` may come from the claim (read a moment before the run, while the row was already
 * leased): a change to the leave after that read queues another row of the key, which runs after
 * this one and reads again.
 */
export async function handleMessage(deps: HandlerDeps, msg: OutboxMessage, state?: SyncState): Promise<HandlerOutcome> {
  if (!(HANDLED_KINDS as readonly string[]).includes(msg.kind)) {
    throw new ExternalError('permanent', `unknown outbox kind ${JSON.stringify(msg.kind)}`);
  }
  if (msg.kind === COREHR_SYNC_KIND) return { result: await runCorehrSync(deps, msg), record: null };
  if (msg.kind === TEAM_OUTBOX_KIND) return syncTeamCalendar(deps, msg.key);
  return syncLeaveCalendar(deps, msg.key, state);
}

/**
 * corehr.sync: an incremental sync of CoreHR leave requests (src/feishu/corehr-sync.ts), rung by
 * the process events named in its payload or by the periodic sync. It brings every request
 * updated since the watermark to its current state, so a coalesced row does every doorbell's work.
 */
async function runCorehrSync(deps: HandlerDeps, msg: OutboxMessage): Promise<HandlerResult> {
  if (!deps.config.COREHR_ENABLED) return { action: 'nothing', detail: 'the CoreHR sync is off (COREHR_ENABLED)' };
  const payload = (msg.payload ?? {}) as { process_ids?: unknown };
  const processIds = Array.isArray(payload.process_ids) ? payload.process_ids.filter((p): p is string => typeof p === 'string') : [];
  const report = await syncCorehr(deps, { mode: 'incremental' }, processIds);
  const detail = `${report.requests} requests in ${report.pages} pages: ${report.applied} applied, ${report.duplicate} unchanged, ${report.quarantined} quarantined`;
  return { action: 'synced', detail, corehr: report };
}
