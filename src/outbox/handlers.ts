import { and, asc, desc, eq, getTableColumns, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { calendarBlocks, employees, leavePolicies, leaves } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { resolveEmail, type StoredEmail } from '../employees.js';
import { syncCorehr, type CorehrSyncReport } from '../feishu/corehr-sync.js';
import { approvalFromInstance, LeaveFormError } from '../feishu/form.js';
import { COREHR_SYNC_KIND } from '../leave/types.js';
import { baseKeyOf, blockPlan, holdKeyOf, isPlainKey, placedPlan, type PlannedBlock } from '../leave/blocks.js';
import { effectivePolicy, policyDefaults, resolvePolicy, type EffectivePolicy, type StoredPolicy } from '../policies/resolve.js';
import { lockKey } from './queries.js';
import { syncTeamCalendar } from './team-calendar.js';
import { TEAM_OUTBOX_KIND } from '../leave/team.js';
import { toInstant } from '../shared/local-time.js';
import { ExternalError, type CalendarPort, type WantedBlock } from '../ports.js';

export type HandlerDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'calendar' | 'feishu' | 'logger' | 'metrics' | 'onOutboxWritten'>;

export interface OutboxMessage {
  id: number;
  key: string;
  kind: string;
  payload: unknown;
  attempts: number;
}

export interface HandlerResult {
  action: 'created' | 'updated' | 'deleted' | 'already_gone' | 'nothing' | 'synced';
  detail?: string;
  calendar_id?: string;
  event_id?: string;
  event_type?: string;
  fallback_reason?: string | null;
  start?: string;
  end?: string;
  time_zone?: string;
  /** set when the block moved to another calendar (new address) */
  moved_from?: string;
  /** a record with several blocks (a trip): what became of each */
  blocks?: Array<HandlerResult & { block_key: string; employee_id: string | null }>;
  /** a CoreHR sync (corehr.sync): what it read and applied */
  corehr?: CorehrSyncReport;
}

export const HANDLED_KINDS = ['calendar.upsert', 'calendar.delete', 'team_calendar.sync', COREHR_SYNC_KIND] as const;

/** One block as Google holds it after a run. */
export interface PresentBlock {
  blockKey: string;
  employeeId: string | null;
  calendarId: string;
  eventId: string;
  eventType: string;
  startAt: Date;
  endAt: Date;
  fallbackReason: string | null;
}

/**
 * What a run learned about Google for one record's blocks, for calendar_blocks. The drainer writes
 * it in the same statement as the message's completion (recordsCtes): one round trip fewer per
 * message. It is written even when the completion is fenced out: it describes Google, not the row.
 */
export interface BlockRecord {
  instanceCode: string;
  syncedAt: Date;
  present: PresentBlock[];
  /** keys of the blocks now deleted */
  deleted: string[];
}

export interface HandlerOutcome {
  result: HandlerResult;
  record: BlockRecord | null;
}

/**
 * BlockRecords as WITH entries of one statement (the drainer's completion, or a record alone),
 * or null when there are none. At most one record per record's block (an upsert cannot touch one
 * row twice; the drainer never runs two messages of one record at once, and a batch that breaks
 * this fails and is retried one by one).
 *
 * An entry is written only for records that exist, and rows are found by their key (`in (…)`):
 * an empty `update … from jsonb_to_recordset(…)` still read calendar_blocks, and the planner, which
 * guesses 100 rows for any set-returning function, joined it by hashing the whole table. On a
 * table analyzed while it was small (a new install, a backlog drained after it) that was a
 * sequential scan of every block per completion, growing with the table.
 */
export function recordsCtes(records: BlockRecord[]): SQL | null {
  const present = records.flatMap((r) =>
    r.present.map((b) => ({
      instance_code: r.instanceCode,
      block_key: b.blockKey,
      employee_id: b.employeeId,
      calendar_id: b.calendarId,
      event_id: b.eventId,
      event_type: b.eventType,
      start_at: b.startAt.toISOString(),
      end_at: b.endAt.toISOString(),
      fallback_reason: b.fallbackReason,
      synced_at: r.syncedAt.toISOString(),
    })),
  );
  const deleted = records.flatMap((r) => r.deleted.map((k) => ({ instance_code: r.instanceCode, block_key: k, synced_at: r.syncedAt.toISOString() })));
  const ctes: SQL[] = [];
  if (present.length > 0) {
    ctes.push(sql`blocks_present as (
      insert into calendar_blocks (instance_code, block_key, employee_id, calendar_id, event_id, event_type, state, start_at, end_at, fallback_reason, synced_at)
      select p.instance_code, p.block_key, p.employee_id, p.calendar_id, p.event_id, p.event_type, 'present', p.start_at, p.end_at, p.fallback_reason, p.synced_at
      from jsonb_to_recordset(${JSON.stringify(present)}::jsonb) as p(instance_code text, block_key text, employee_id text, calendar_id text,
        event_id text, event_type text, start_at timestamptz, end_at timestamptz, fallback_reason text, synced_at timestamptz)
      on conflict (instance_code, block_key) do update set employee_id = excluded.employee_id, calendar_id = excluded.calendar_id,
        event_id = excluded.event_id, event_type = excluded.event_type, state = excluded.state, start_at = excluded.start_at,
        end_at = excluded.end_at, fallback_reason = excluded.fallback_reason, synced_at = excluded.synced_at
    )`);
  }
  if (deleted.length > 0) {
    ctes.push(sql`blocks_deleted as (
      update calendar_blocks b set state = 'deleted', synced_at = d.synced_at
      from jsonb_to_recordset(${JSON.stringify(deleted)}::jsonb) as d(instance_code text, block_key text, synced_at timestamptz)
      where b.instance_code = d.instance_code and b.block_key = d.block_key and b.instance_code in ${[...new Set(deleted.map((d) => d.instance_code))]}
    )`);
  }
  return ctes.length > 0 ? sql.join(ctes, sql`, `) : null;
}

/**
 * What a run starts from: the leave, its block and its employee's stored addresses. The drainer
 * reads it for a whole claim at once (readSyncStates); a run without one reads its own.
 */
export interface SyncState {
  leave: LeaveRow;
  /**
   * the record's single block: its plain one (key `plain`, a busy or free policy) if it has one,
   * else its out-of-office one (key ''); a trip's blocks, and both of a record that has a plain
   * block, are read when its run starts
   */
  block: BlockRow | null;
  stored: StoredEmail;
  /** the most specific policy row of the record's kind and type (src/policies/resolve.ts), or none */
  policy: StoredPolicy | null;
}

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

type LeaveRow = typeof leaves.$inferSelect;
type BlockRow = typeof calendarBlocks.$inferSelect;

type JoinedState = { leave: LeaveRow; block: BlockRow | null; email: string | null; emailOverride: string | null; policy: StoredPolicy | null };
const toState = (j: JoinedState): SyncState => ({ leave: j.leave, block: j.block, stored: { email: j.email, emailOverride: j.emailOverride }, policy: j.policy });

/**
 * One leave's state in one round trip, built once per database with drizzle's prepare() (building
 * a query with this many columns from the query builder costs more CPU than Postgres spends
 * running it). The block and the employee are LATERAL lookups by key: as plain joins, on tables
 * analyzed while small (a new install, a backlog drained after it), the planner hashed the whole
 * employees table for every claim.
 */
function joinedState(db: Db) {
  const block = db
    .select()
    .from(calendarBlocks)
    .where(and(eq(calendarBlocks.instanceCode, leaves.instanceCode), inArray(calendarBlocks.blockKey, ['', 'plain'])))
    .orderBy(desc(calendarBlocks.blockKey))
    .limit(1)
    .as('b');
  // The policy row resolvePolicy would pick, most specific first: the type before the kind.
  const policy = db
    .select()
    .from(leavePolicies)
    .where(
      and(
        sql`${leavePolicies.kind} in (coalesce(${leaves.kind}, 'leave'), '*')`,
        sql`${leavePolicies.leaveType} in (coalesce(${leaves.leaveType}, ${leaves.leaveTypeKey}, '*'), '*')`,
      ),
    )
    .orderBy(sql`${leavePolicies.leaveType} = '*'`, sql`${leavePolicies.kind} = '*'`)
    .limit(1)
    .as('p');
  const employee = db
    .select({ email: employees.email, emailOverride: employees.emailOverride })
    .from(employees)
    .where(eq(employees.employeeId, leaves.employeeId))
    .limit(1)
    .as('e');
  // the block's columns as the subquery exposes them (aliased to b), typed as the table's
  const blockColumns = Object.fromEntries(
    Object.keys(getTableColumns(calendarBlocks)).map((k) => [k, block[k as keyof typeof block]]),
  ) as typeof block._.selectedFields;
  const policyColumns = Object.fromEntries(
    Object.keys(getTableColumns(leavePolicies)).map((k) => [k, policy[k as keyof typeof policy]]),
  ) as typeof policy._.selectedFields;
  return db
    .select({ leave: leaves, block: blockColumns, email: employee.email, emailOverride: employee.emailOverride, policy: policyColumns })
    .from(leaves)
    .leftJoinLateral(block, sql`true`)
    .leftJoinLateral(employee, sql`true`)
    .leftJoinLateral(policy, sql`true`);
}

function buildReadStates(db: Db) {
  return joinedState(db)
    .where(sql`${leaves.instanceCode} = any(${sql.placeholder('codes')}::text[])`)
    .prepare('lb_sync_read_states');
}
const prepared = new WeakMap<Db, ReturnType<typeof buildReadStates>>();

/**
 * The states of several leaves in one query (the drainer's claim, or one run); leaves that do not
 * exist are absent. Built once per database (see joinedState) and given the codes as one array.
 */
export async function readSyncStates(db: Db, instanceCodes: string[]): Promise<Map<string, SyncState>> {
  const out = new Map<string, SyncState>();
  if (instanceCodes.length === 0) return out;
  let q = prepared.get(db);
  if (!q) prepared.set(db, (q = buildReadStates(db)));
  const rows = await q.execute({ codes: instanceCodes });
  for (const r of rows) out.set(r.leave.instanceCode, toState(r));
  return out;
}

type Wanted = PlannedBlock & { hold: boolean };

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

async function placeBlock(
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

async function removeBlock(
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
