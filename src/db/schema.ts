/**
 * Every table, in one file on purpose: drizzle-kit generates the migrations from it
 * (drizzle.config.ts), and a reader sees the whole data model in one place. Each table's docblock
 * says what it holds; the functions over them are in src/db/sql/.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every delivery we accepted as authentic, whatever became of it. The unique key is what makes
 * delivery exactly-once: Feishu re-pushes for ~7.1 h and we keep rows far longer than that.
 * The key is (event_key, event_type) rather than event_key alone because Feishu's own documented
 * examples reuse one uuid across leave_approval, leave_approvalV2 and the revert; a true
 * re-delivery repeats both.
 */
export const inboxEvents = pgTable(
  'inbox_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventKey: text('event_key').notNull(),
    eventType: text('event_type').notNull(),
    /** webhook | ws | backfill | replay | corehr (a request the CoreHR sync read) */
    source: text('source').notNull(),
    instanceCode: text('instance_code'),
    /** applied | ignored | quarantined (a replayed row becomes applied or ignored; see history) */
    status: text('status').notNull(),
    /** created | enriched | unchanged | reverted | revert_remembered | already_reverted */
    effect: text('effect'),
    reason: text('reason'),
    /** the decrypted body (token redacted); null once purged after EVENT_PAYLOAD_RETENTION */
    payload: jsonb('payload'),
    receivedAt: tz('received_at').notNull().defaultNow(),
    /** when the retention purge removed `payload`; the row itself stays, so re-pushes stay duplicates */
    payloadPurgedAt: tz('payload_purged_at'),
    /** every replay of a quarantined row: when, with a corrected event or not, what it was, what it became */
    history: jsonb('history').notNull().default([]),
  },
  (t) => [
    uniqueIndex('inbox_events_key_uq').on(t.eventKey, t.eventType),
    index('inbox_events_instance_idx').on(t.instanceCode),
    // Only what the admin API lists by status (GET /api/events): an index of every applied row
    // cost each ingest an index entry that no query reads.
    index('inbox_events_status_idx').on(t.status).where(sql`status in ('quarantined', 'ignored')`),
  ],
);

/**
 * One row per Feishu approval instance of any kind (leave, out, trip, overtime, remedy, shift;
 * docs/decisions/0031-one-table-for-every-approval-kind.md): the events of one approval merge
 * here, a revert marks it. The table keeps its name: leaves were its first kind.
 */
export const leaves = pgTable(
  'leaves',
  {
    instanceCode: text('instance_code').primaryKey(),
    /** leave | out | trip | overtime | remedy | shift; null while only a revert that does not say is known */
    kind: text('kind'),
    approvalCode: text('approval_code'),
    tenantKey: text('tenant_key'),
    employeeId: text('employee_id'),
    openId: text('open_id'),
    leaveType: text('leave_type'),
    leaveTypeKey: text('leave_type_key'),
    /** DAY | HALF_DAY | HOUR | HALF_HOUR | MINUTE */
    unit: text('unit'),
    intervalSeconds: integer('interval_seconds'),
    startLocal: text('start_local'),
    endLocal: text('end_local'),
    segments: jsonb('segments').$type<Array<[string, string]>>(),
    segmentsSource: text('segments_source'),
    timezone: text('timezone'),
    reason: text('reason'),
    /** a trip's peers (user_ids), who travel too */
    peers: jsonb('peers').$type<string[]>(),
    /** each segment's own seconds (trip schedules, overtime work_detail) */
    segmentSeconds: jsonb('segment_seconds').$type<number[]>(),
    /** what else the kind's event says (remedy time, shift times, a trip's places) */
    extra: jsonb('extra').$type<Record<string, unknown>>(),
    /** approved | reverted; pending | rejected with tentative holds on (CALENDAR_TENTATIVE_HOLDS) */
    status: text('status').notNull(),
    /** v1 | v2 | backfill | request (a pending request's form) | corehr; null while only a revert is known */
    detailSource: text('detail_source'),
    /** where the record comes from: approval (the Approval app) | corehr (Feishu People leave requests) */
    source: text('source').notNull().default('approval'),
    /** a tentative hold was placed while it was pending: its hold events are removed when it is decided */
    held: boolean('held').notNull().default(false),
    hasV1: boolean('has_v1').notNull().default(false),
    hasV2: boolean('has_v2').notNull().default(false),
    approvedAt: tz('approved_at'),
    revertedAt: tz('reverted_at'),
    revision: integer('revision').notNull().default(0),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('leaves_employee_idx').on(t.employeeId),
    // Most leaves are approved, and a list of those reads the table anyway; only the reverted
    // ones are worth an index (GET /api/leaves?status=reverted). Ingest writes no entry for an
    // approved leave, neither when it creates it nor when V2 rewrites its row.
    index('leaves_status_idx').on(t.status).where(sql`status <> 'approved'`),
  ],
);

/**
 * Quantities per employee per local date. A re-allocation (V2 enriching V1) supersedes the old
 * revision; a revert marks rows reverted. Nothing is ever deleted: payroll may already hold them.
 */
export const attendanceDays = pgTable(
  'attendance_days',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    instanceCode: text('instance_code').notNull(),
    employeeId: text('employee_id').notNull(),
    date: date('date', { mode: 'string' }).notNull(),
    quantity: numeric('quantity', { precision: 14, scale: 6 }).notNull(),
    /** day | hour | minute */
    unit: text('unit').notNull(),
    revision: integer('revision').notNull(),
    /** active | superseded | reverted */
    status: text('status').notNull().default('active'),
    /** CoreHR's paid_type of the date (1 not in payroll, 2 affects pay, 3 does not affect pay); null for Approval records */
    paidType: integer('paid_type'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // a trip's peers have days of the same record on the same dates
    uniqueIndex('attendance_days_rev_emp_uq').on(t.instanceCode, t.revision, t.employeeId, t.date),
    index('attendance_days_active_date_idx').on(t.date).where(sql`status = 'active'`),
    // A leave's active days, read and superseded on every re-allocation and revert. Without it,
    // on tables not yet analyzed (a new install, a backfill's first minute) the planner ANDed
    // the date index above, i.e. read every active day of every leave, per event.
    index('attendance_days_active_instance_idx').on(t.instanceCode).where(sql`status = 'active'`),
  ],
);

/**
 * Work for the outside world, written in the same transaction as the leave. One pending row per
 * (key, kind) at most: a later change of the same leave coalesces into the waiting row, because the
 * handler reads the leave's current state when it runs.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** ordering key: the instance_code (`corehr` for the CoreHR sync) */
    key: text('key').notNull(),
    /** calendar.upsert | calendar.delete | corehr.sync | … */
    kind: text('kind').notNull(),
    payload: jsonb('payload').notNull().default({}),
    /** pending | running | done | dead | held */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    runAfter: tz('run_after').notNull().defaultNow(),
    leaseUntil: tz('lease_until'),
    leasedBy: text('leased_by'),
    lastError: text('last_error'),
    result: jsonb('result'),
    createdAt: tz('created_at').notNull().defaultNow(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    doneAt: tz('done_at'),
  },
  (t) => [
    uniqueIndex('outbox_pending_uq').on(t.key, t.kind).where(sql`status = 'pending'`),
    index('outbox_due_idx').on(t.runAfter, t.id).where(sql`status = 'pending'`),
    index('outbox_key_idx').on(t.key, t.id),
    // What GET /api/outbox?status= lists for attention (pending rows have outbox_due_idx, done
    // ones are most of the table): ingest's rows and the drainer's completions write no entry.
    index('outbox_status_idx').on(t.status).where(sql`status not in ('pending', 'done')`),
  ],
);

/**
 * What we believe is in Google for each block of a record: a leave or an out has one block (key
 * ''), a trip one per schedule segment for the requester and each peer (src/leave/blocks.ts).
 */
export const calendarBlocks = pgTable('calendar_blocks', {
  instanceCode: text('instance_code').notNull(),
  /** '' for a record's single block; `<segment>@<employee_id>` for a trip's */
  blockKey: text('block_key').notNull().default(''),
  /** whose calendar (the requester, or a trip's peer); null on rows written before blocks had keys */
  employeeId: text('employee_id'),
  calendarId: text('calendar_id').notNull(),
  eventId: text('event_id').notNull(),
  /** outOfOffice | default (fallback where Google refuses OOO) */
  eventType: text('event_type').notNull(),
  /** present | deleted */
  state: text('state').notNull(),
  startAt: tz('start_at'),
  endAt: tz('end_at'),
  fallbackReason: text('fallback_reason'),
  syncedAt: tz('synced_at').notNull().defaultNow(),
}, (t) => [uniqueIndex('calendar_blocks_block_uq').on(t.instanceCode, t.blockKey)]);

/**
 * The path of an approval through its approvers (approval_task events), kept whether or not its
 * instance is known yet: a record's timeline shows them once it is.
 */
export const approvalTasks = pgTable(
  'approval_tasks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    instanceCode: text('instance_code').notNull(),
    approvalCode: text('approval_code'),
    taskId: text('task_id').notNull(),
    /** empty for an automatic approval */
    userId: text('user_id'),
    openId: text('open_id'),
    /** PENDING | APPROVED | REJECTED | TRANSFERRED | ROLLBACK | DONE | REVERTED | OVERTIME_CLOSE | OVERTIME_RECOVER | … */
    status: text('status').notNull(),
    operateTime: tz('operate_time'),
    extra: jsonb('extra'),
    createdAt: tz('created_at').notNull().defaultNow(),
  },
  (t) => [
    // one row per step whatever the deliveries: a re-push under another uuid changes nothing
    uniqueIndex('approval_tasks_step_uq').on(t.instanceCode, t.taskId, t.status, t.operateTime),
  ],
);

/** Feishu user_id → email (and zone), cached from the contact API or set by an operator. */
export const employees = pgTable('employees', {
  employeeId: text('employee_id').primaryKey(),
  openId: text('open_id'),
  name: text('name'),
  email: text('email'),
  emailOverride: text('email_override'),
  timezone: text('timezone'),
  /** open_department_ids the contact API gave when the employee was last looked up (department feeds) */
  departmentIds: jsonb('department_ids').$type<string[]>(),
  fetchedAt: tz('fetched_at'),
  updatedAt: tz('updated_at').notNull().defaultNow(),
});

/** Each payroll export as it was handed out, so a later revert can be reported as an adjustment. */
export const payrollExports = pgTable(
  'payroll_exports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    fromDate: date('from_date', { mode: 'string' }).notNull(),
    toDate: date('to_date', { mode: 'string' }).notNull(),
    format: text('format').notNull(),
    lineCount: integer('line_count').notNull(),
    /**
     * Lines of exports recorded before payroll_export_lines existed; moved there by a migration
     * and null ever since (an export's lines and adjustments are rows of payroll_export_lines).
     */
    lines: jsonb('lines'),
    /** the approval kinds the export covered (null: leaves, as before kinds existed) */
    kinds: jsonb('kinds').$type<string[]>(),
    createdAt: tz('created_at').notNull().defaultNow(),
    /** when the retention purge removed the lines' email addresses (EXPORT_RETENTION) */
    emailsDroppedAt: tz('emails_dropped_at'),
  },
  (t) => [index('payroll_exports_period_idx').on(t.fromDate, t.toDate)],
);

/**
 * The rows of a recorded export, in the export's order (`seq`): its lines, then its adjustments.
 * One row per line rather than one jsonb value per export, so an export is written by the
 * database from attendance_days (insert … select), compared with earlier exports in SQL and read
 * back in keyset chunks: the service never holds a whole export.
 */
export const payrollExportLines = pgTable(
  'payroll_export_lines',
  {
    // no foreign key: an export's rows are written once, with it, in its transaction, and never
    // deleted; checking the key cost as much as writing the rows
    exportId: bigint('export_id', { mode: 'number' }).notNull(),
    seq: integer('seq').notNull(),
    /** line | adjustment */
    lineType: text('line_type').notNull(),
    employeeId: text('employee_id').notNull(),
    openId: text('open_id'),
    email: text('email'),
    leaveType: text('leave_type'),
    date: date('date', { mode: 'string' }).notNull(),
    /** a line's quantity; an adjustment's signed difference */
    quantity: numeric('quantity', { precision: 14, scale: 6 }).notNull(),
    unit: text('unit').notNull(),
    instanceCode: text('instance_code').notNull(),
    /** the approval's kind (null: a line recorded before kinds existed, a leave) */
    kind: text('kind'),
    /** CoreHR's paid_type of the date, as the day record had it (null for Approval records) */
    paidType: integer('paid_type'),
    /** adjustments only: reverted | changed | added */
    reason: text('reason'),
    previousQuantity: numeric('previous_quantity', { precision: 14, scale: 6 }),
    currentQuantity: numeric('current_quantity', { precision: 14, scale: 6 }),
    previousExportId: bigint('previous_export_id', { mode: 'number' }),
  },
  // a later export's baseline reads an earlier export's rows by export_id: the key's prefix
  (t) => [primaryKey({ columns: [t.exportId, t.seq] })],
);

/**
 * Dashboard sessions. Only a SHA-256 of the session id is kept: a copy of this table (a backup, a
 * read replica) opens no browser session. A session ends at `expires_at`, after
 * SESSION_IDLE_TIMEOUT without use, or when revoked (sign-out, an operator).
 */
export const adminSessions = pgTable(
  'admin_sessions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    idHash: text('id_hash').notNull(),
    /** feishu (a named operator) | token (signed in with ADMIN_TOKEN) */
    actorKind: text('actor_kind').notNull(),
    /** Feishu user_id (else open_id) of a named operator */
    actorId: text('actor_id'),
    actorOpenId: text('actor_open_id'),
    actorName: text('actor_name'),
    /** token sessions: a hash of the ADMIN_TOKEN they signed in with, so rotating it ends them */
    credentialHash: text('credential_hash'),
    address: text('address'),
    createdAt: tz('created_at').notNull(),
    lastSeenAt: tz('last_seen_at').notNull(),
    expiresAt: tz('expires_at').notNull(),
    revokedAt: tz('revoked_at'),
  },
  (t) => [uniqueIndex('admin_sessions_id_hash_uq').on(t.idHash), index('admin_sessions_expires_idx').on(t.expiresAt)],
);

/** Who did what to the admin surface, when, from where (GET /api/audit, /dashboard/audit). */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: tz('at').notNull(),
    /** feishu | token | anonymous (a failed sign-in) */
    actorKind: text('actor_kind').notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    /** sign_in, sign_in_failed, sign_out, event.replay, outbox.retry, employee.update, payroll.export, session.revoke, … */
    action: text('action').notNull(),
    target: text('target'),
    /** ok | failed */
    outcome: text('outcome').notNull(),
    detail: jsonb('detail'),
    address: text('address'),
  },
  (t) => [index('audit_log_at_idx').on(t.at), index('audit_log_action_idx').on(t.action, t.id)],
);

/**
 * Failed authentications per client address in the current window, shared by every process and
 * every Worker isolate (they have no memory in common): AUTH_FAILURE_LIMIT failures within
 * AUTH_FAILURE_WINDOW of the first one answer 429 until that window ends.
 */
export const authFailures = pgTable('auth_failures', {
  address: text('address').primaryKey(),
  failures: integer('failures').notNull(),
  windowStartedAt: tz('window_started_at').notNull(),
});

/**
 * What an approval of a kind and type does outside the database: its calendar block, the block's
 * title, how it shows on the team calendar and in feeds, its payroll code, whether the dashboard
 * counts it as leave (src/policies/resolve.ts). `*` in kind or leave_type is the default for every
 * kind or every type; the most specific row wins, and no row at all is today's behaviour.
 */
export const leavePolicies = pgTable(
  'leave_policies',
  {
    /** leave | out | trip | overtime | remedy | shift, or `*` for every kind */
    kind: text('kind').notNull(),
    /** the resolved type name (as in the export), or `*` for every type */
    leaveType: text('leave_type').notNull(),
    /** outOfOffice | busy | free | none */
    calendar: text('calendar').notNull(),
    /** outOfOffice only; null: CALENDAR_DECLINE_MODE */
    declineMode: text('decline_mode'),
    /** null: CALENDAR_EVENT_TITLE */
    title: text('title'),
    /** name_and_type | name_only | hidden */
    visibility: text('visibility').notNull(),
    payrollCode: text('payroll_code'),
    /** null: the kind's default (leave counts, other kinds do not) */
    countsAsLeave: boolean('counts_as_leave'),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'leave_policies_pk', columns: [t.kind, t.leaveType] })],
);

/**
 * What we believe is on the shared team absence calendar (GOOGLE_TEAM_CALENDAR_ID): one event per
 * absent person per record (src/leave/team.ts), apart from calendar_blocks, whose rows the personal
 * sync reads as the record's blocks.
 */
export const teamCalendarEvents = pgTable(
  'team_calendar_events',
  {
    instanceCode: text('instance_code').notNull(),
    /** `team` for a record's requester, `team@<employee_id>` for a trip's peer */
    teamKey: text('team_key').notNull(),
    employeeId: text('employee_id'),
    calendarId: text('calendar_id').notNull(),
    eventId: text('event_id').notNull(),
    title: text('title').notNull(),
    allDay: boolean('all_day').notNull(),
    /** present | deleted */
    state: text('state').notNull(),
    startAt: tz('start_at'),
    endAt: tz('end_at'),
    syncedAt: tz('synced_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('team_calendar_events_uq').on(t.instanceCode, t.teamKey)],
);

/**
 * Read-only ICS feed subscriptions. The token is shown once, when the feed is created; only its
 * SHA-256 is kept, so a copy of this table opens no feed. A revoked feed answers 404.
 */
export const feeds = pgTable(
  'feeds',
  {
    id: text('id').primaryKey(),
    /** team | employee | department */
    scope: text('scope').notNull(),
    /** the employee_id or open_department_id; null for the team feed */
    targetId: text('target_id'),
    tokenHash: text('token_hash').notNull(),
    createdAt: tz('created_at').notNull(),
    createdBy: text('created_by'),
    revokedAt: tz('revoked_at'),
  },
  (t) => [uniqueIndex('feeds_token_hash_uq').on(t.tokenHash)],
);

/**
 * Token buckets pacing Google Calendar calls (src/outbox/pacing.ts), shared by every drainer
 * process and Worker invocation: `project` and one `user:<email>` per calendar acted on. A bucket
 * refills with time (its rate comes from the settings of whoever takes from it) and is taken from
 * with one conditional upsert; `granted` is what the last take got.
 */
export const googleQuota = pgTable('google_quota', {
  name: text('name').primaryKey(),
  tokens: doublePrecision('tokens').notNull(),
  granted: doublePrecision('granted').notNull().default(0),
  refilledAt: tz('refilled_at').notNull(),
});

/**
 * The CoreHR leave sync's state, one row per sync (name `leave_requests`), shared by every process
 * and Worker isolate: the watermark (the `leave_update_time_max` of the last window read in full,
 * which survives restarts) and the pacing bucket that keeps every caller together under the
 * leave_request_history API's 100 requests per minute
 * (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history).
 */
export const corehrSync = pgTable('corehr_sync', {
  name: text('name').primaryKey(),
  /** every request updated up to here has been read (null: never synced) */
  watermark: tz('watermark'),
  /** when the last periodic sync was queued (the Worker's cron queues one per COREHR_SYNC_INTERVAL) */
  lastQueuedAt: tz('last_queued_at'),
  lastSyncAt: tz('last_sync_at'),
  /** what the last sync read: {requests, pages, applied, quarantined, unchanged, window} */
  lastResult: jsonb('last_result'),
  /** requests the bucket holds now (refilled at the configured rate per minute, up to its burst) */
  tokens: numeric('tokens', { precision: 12, scale: 6, mode: 'number' }).notNull().default(0),
  refilledAt: tz('refilled_at').notNull().defaultNow(),
});
