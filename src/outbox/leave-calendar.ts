/** calendar.upsert and calendar.delete: one record's blocks brought to its leave's current state, tentative holds included. */
import { and, asc, eq, isNull } from 'drizzle-orm';
import { calendarBlocks, employees, leaves } from '../db/schema.js';
import { approvalFromInstance, LeaveFormError } from '../feishu/form.js';
import { baseKeyOf, blockPlan, holdKeyOf, isPlainKey, placedPlan } from '../leave/blocks.js';
import { effectivePolicy, policyDefaults, resolvePolicy, type EffectivePolicy } from '../policies/resolve.js';
import { ExternalError } from '../ports.js';
import type { BlockRecord } from './block-records.js';
import { placeBlock, removeBlock, type Wanted } from './calendar-blocks.js';
import type { HandlerDeps, HandlerOutcome, HandlerResult } from './handler-types.js';
import { lockKey } from './queries.js';
import { readSyncStates, type LeaveRow, type SyncState } from './sync-state.js';

export async function syncLeaveCalendar(deps: HandlerDeps, instanceCode: string, given?: SyncState): Promise<HandlerOutcome> {
  const state = given ?? (await readSyncStates(deps.db, [instanceCode])).get(instanceCode);
  let leave = state?.leave;
  const holds = deps.config.CALENDAR_TENTATIVE_HOLDS;
  if (leave?.status === 'pending' && holds && leave.detailSource === null) {
    const request = await readRequest(deps, leave);
    if (typeof request === 'string') return { result: { action: 'nothing', detail: request }, record: null };
    leave = request;
  }
  const defaults = policyDefaults(deps.config);
  const policy: EffectivePolicy | null = !leave
    ? null
    : leave !== state?.leave
      ? await resolvePolicy(deps.db, defaults, leave.kind, leave.leaveType ?? leave.leaveTypeKey)
      : effectivePolicy(state.policy, leave.kind, defaults);
  // A message's record always exists (the outbox row is written in the record's transaction); the
  // block-only read covers a record removed by hand, so its blocks still get cleaned up. The
  // single-block read finds a plain block first: then both of its blocks are read.
  const single = leave !== undefined && leave.kind !== 'trip' && !leave.held && leave.status !== 'pending' && !(state?.block && isPlainKey(state.block.blockKey));
  const recorded = single
    ? state!.block
      ? [state!.block]
      : []
    : await deps.db.select().from(calendarBlocks).where(eq(calendarBlocks.instanceCode, instanceCode)).orderBy(asc(calendarBlocks.blockKey));
  const plan = leave ? blockPlan(leave) : [];
  // what the policy places: out-of-office blocks, plain (busy, free) ones, or none; a type
  // without a block gets no hold either
  const placed = policy ? placedPlan(plan, policy.calendar) : plan;
  const pending = leave?.status === 'pending';
  const wanted: Wanted[] =
    leave?.status === 'approved'
      ? placed.map((p) => ({ ...p, hold: false }))
      : pending && holds && policy?.calendar !== 'none'
        ? plan.map((p) => ({ ...p, blockKey: holdKeyOf(p.blockKey), hold: true }))
        : [];
  // Holds that may exist without a record (the process can die between Google's answer and the
  // record): those its plan implies, once the record was held.
  const impliedHolds = leave?.held ? plan.map((p) => holdKeyOf(p.blockKey)) : [];
  const byKey = new Map(recorded.map((b) => [b.blockKey, b]));
  const keys = [...new Set([...(pending ? [] : placed.map((b) => b.blockKey)), ...impliedHolds, ...recorded.map((b) => b.blockKey), ...wanted.map((w) => w.blockKey)])].sort();
  if (keys.length === 0) {
    const detail = leave?.status === 'approved' && plan.length > 0 && policy?.calendar === 'none' ? 'its policy places no block' : 'no block was ever created (no address known)';
    return { result: { action: 'nothing', detail }, record: null };
  }

  const record: BlockRecord = { instanceCode, syncedAt: deps.clock.now(), present: [], deleted: [] };
  const results: NonNullable<HandlerResult['blocks']> = [];
  const employeeOf = (key: string) => {
    const real = baseKeyOf(key);
    return plan.find((b) => b.blockKey === real)?.employeeId ?? byKey.get(key)?.employeeId ?? leave?.employeeId ?? null;
  };
  // the requester's address was read with the record; a trip's peers read theirs
  const storedOf = (employeeId: string | null) => (employeeId !== null && employeeId === leave?.employeeId ? (state?.stored ?? null) : undefined);
  // Every removal before any placement: a hold is gone before the block that replaces it is
  // written, so no calendar ever shows both (Google never changes an event's type, so the
  // out-of-office block cannot take over the hold's event).
  const removals = keys.filter((k) => !wanted.some((w) => w.blockKey === k));
  for (const key of removals) {
    const employeeId = employeeOf(key);
    const outcome = await removeBlock(deps, instanceCode, key, employeeId, byKey.get(key), storedOf(employeeId));
    if (outcome.deleted) record.deleted.push(key);
    results.push({ block_key: key, employee_id: employeeId, ...outcome.result });
  }
  for (const want of wanted) {
    const outcome = await placeBlock(deps, leave!, want, byKey.get(want.blockKey), storedOf(want.employeeId), policy!);
    if (outcome.present) record.present.push(outcome.present);
    results.push({ block_key: want.blockKey, employee_id: want.employeeId, ...outcome.result });
  }
  results.sort((a, b) => (a.block_key < b.block_key ? -1 : a.block_key > b.block_key ? 1 : 0));
  const hasRecord = record.present.length > 0 || record.deleted.length > 0;
  if (keys.length === 1 && (keys[0] === '' || keys[0] === 'plain')) {
    // a record's single block: the result is the block's own, as it always was
    const { block_key: _key, employee_id: _employee, ...only } = results[0]!;
    return { result: only, record: hasRecord ? record : null };
  }
  return { result: { action: summaryAction(results.map((r) => r.action)), blocks: results }, record: hasRecord ? record : null };
}

/**
 * A pending request's detail, read from its form through the approval API
 * (GET /open-apis/approval/v4/instances/:instance_code) and stored on the record (detail source
 * `request`, ranking below everything an event or backfill says), under the record's lock. Returns
 * the record as stored, or why there is nothing to hold.
 */
async function readRequest(deps: HandlerDeps, leave: LeaveRow): Promise<LeaveRow | string> {
  if (!deps.feishu) {
    throw new ExternalError('configuration', 'tentative holds read the request from the approval API: set FEISHU_APP_ID and FEISHU_APP_SECRET');
  }
  const instance = await deps.feishu.getInstance(leave.instanceCode);
  if (!instance) return 'the approval API does not know this instance';
  if (instance.status !== 'PENDING') return `the request is ${instance.status} in Feishu; its own event decides`;
  const [employee] = instance.userId
    ? await deps.db.select({ timezone: employees.timezone }).from(employees).where(eq(employees.employeeId, instance.userId)).limit(1)
    : [];
  const zone = employee?.timezone ?? deps.config.DEFAULT_TIMEZONE;
  let request;
  try {
    request = approvalFromInstance(instance, zone);
  } catch (err) {
    if (err instanceof LeaveFormError) throw new ExternalError('permanent', `the request's form: ${err.message}`);
    throw err;
  }
  if (!request) return 'the request has no leave, out, trip or overtime widget';
  const now = deps.clock.now();
  const [stored] = await deps.db.transaction(async (tx) => {
    // the lock every writer of the record takes: an approval arriving now waits, or wins
    await lockKey(tx, leave.instanceCode);
    return tx
      .update(leaves)
      .set({
        kind: request.approvalKind,
        approvalCode: leave.approvalCode ?? request.approvalCode,
        employeeId: request.employeeId,
        openId: request.openId,
        leaveType: request.leaveType,
        unit: request.unit,
        intervalSeconds: request.intervalSeconds,
        startLocal: request.startLocal,
        endLocal: request.endLocal,
        segments: request.segments,
        segmentsSource: request.segmentsSource,
        segmentSeconds: request.segmentSeconds ?? null,
        peers: request.peers ?? null,
        reason: request.reason,
        timezone: zone,
        detailSource: 'request',
        held: true,
        updatedAt: now,
      })
      .where(and(eq(leaves.instanceCode, leave.instanceCode), eq(leaves.status, 'pending'), isNull(leaves.detailSource)))
      .returning();
  });
  // decided meanwhile: the change that decided it queued its own sync, which runs after this one
  return stored ?? 'the request was decided while its form was read';
}

/** One word for several blocks' actions: the most telling one. */
function summaryAction(actions: HandlerResult['action'][]): HandlerResult['action'] {
  for (const a of ['created', 'updated', 'deleted', 'already_gone'] as const) if (actions.includes(a)) return a;
  return 'nothing';
}
