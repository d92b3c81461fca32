import { fromMicro, toMicro } from '../../shared/decimal.js';
import { QUANTITY_KINDS, UNIT_INFO, type LeaveUnit } from '../../leave/types.js';
import { blockPlan, isPlainKey, plainKeyOf } from '../../leave/blocks.js';
import type { PolicySet } from '../../policies/resolve.js';
import { blockId, type BlockRow, type EmployeeRow, type Facts, type LeaveRow, type QuarantinedRow, type SourcePair } from './facts.js';
import { PENDING_WARN_MS, SINGLE_VARIANT_GRACE_MS, type DriftItem } from './types.js';

/*
 * Checks of what we recorded, without asking Google or Feishu: calendar work pending, held or dead,
 * missing or left-over blocks, totals that do not add up, a single variant, people without an
 * address, quarantined events. Each problem becomes an item with what to do about it.
 */

const OPEN = new Set(['pending', 'running', 'held']);

const age = (now: Date, since: Date) => Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));

export function formatAge(seconds: number): string {
  if (seconds < 90) return `${seconds}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** Problems of each leave of the period, as far as our own records tell. */
export function checkLeaves(facts: Facts, now: Date, items: DriftItem[], policies: PolicySet): void {
  const { scope, messagesByKey, blockByCode, sumsByCode } = facts;
  // A planned block is recorded under its own key (out-of-office) or its plain key (a busy or
  // free policy); a past block keeps the kind it was made with when the policy changes.
  const variantsOf = (code: string, key: string) =>
    [blockByCode.get(blockId(code, key)), blockByCode.get(blockId(code, plainKeyOf(key)))].filter((b): b is BlockRow => b !== undefined);
  for (const leave of scope) {
    const code = leave.instanceCode;
    const emp = leave.employeeId;
    const msgs = messagesByKey.get(code) ?? [];
    const open = msgs.filter((m) => OPEN.has(m.status));
    // A dead message stops mattering once a later message of the same leave has gone through.
    const dead = msgs.filter((m) => m.status === 'dead' && !msgs.some((later) => later.id > m.id && later.status === 'done'));

    for (const m of open) {
      const seconds = age(now, m.createdAt);
      const held = m.status === 'held';
      items.push({
        category: 'calendar_pending',
        instance_code: code,
        employee_id: emp,
        detail:
          `${m.kind} #${m.id} ${m.status} for ${formatAge(seconds)}` +
          (m.attempts ? `, ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}` : '') +
          (m.lastError ? `; last error: ${m.lastError}` : ''),
        action: held
          ? `Held on a configuration problem: fix it (${m.lastError ?? 'see last error'}), then POST /api/outbox/${m.id}/retry.`
          : m.status === 'running'
            ? 'Being worked on; if it stays running past its lease another drainer takes it over. Check again shortly.'
            : seconds < PENDING_WARN_MS / 1000
              ? 'Queued; the drainer will handle it shortly.'
              : 'Waiting longer than expected: check that `leave-bridge serve` (the drainer) runs and look at its logs and /metrics.',
        severity: held ? 'error' : seconds < PENDING_WARN_MS / 1000 || m.status === 'running' ? 'info' : 'warning',
        data: { outbox_id: m.id, kind: m.kind, status: m.status, attempts: m.attempts, age_seconds: seconds, run_after: m.runAfter.toISOString(), last_error: m.lastError },
      });
    }
    for (const m of dead) {
      items.push({
        category: 'calendar_dead',
        instance_code: code,
        employee_id: emp,
        detail: `${m.kind} #${m.id} is dead after ${m.attempts} attempt${m.attempts === 1 ? '' : 's'}: ${m.lastError ?? 'no error recorded'}`,
        action: `Fix the cause named in the error, then POST /api/outbox/${m.id}/retry (or \`leave-bridge outbox retry ${m.id}\`).`,
        severity: 'error',
        data: { outbox_id: m.id, kind: m.kind, attempts: m.attempts, last_error: m.lastError, updated_at: m.updatedAt.toISOString() },
      });
    }

    const planned = blockPlan(leave);
    const blocks = planned.map((p) => {
      const variants = variantsOf(code, p.blockKey);
      return { p, variants, block: variants.find((b) => b.state === 'present') ?? variants[0] };
    });
    // a type whose policy places no block misses none
    const placesBlocks = policies.resolve(leave.kind, leave.leaveType ?? leave.leaveTypeKey).calendar !== 'none';
    // a trip's items name the block and whose calendar it is on
    const which = (blockKey: string, employeeId: string) => (blockKey === '' ? {} : { block_key: blockKey, employee_id: employeeId });
    const whose = (blockKey: string) => (blockKey === '' ? '' : ` (block ${blockKey})`);
    if (leave.status === 'approved') {
      for (const { p, block } of blocks) {
        const present = block?.state === 'present';
        if (!present && open.length === 0 && placesBlocks) {
          const lastDead = dead.filter((m) => m.kind === 'calendar.upsert').at(-1);
          items.push({
            category: 'calendar_missing',
            instance_code: code,
            employee_id: p.employeeId,
            detail:
              `approved ${leave.kind ?? 'leave'} ${p.startLocal} → ${p.endLocal}${whose(p.blockKey)} has no calendar block` +
              (block ? ` (block ${block.eventId} recorded as ${block.state})` : '') +
              (lastDead ? `; its upsert #${lastDead.id} is dead` : '; nothing is queued'),
            action: lastDead
              ? `Fix the dead upsert's cause and POST /api/outbox/${lastDead.id}/retry.`
              : `Check that the calendar sync is configured, then queue a sync: POST /api/approvals/${code}/sync (or \`leave-bridge outbox sync ${code}\`).`,
            severity: 'error',
            data: { block_state: block?.state ?? 'absent', ...which(p.blockKey, p.employeeId) },
          });
        }
        if (present && block.eventType === 'default' && !isPlainKey(block.blockKey)) {
          items.push({
            category: 'calendar_fallback',
            instance_code: code,
            employee_id: p.employeeId,
            detail: `an opaque default event stands in for out-of-office on ${block.calendarId}: ${block.fallbackReason ?? 'Google refused the outOfOffice type'}`,
            action:
              'Google refuses out-of-office events on this calendar (not a Workspace account, or a policy). The time shows as busy but meetings are not declined; move the person to a Workspace account if that matters.',
            severity: 'info',
            data: { calendar_id: block.calendarId, event_id: block.eventId, fallback_reason: block.fallbackReason, ...which(p.blockKey, p.employeeId) },
          });
        }
      }
      checkTotals(leave, sumsByCode.get(code) ?? [], items);
      // only a leave has two variants (leave_approval and leave_approvalV2)
      if ((leave.kind ?? 'leave') === 'leave' && leave.hasV1 !== leave.hasV2 && (leave.detailSource === 'v1' || leave.detailSource === 'v2') && now.getTime() - leave.createdAt.getTime() > SINGLE_VARIANT_GRACE_MS) {
        const got = leave.hasV1 ? 'leave_approval (V1)' : 'leave_approvalV2 (V2)';
        const missing = leave.hasV1 ? 'leave_approvalV2 (V2)' : 'leave_approval (V1)';
        items.push({
          category: 'single_variant',
          instance_code: code,
          employee_id: emp,
          detail: `only ${got} arrived; ${missing} never did`,
          action: leave.hasV1
            ? 'Informational: the leave is recorded from V1 (no leave_range segments, V1 name). Subscribe the app to leave_approvalV2 if half-day segments matter.'
            : 'Informational: V1 was never delivered; nothing is missing for payroll or the calendar.',
          severity: 'info',
        });
      }
    } else {
      for (const { p, variants } of blocks) for (const block of variants) {
        if (block.state !== 'present') continue;
        const openDelete = open.some((m) => m.kind === 'calendar.delete' && m.status !== 'held');
        if (openDelete) continue;
        const deadDelete = dead.filter((m) => m.kind === 'calendar.delete').at(-1);
        items.push({
          category: 'block_for_reverted',
          instance_code: code,
          employee_id: p.employeeId,
          detail: `${leave.kind ?? 'leave'} reverted ${leave.revertedAt?.toISOString() ?? ''} but block ${block.eventId} on ${block.calendarId} is still recorded as present` + (deadDelete ? `; delete #${deadDelete.id} is dead` : ''),
          action: deadDelete
            ? `POST /api/outbox/${deadDelete.id}/retry once its cause is fixed, or delete event ${block.eventId} in ${block.calendarId} by hand.`
            : `Queue a sync, which deletes the block of a reverted approval: POST /api/approvals/${code}/sync (or \`leave-bridge outbox sync ${code}\`). The person still shows as out of office until then.`,
          severity: 'error',
          data: { calendar_id: block.calendarId, event_id: block.eventId, ...which(p.blockKey, p.employeeId) },
        });
      }
    }
  }
}

/**
 * People whose approved leave has no address to put a block on: one item per person, however
 * many pages of leaves they appear in (`add` each page, then `items`).
 */
export class EmailCheck {
  // One item per person, not per leave: the fix (an email) is per person. The drainer looks the
  // address up when it first needs it, so a person never looked up while their calendar work is
  // still queued is not a problem yet.
  private readonly people = new Map<string, { leaves: Array<{ code: string; start: string }>; lookupQueued: boolean; employee: EmployeeRow | undefined }>();

  add(facts: Facts): void {
    const { scope, messagesByKey, employeeById, emailOf } = facts;
    for (const leave of scope) {
      // only the kinds with blocks need an address
      if (leave.status !== 'approved' || blockPlan(leave).length === 0 || !leave.employeeId || emailOf(leave.employeeId)) continue;
      const person = this.people.get(leave.employeeId) ?? { leaves: [], lookupQueued: false, employee: employeeById.get(leave.employeeId) };
      person.leaves.push({ code: leave.instanceCode, start: leave.startLocal ?? '' });
      if ((messagesByKey.get(leave.instanceCode) ?? []).some((m) => m.status === 'pending' || m.status === 'running')) person.lookupQueued = true;
      this.people.set(leave.employeeId, person);
    }
  }

  items(): DriftItem[] {
    const items: DriftItem[] = [];
    for (const [employeeId, { leaves, lookupQueued, employee: e }] of this.people) {
      if (!e?.fetchedAt && lookupQueued) continue;
      // a person's leaves in the order they start
      const leaveCodes = leaves.sort(byStart).map((l) => l.code);
      items.push({
        category: 'employee_without_email',
        instance_code: leaveCodes[0]!,
        employee_id: employeeId,
        detail:
          `${e?.name ? `${e.name} ` : ''}has no email ` +
          (e?.fetchedAt ? `(the Feishu contact API returned none at ${e.fetchedAt.toISOString()})` : '(not looked up in Feishu yet)') +
          `; affects ${leaveCodes.length} leave${leaveCodes.length === 1 ? '' : 's'}: ${leaveCodes.slice(0, 5).join(', ')}${leaveCodes.length > 5 ? ', …' : ''}`,
        action:
          'No calendar block and an empty email column in payroll until fixed: give the Feishu app the contact email permission, or set an email override for this employee.',
        severity: 'warning',
        data: { leaves: leaveCodes },
      });
    }
    return items;
  }
}

/** Quarantined events, whatever their date: authentic, kept, waiting for a fix and a replay. */
export function checkQuarantined(quarantined: QuarantinedRow[], items: DriftItem[]): void {
  for (const q of quarantined) {
    items.push({
      category: 'quarantined_event',
      instance_code: q.instanceCode,
      employee_id: null,
      detail: `${q.eventType} event #${q.id} received ${q.receivedAt.toISOString()} was quarantined: ${q.reason ?? 'no reason recorded'}`,
      action: `Inspect it (GET /api/events?status=quarantined), then POST /api/events/${q.id}/replay, with a corrected event as the body if needed.`,
      severity: 'error',
      data: { event_id: q.id, event_type: q.eventType },
    });
  }
}

/**
 * Active days must add up to leave_interval in the unit's base (÷86400 day, ÷3600 hour, ÷60
 * minute), once for each person: a trip's peers have the same days as the requester.
 */
function checkTotals(leave: LeaveRow, sums: Array<{ unit: string; total: string }>, items: DriftItem[]): void {
  if (!leave.unit || leave.intervalSeconds === null) return;
  const info = UNIT_INFO[leave.unit as LeaveUnit];
  if (!info) return;
  const people = BigInt(1 + (leave.kind === 'trip' ? (leave.peers ?? []).length : 0));
  const micro = sums.filter((s) => s.unit === info.base).reduce((acc, s) => acc + toMicro(s.total), 0n);
  const otherUnits = sums.filter((s) => s.unit !== info.base).map((s) => s.unit);
  // interval / baseSeconds in millionths, exactly: compare micro × base with interval × 10^6.
  const matches = micro * BigInt(info.baseSeconds) === BigInt(leave.intervalSeconds) * people * 1_000_000n && otherUnits.length === 0;
  if (matches) return;
  const expected = fromMicro((BigInt(leave.intervalSeconds) * people * 1_000_000n) / BigInt(info.baseSeconds));
  items.push({
    category: 'attendance_total_mismatch',
    instance_code: leave.instanceCode,
    employee_id: leave.employeeId,
    detail:
      `active days add up to ${fromMicro(micro)} ${info.base} but leave_interval ${leave.intervalSeconds}s is ${expected} ${info.base}` +
      (otherUnits.length ? `; days in other units: ${otherUnits.join(', ')}` : ''),
    action: `Payroll would pay the wrong amount: hold this leave's lines and look at GET /api/leaves/${leave.instanceCode} (days and history). The days are derived from the approval's own detail, so this points at a defect; report it with that JSON.`,
    severity: 'error',
    data: { sum: fromMicro(micro), expected, unit: info.base },
  });
}

/**
 * Types of the period's approvals that no policy names, neither for their kind nor for every kind
 * (`unmapped_leave_type`): they get a default policy, so a new type in Feishu would be coded and
 * shown as the default says without anyone having decided it. Listed once policies are in use (a
 * stored policy exists): before that every type has today's behaviour on purpose. One item per
 * kind and type, however many pages of leaves its approvals are in (`add` each page, then `items`).
 */
export class UnmappedTypesCheck {
  // Per kind and type: how many approvals, and only the first few of them (the item names those),
  // so what is held does not grow with the period.
  private readonly unmapped = new Map<string, { kind: string; type: string; count: number; first: Array<{ code: string; start: string }> }>();
  constructor(private readonly policies: PolicySet) {}

  add(facts: Facts): void {
    if (this.policies.rows.length === 0) return;
    for (const leave of facts.scope) {
      const kind = leave.kind ?? 'leave';
      const type = leave.leaveType ?? leave.leaveTypeKey;
      if (leave.status !== 'approved' || type === null || !(QUANTITY_KINDS as readonly string[]).includes(kind) || this.policies.explicit(kind, type)) continue;
      const key = `${kind}\u0000${type}`;
      const entry = this.unmapped.get(key) ?? { kind, type, count: 0, first: [] };
      entry.count++;
      keepFirst(entry.first, { code: leave.instanceCode, start: leave.startLocal ?? '' }, UNMAPPED_LEAVES_LISTED);
      this.unmapped.set(key, entry);
    }
  }

  items(): DriftItem[] {
    const items: DriftItem[] = [];
    for (const { kind, type, count, first } of this.unmapped.values()) {
      const codes = first.map((l) => l.code);
      const source = this.policies.resolve(kind, type).source;
      const from = source ? `the policy of kind ${source.kind} and type ${source.leave_type}` : 'the built-in default (out-of-office for kinds with blocks, name only, no payroll code)';
      items.push({
        category: 'unmapped_leave_type',
        instance_code: codes[0]!,
        employee_id: null,
        detail: `${kind} type ${JSON.stringify(type)} has no policy of its own; ${count} approval${count === 1 ? '' : 's'} of the period use ${from}`,
        action: `Decide what it does and which payroll code it has: PUT /api/policies/${encodeURIComponent(type)}?kind=${kind} (or \`leave-bridge policy set\`, or the dashboard's policy page).`,
        severity: 'warning',
        data: { kind, leave_type: type, leaves: codes, count, policy: source },
      });
    }
    return items;
  }
}

/** Approvals an unmapped_leave_type item names (the first to start), whatever their number. */
const UNMAPPED_LEAVES_LISTED = 20;

/** In the order approvals start (pages come in instance code order), then by code. */
const byStart = (a: { code: string; start: string }, b: { code: string; start: string }) =>
  a.start < b.start ? -1 : a.start > b.start ? 1 : a.code < b.code ? -1 : a.code > b.code ? 1 : 0;

/** Keep `list` the first `max` of everything offered, in start order. */
function keepFirst(list: Array<{ code: string; start: string }>, leave: { code: string; start: string }, max: number): void {
  if (list.length === max && byStart(leave, list.at(-1)!) >= 0) return;
  let at = list.length;
  while (at > 0 && byStart(leave, list[at - 1]!) < 0) at--;
  list.splice(at, 0, leave);
  if (list.length > max) list.pop();
}

/**
 * The same time off approved twice, once in the Approval app and once in Feishu People (CoreHR),
 * for the same person: both are recorded, so payroll counts it twice and two blocks are written.
 * Nothing merges them silently (they may differ in type or quantity); a person decides which one
 * stands. One item per pair of overlapping approved leaves (found by `sourcePairsPage`).
 */
export function checkSourcePairs(pairs: SourcePair[], items: DriftItem[]): void {
  for (const { employeeId, corehrCode: c, approvalCode: a, ...p } of pairs) {
    const from = p.approvalStart > p.corehrStart ? p.approvalStart : p.corehrStart;
    const to = p.approvalEnd < p.corehrEnd ? p.approvalEnd : p.corehrEnd;
    items.push({
      category: 'duplicate_source',
      instance_code: c,
      employee_id: employeeId,
      detail: `${c} (Feishu People, ${p.corehrType ?? 'leave'} ${p.corehrStart} → ${p.corehrEnd}) overlaps approval ${a} (${p.approvalType ?? 'leave'} ${p.approvalStart} → ${p.approvalEnd}) from ${from} to ${to}`,
      action:
        'The same time off was approved in the Approval app and in Feishu People: payroll counts both and both block the calendar. Withdraw or cancel the one that should not stand in Feishu; its revert or cancellation removes it here.',
      severity: 'error',
      data: { approval_instance_code: a, corehr_instance_code: c, overlap_start: from, overlap_end: to },
    });
  }
}
