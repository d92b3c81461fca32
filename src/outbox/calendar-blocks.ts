/** Placing one block of a record on Google (or moving it to a new address) and removing one. */
import { resolveEmail, type StoredEmail } from '../employees.js';
import type { PlannedBlock } from '../leave/blocks.js';
import type { EffectivePolicy } from '../policies/resolve.js';
import { ExternalError, type CalendarPort, type WantedBlock } from '../ports.js';
import { toInstant } from '../shared/local-time.js';
import type { PresentBlock } from './block-records.js';
import type { HandlerDeps, HandlerResult } from './handler-types.js';
import type { BlockRow, LeaveRow } from './sync-state.js';

export type Wanted = PlannedBlock & { hold: boolean };

interface BlockOutcome {
  result: HandlerResult;
  present?: PresentBlock;
  deleted?: boolean;
}

function requireCalendar(deps: HandlerDeps): CalendarPort {
  if (!deps.calendar) {
    throw new ExternalError(
      'configuration',
      'calendar sync is off: no Google service account configured (GOOGLE_SERVICE_ACCOUNT_JSON or GOOGLE_SERVICE_ACCOUNT_FILE)',
    );
  }
  return deps.calendar;
}

export async function placeBlock(
  deps: HandlerDeps,
  leave: LeaveRow,
  planned: Wanted,
  block: BlockRow | undefined,
  stored: StoredEmail | null | undefined,
  policy: EffectivePolicy,
): Promise<BlockOutcome> {
  const calendar = requireCalendar(deps);
  const resolved = await resolveEmail(deps, planned.employeeId, stored === undefined ? {} : { stored });
  if (resolved.email === null) throw new ExternalError('configuration', resolved.reason);
  const zone = leave.timezone ?? deps.config.DEFAULT_TIMEZONE;
  let start: Date;
  let end: Date;
  try {
    start = toInstant(planned.startLocal, zone);
    end = toInstant(planned.endLocal, zone);
  } catch (err) {
    throw new ExternalError('permanent', (err as Error).message);
  }
  if (end.getTime() <= start.getTime()) {
    throw new ExternalError('permanent', `leave ${leave.instanceCode} ends (${planned.endLocal}) no later than it starts (${planned.startLocal}) in ${zone}`);
  }

  // The address changed (override set, employee changed): the old block must not stay behind
  // on the other calendar. Its deletion is idempotent, so a retry after a failure here is safe.
  let movedFrom: string | undefined;
  if (block && block.state === 'present' && block.calendarId !== resolved.email) {
    await calendar.deleteBlock(block.calendarId, leave.instanceCode, planned.blockKey);
    movedFrom = block.calendarId;
  }

  const want: WantedBlock = {
    instanceCode: leave.instanceCode,
    ...(planned.blockKey ? { blockKey: planned.blockKey } : {}),
    calendarId: resolved.email,
    start,
    end,
    timeZone: zone,
    summary: planned.hold ? deps.config.CALENDAR_HOLD_TITLE : policy.title,
    declineMode: policy.decline_mode ?? deps.config.CALENDAR_DECLINE_MODE,
    declineMessage: deps.config.CALENDAR_DECLINE_MESSAGE,
    // a hold looks the same for every type (CALENDAR_HOLD_TRANSPARENCY); a placed block as its policy says
    ...(planned.hold
      ? { hold: { transparency: deps.config.CALENDAR_HOLD_TRANSPARENCY } }
      : policy.calendar === 'busy' || policy.calendar === 'free'
        ? { plain: { transparency: policy.calendar === 'free' ? ('transparent' as const) : ('opaque' as const) } }
        : {}),
  };
  const state = await calendar.upsertBlock(want);
  if (state.fallbackReason) {
    deps.logger.warn('calendar: out-of-office refused, opaque default event instead', { instance_code: leave.instanceCode, reason: state.fallbackReason });
  }
  return {
    result: {
      action: block?.state === 'present' && !movedFrom ? 'updated' : 'created',
      calendar_id: want.calendarId,
      event_id: state.eventId,
      event_type: state.eventType,
      fallback_reason: state.fallbackReason,
      start: start.toISOString(),
      end: end.toISOString(),
      time_zone: zone,
      ...(movedFrom ? { moved_from: movedFrom } : {}),
    },
    present: {
      blockKey: planned.blockKey,
      employeeId: planned.employeeId,
      calendarId: want.calendarId,
      eventId: state.eventId,
      eventType: state.eventType,
      startAt: state.start,
      endAt: state.end,
      fallbackReason: state.fallbackReason,
    },
  };
}

export async function removeBlock(
  deps: HandlerDeps,
  instanceCode: string,
  blockKey: string,
  employeeId: string | null,
  block: BlockRow | undefined,
  stored: StoredEmail | null | undefined,
): Promise<BlockOutcome> {
  if (block?.state === 'deleted') return { result: { action: 'nothing', detail: 'block already deleted' } };
  // Without a record, a block may still exist: the process can die between Google's answer and
  // the calendar_blocks write. The event id is deterministic, so the stored address is enough to
  // make sure. An address never resolved was never used to create anything.
  let calendarId = block?.calendarId ?? null;
  if (calendarId === null && employeeId) {
    const resolved = await resolveEmail(deps, employeeId, stored === undefined ? { lookup: false } : { lookup: false, stored });
    calendarId = resolved.email;
  }
  if (calendarId === null) return { result: { action: 'nothing', detail: 'no block was ever created (no address known)' } };
  const calendar = requireCalendar(deps);
  const outcome = await calendar.deleteBlock(calendarId, instanceCode, blockKey);
  return {
    result: { action: outcome, calendar_id: calendarId, ...(block ? { event_id: block.eventId } : {}) },
    deleted: block !== undefined,
  };
}
