-- leave_bridge_apply_locked(ev, days, base_unit, now_ts, default_tz): how one canonical event
-- changes its approval record (a leave, or any other kind: out, trip, overtime, remedy, shift),
-- for a caller that holds the leave's advisory lock (leave_bridge_apply for
-- replay; leave_bridge_ingest_locked and leave_bridge_ingest_batch for ingest). What an event
-- means (normalisation, allocation into days, unit bases) is decided in TypeScript
-- (src/feishu/normalise-event.ts, src/leave/allocate.ts); this decides how the stored state changes.
--
-- Arguments as leave_bridge_apply's. Returns {effect, outbox, ignored_reason}: effect is created,
-- enriched, unchanged, reverted, revert_remembered, already_reverted, detail_after_revert or
-- task_recorded;
-- outbox says whether a calendar message was enqueued; ignored_reason is set when the event
-- concerns no known leave and changes nothing.
--
-- Reads: the leave (leaves by instance_code) and its employee (employees by employee_id: zone and
-- open_id) in one statement; the leave's active attendance days when an approval may replace them.
-- Writes: leaves, attendance_days, outbox, approval_tasks; employees through leave_bridge_note_employee when the
-- employee is new or its open_id changed (ingest has written it before taking its locks, so
-- there this only reads; replay has not).
-- Locks: none of its own. The caller's lock serialises the events of one leave, and since each
-- statement of this volatile function takes a fresh snapshot under READ COMMITTED, the first read
-- sees whatever the lock's previous holder committed.
--
-- Calendar messages are enqueued only for the kinds that block a calendar (leave, out, trip), and
-- for a record whose kind is not known yet (a remembered revert of approval_instance): the other
-- kinds have nothing in Google, and the outbox would need Google configured to do nothing.
--
-- A task (ev.kind = 'task', approval_task): its step (task, approver, status, time) is inserted
-- into approval_tasks unless the same step is stored (task_recorded either way). It is kept
-- whether or not the instance is known: the record's timeline shows it once it is, whatever the
-- order the events arrived in. Nothing else changes.
--
-- An instance's state (ev.kind = 'instance', approval_instance PENDING / APPROVED / REJECTED; only
-- handed in with tentative holds on, src/leave/plan.ts):
-- * PENDING of an unknown instance: a row with status pending, its approval code and no detail
--   is inserted and calendar.upsert enqueued: the outbox reads the request's form from the
--   approval API, stores its detail (detail_source request) and places the tentative hold
--   (pending_recorded). PENDING of a known instance changes nothing.
-- * APPROVED of a pending request: approved (approved_at: the event's operate time, else now_ts),
--   and calendar.upsert enqueued: the hold becomes the block (approved). Its days come with the
--   kind's own approval event.
-- * REJECTED of a pending request: rejected, calendar.delete enqueued to remove the hold
--   (rejected).
-- * anything else: unchanged, ignored when the instance is not known.
--
-- A revert (ev.kind = 'revert'):
-- * of an unknown leave, with status REVERTED: a row with status reverted, the kind the revert
--   names (null for approval_instance, which does not say) and no detail is inserted
--   (revert_remembered). A revert may arrive before the approval it reverts (separate
--   deliveries, re-pushes); remembered, it keeps the late approval from resurrecting the leave:
--   that approval only annotates the row (below).
-- * of an unknown leave, with status CANCELED or DELETED: ignored, and not remembered. These
--   happen to instances still pending: no approval will follow.
-- * of a leave already reverted: already_reverted; nothing is written.
-- * of an approved leave: the leave becomes reverted (reverted_at: the event's operate time, else
--   now_ts), its active days become reverted, and calendar.delete is enqueued (blocking kinds)
--   with the event type that carried the revert (via) as its reason (reverted). approval_instance
--   reverts any kind this way: a trip has no revert event of its own.
--
-- An approval (ev.kind = 'approve', variant v1, v2 or backfill):
-- * of an unknown leave: created by leave_bridge_create_leaves, with revision 1, its days, a
--   calendar.upsert (blocking kinds) and its employee's zone, else default_tz (created).
-- * Precedence of detail: v2 > v1 > backfill > request. An event's detail (dates, unit, interval, segments,
--   reason, ids) replaces the stored one when its variant ranks at least as high as the one that
--   wrote it (an equal rank replaces: the later event wins), or when the leave has no detail yet
--   (a remembered revert). V2 is the richest (segments, i18n names); backfill reads the instance
--   form, which only knows DAY/HOUR and a float interval, so it fills in a leave no event described
--   but never rewrites what an event said. The leave type's name is kept from whichever variant
--   gave one (V1 carries a plain name, V2 an i18n one): a name is better than none. has_v1 and
--   has_v2 record which variants arrived, whatever their rank.
-- * of a pending request (recorded from approval_instance PENDING): its detail is replaced, it
--   becomes approved, its days are inserted and calendar.upsert is enqueued (blocking kinds): the
--   hold becomes the block.
-- * of a reverted (or rejected) leave (its revert came first, or this is a late re-push): the detail is stored
--   by the same precedence, for reports, but the leave stays reverted: no days, no calendar
--   message (detail_after_revert when it had no detail yet, else already_reverted).
-- * ranking below the stored detail: only has_v1 / has_v2 and a missing name are filled in
--   (unchanged).
-- * otherwise the detail is replaced. Re-allocation: when the days (dates and quantities) or the
--   unit differ from the active revision, the active days are marked superseded and the new ones
--   inserted as the next revision; nothing is deleted, since a payroll export may already hold
--   them. Days compare by employee, date and quantity (a trip's peers have days). When the
--   start, the end, the employee, the segments of a trip or its peers changed, calendar.upsert is
--   enqueued (blocking kinds); other changes leave the calendar blocks as they are. The kind,
--   peers, segment seconds and extra detail are replaced with the rest of the detail. Effect: enriched when the days, the calendar or
--   the name changed, else unchanged.
--
-- A CoreHR doorbell (ev.kind = 'doorbell': a corehr.process.* event, which names a process and
-- nothing else): enqueues the CoreHR sync, outbox kind corehr.sync under the one key corehr, whose
-- pending row takes every process id rung while it waits (payload.process_ids), so syncs coalesce
-- (sync_queued). It touches no record: the sync reads the request from the API and applies it.
--
-- A CoreHR leave request (ev.variant = 'corehr', ev.source = 'corehr'): an approval like any
-- other, ranking with v2 (the API's answer is the whole current state: the later read replaces),
-- so a correction re-allocates. Still pending (ev.pending, tentative holds on): an unknown
-- request is created pending (leave_bridge_create_leaves); a pending one gets the new detail and,
-- when its times changed, a calendar.upsert (its hold moves); a record already approved or
-- reverted is left as it is. Its cancellation, return, rejection or withdrawal is a revert
-- (via corehr, status CANCELED: an unknown request is not remembered, nothing was approved).
-- Days compare by paid_type too, so a changed paid_type is a new revision.
--
-- The team absence calendar (ev.teamCalendar true, set by src/leave/ingest-statement.ts when
-- GOOGLE_TEAM_CALENDAR_ID is configured): wherever an approved record of a blocking kind appears,
-- changes its times, people or leave type, or is reverted, team_calendar.sync is enqueued under the
-- key 'team:' || instance_code, apart from the record's own calendar messages, so a held block
-- (an unknown address) never holds back the team event. A pending request and its rejection have
-- no team event.
--
-- Outbox rows are inserted with ON CONFLICT ... DO NOTHING on the pending (key, kind): one pending
-- message per leave and kind is enough, because the drainer reads the leave's current state when
-- it runs it (src/outbox/enqueue.ts).
CREATE OR REPLACE FUNCTION leave_bridge_apply_locked(ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  code text := ev->>'instanceCode';
  ex leaves%ROWTYPE;
  known boolean;
  op_time timestamptz;
  emp_tz text;
  emp_open text;
  v_rank int;
  ex_rank int;
  replaces boolean;
  new_leave_type text;
  new_has_v1 boolean;
  new_has_v2 boolean;
  days_changed boolean;
  calendar_changed boolean;
  new_revision int;
  emp_found boolean;
  read record;
  team boolean := coalesce((ev->>'teamCalendar')::boolean, false);
  team_changed boolean;
BEGIN
  -- The caller holds the leave's lock (leave_bridge_apply below, or ingest). Each statement of
  -- this (volatile) function takes a fresh snapshot under READ COMMITTED, so this read sees
  -- whatever the lock's previous holder committed. The leave and the employee in one read.
  SELECT l AS leave, e.timezone, e.open_id, e.employee_id IS NOT NULL AS found
  INTO read
  FROM (SELECT 1) one
  LEFT JOIN leaves l ON l.instance_code = code
  LEFT JOIN employees e ON e.employee_id = ev->>'employeeId';
  ex := read.leave;
  known := ex.instance_code IS NOT NULL;
  emp_tz := read.timezone;
  emp_open := read.open_id;
  emp_found := read.found;

  IF ev->>'kind' = 'doorbell' THEN
    INSERT INTO outbox (key, kind, payload)
    VALUES ('corehr', 'corehr.sync', jsonb_build_object('process_ids', jsonb_build_array(ev->>'processId')))
    ON CONFLICT (key, kind) WHERE status = 'pending' DO UPDATE
      SET payload = jsonb_build_object('process_ids',
        (SELECT coalesce(jsonb_agg(DISTINCT p.id), '[]'::jsonb)
         FROM jsonb_array_elements(coalesce(outbox.payload->'process_ids', '[]'::jsonb) || (excluded.payload->'process_ids')) AS p(id)
         WHERE jsonb_typeof(p.id) = 'string')),
        updated_at = now_ts;
    RETURN jsonb_build_object('effect', 'sync_queued', 'outbox', true, 'ignored_reason', NULL);
  END IF;

  IF ev->>'kind' = 'task' THEN
    INSERT INTO approval_tasks (instance_code, approval_code, task_id, user_id, open_id, status, operate_time, extra, created_at)
    VALUES (code, ev->>'approvalCode', ev->>'taskId', ev->>'userId', ev->>'openId', ev->>'status',
      (ev->>'operateTime')::timestamptz, ev->'extra', now_ts)
    ON CONFLICT (instance_code, task_id, status, operate_time) DO NOTHING;
    RETURN jsonb_build_object('effect', 'task_recorded', 'outbox', false, 'ignored_reason', NULL);
  END IF;

  IF ev->>'kind' = 'instance' THEN
    op_time := coalesce((ev->>'operateTime')::timestamptz, now_ts);
    IF ev->>'status' = 'PENDING' THEN
      IF known THEN
        RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false, 'ignored_reason', NULL);
      END IF;
      INSERT INTO leaves (instance_code, approval_code, status, created_at, updated_at)
      VALUES (code, ev->>'approvalCode', 'pending', now_ts, now_ts);
      INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
      ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
      RETURN jsonb_build_object('effect', 'pending_recorded', 'outbox', true, 'ignored_reason', NULL);
    END IF;
    IF NOT known THEN
      RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false,
        'ignored_reason', (ev->>'status') || ' of an instance that is not a known leave');
    END IF;
    IF ex.status <> 'pending' THEN
      RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    IF ev->>'status' = 'APPROVED' THEN
      UPDATE leaves SET status = 'approved', approved_at = op_time, updated_at = now_ts WHERE instance_code = code;
      INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
      ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
      IF team THEN
        INSERT INTO outbox (key, kind) VALUES ('team:' || code, 'team_calendar.sync')
        ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
      END IF;
      RETURN jsonb_build_object('effect', 'approved', 'outbox', true, 'ignored_reason', NULL);
    END IF;
    UPDATE leaves SET status = 'rejected', updated_at = now_ts WHERE instance_code = code;
    INSERT INTO outbox (key, kind, payload) VALUES (code, 'calendar.delete', jsonb_build_object('reason', 'approval_instance'))
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
    RETURN jsonb_build_object('effect', 'rejected', 'outbox', true, 'ignored_reason', NULL);
  END IF;

  IF ev->>'kind' = 'revert' THEN
    op_time := coalesce((ev->>'operateTime')::timestamptz, now_ts);
    IF NOT known THEN
      IF ev->>'status' <> 'REVERTED' THEN
        -- CANCELED / DELETED happen to instances still pending: no leave_approval will follow.
        RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false,
          'ignored_reason', (ev->>'status') || ' of an instance that is not a known leave');
      END IF;
      -- Revert before approval: remembered so the late approval cannot resurrect the leave.
      INSERT INTO leaves (instance_code, kind, approval_code, status, reverted_at, created_at, updated_at)
      VALUES (code, ev->>'approvalKind', ev->>'approvalCode', 'reverted', op_time, now_ts, now_ts);
      RETURN jsonb_build_object('effect', 'revert_remembered', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    IF ex.status = 'reverted' THEN
      RETURN jsonb_build_object('effect', 'already_reverted', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    UPDATE leaves SET status = 'reverted', reverted_at = op_time, updated_at = now_ts WHERE instance_code = code;
    UPDATE attendance_days SET status = 'reverted', updated_at = now_ts WHERE instance_code = code AND status = 'active';
    IF coalesce(ex.kind IN ('leave', 'out', 'trip'), true) THEN
      INSERT INTO outbox (key, kind, payload) VALUES (code, 'calendar.delete', jsonb_build_object('reason', ev->>'via'))
      ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
      IF team THEN
        INSERT INTO outbox (key, kind) VALUES ('team:' || code, 'team_calendar.sync')
        ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
      END IF;
      RETURN jsonb_build_object('effect', 'reverted', 'outbox', true, 'ignored_reason', NULL);
    END IF;
    RETURN jsonb_build_object('effect', 'reverted', 'outbox', false, 'ignored_reason', NULL);
  END IF;

  -- An approval (v1, v2 or backfill).
  new_has_v1 := coalesce(ex.has_v1, false) OR ev->>'variant' = 'v1';
  new_has_v2 := coalesce(ex.has_v2, false) OR ev->>'variant' = 'v2';
  -- Ingest has written the employee before taking its locks, so this only reads; replay has not.
  IF NOT emp_found OR (ev->>'openId' IS NOT NULL AND emp_open IS DISTINCT FROM ev->>'openId') THEN
    PERFORM leave_bridge_note_employee(ev->>'employeeId', ev->>'openId', now_ts);
    SELECT timezone INTO emp_tz FROM employees WHERE employee_id = ev->>'employeeId';
  END IF;

  IF NOT known THEN
    PERFORM leave_bridge_create_leaves(jsonb_build_array(jsonb_build_object(
      'ev', ev, 'days', days, 'baseUnit', base_unit, 'now', now_ts, 'tz', coalesce(emp_tz, default_tz))));
    RETURN jsonb_build_object('effect', 'created', 'outbox', true, 'ignored_reason', NULL);
  END IF;

  -- Precedence of detail: v2 = corehr (3) > v1 (1) > backfill (0) > request (-1); an equal rank replaces.
  v_rank := CASE ev->>'variant' WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 WHEN 'corehr' THEN 3 END;
  ex_rank := CASE ex.detail_source WHEN 'request' THEN -1 WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 WHEN 'corehr' THEN 3 END;
  replaces := ex.detail_source IS NULL OR coalesce(v_rank >= ex_rank, false);
  -- A name from either variant is better than none (V1 carries a plain name, V2 an i18n one).
  new_leave_type := CASE WHEN replaces THEN coalesce(ev->>'leaveType', ex.leave_type)
                         ELSE coalesce(ex.leave_type, ev->>'leaveType') END;

  IF ex.status IN ('reverted', 'rejected') THEN
    -- The revert came first (or this is a late re-push): keep the detail for reports, but the
    -- leave stays reverted: no attendance, no calendar block.
    UPDATE leaves SET
      kind = CASE WHEN replaces OR kind IS NULL THEN ev->>'approvalKind' ELSE kind END,
      approval_code = CASE WHEN replaces THEN ev->>'approvalCode' ELSE approval_code END,
      tenant_key = CASE WHEN replaces THEN ev->>'tenantKey' ELSE tenant_key END,
      employee_id = CASE WHEN replaces THEN ev->>'employeeId' ELSE employee_id END,
      open_id = CASE WHEN replaces THEN ev->>'openId' ELSE open_id END,
      leave_type_key = CASE WHEN replaces THEN ev->>'leaveTypeKey' ELSE leave_type_key END,
      unit = CASE WHEN replaces THEN ev->>'unit' ELSE unit END,
      interval_seconds = CASE WHEN replaces THEN (ev->>'intervalSeconds')::int ELSE interval_seconds END,
      start_local = CASE WHEN replaces THEN ev->>'startLocal' ELSE start_local END,
      end_local = CASE WHEN replaces THEN ev->>'endLocal' ELSE end_local END,
      segments = CASE WHEN replaces THEN ev->'segments' ELSE segments END,
      segments_source = CASE WHEN replaces THEN ev->>'segmentsSource' ELSE segments_source END,
      reason = CASE WHEN replaces THEN ev->>'reason' ELSE reason END,
      peers = CASE WHEN replaces THEN ev->'peers' ELSE peers END,
      segment_seconds = CASE WHEN replaces THEN ev->'segmentSeconds' ELSE segment_seconds END,
      extra = CASE WHEN replaces THEN ev->'extra' ELSE extra END,
      detail_source = CASE WHEN replaces THEN ev->>'variant' ELSE detail_source END,
      source = CASE WHEN replaces THEN coalesce(ev->>'source', source) ELSE source END,
      leave_type = new_leave_type, has_v1 = new_has_v1, has_v2 = new_has_v2,
      timezone = coalesce(ex.timezone, emp_tz, default_tz), updated_at = now_ts
    WHERE instance_code = code;
    RETURN jsonb_build_object('effect', CASE WHEN ex.detail_source IS NULL THEN 'detail_after_revert' ELSE 'already_reverted' END,
      'outbox', false, 'ignored_reason', NULL);
  END IF;

  IF coalesce((ev->>'pending')::boolean, false) THEN
    -- a CoreHR request still pending: only a pending record takes its new detail
    IF ex.status <> 'pending' THEN
      RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    calendar_changed := ex.start_local IS DISTINCT FROM ev->>'startLocal' OR ex.end_local IS DISTINCT FROM ev->>'endLocal'
      OR ex.employee_id IS DISTINCT FROM ev->>'employeeId';
    UPDATE leaves SET kind = ev->>'approvalKind', employee_id = ev->>'employeeId', open_id = ev->>'openId', leave_type = new_leave_type,
      leave_type_key = ev->>'leaveTypeKey', unit = ev->>'unit', interval_seconds = (ev->>'intervalSeconds')::int,
      start_local = ev->>'startLocal', end_local = ev->>'endLocal', segments = ev->'segments', segments_source = ev->>'segmentsSource',
      reason = ev->>'reason', extra = ev->'extra', detail_source = ev->>'variant', source = coalesce(ev->>'source', source),
      updated_at = now_ts
    WHERE instance_code = code;
    IF calendar_changed THEN
      INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
      ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
    END IF;
    RETURN jsonb_build_object('effect', CASE WHEN calendar_changed THEN 'enriched' ELSE 'unchanged' END, 'outbox', calendar_changed, 'ignored_reason', NULL);
  END IF;

  IF NOT replaces THEN
    UPDATE leaves SET has_v1 = new_has_v1, has_v2 = new_has_v2, leave_type = new_leave_type, updated_at = now_ts
    WHERE instance_code = code;
    RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false, 'ignored_reason', NULL);
  END IF;

  -- Re-allocation: a new revision only when the days (or the unit) differ.
  days_changed := ex.unit IS DISTINCT FROM ev->>'unit' OR EXISTS (
    SELECT 1
    FROM (SELECT a.employee_id, a.date, a.quantity, a.paid_type FROM attendance_days a WHERE a.instance_code = code AND a.status = 'active') cur
    FULL JOIN (SELECT coalesce(d->>'employeeId', ev->>'employeeId') AS employee_id, (d->>'date')::date AS date,
                 (d->>'quantity')::numeric AS quantity, (d->>'paidType')::int AS paid_type FROM jsonb_array_elements(days) d) nxt
      ON cur.employee_id = nxt.employee_id AND cur.date = nxt.date AND cur.quantity = nxt.quantity
        AND cur.paid_type IS NOT DISTINCT FROM nxt.paid_type
    WHERE cur.date IS NULL OR nxt.date IS NULL);
  new_revision := ex.revision + CASE WHEN days_changed THEN 1 ELSE 0 END;
  IF days_changed THEN
    UPDATE attendance_days SET status = 'superseded', updated_at = now_ts WHERE instance_code = code AND status = 'active';
    INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status, paid_type)
    SELECT code, coalesce(d->>'employeeId', ev->>'employeeId'), (d->>'date')::date, (d->>'quantity')::numeric, base_unit, new_revision, 'active',
      (d->>'paidType')::int
    FROM jsonb_array_elements(days) d;
  END IF;
  calendar_changed := ex.start_local IS DISTINCT FROM ev->>'startLocal'
    OR ex.end_local IS DISTINCT FROM ev->>'endLocal'
    OR ex.employee_id IS DISTINCT FROM ev->>'employeeId'
    OR ex.segments IS DISTINCT FROM ev->'segments' AND ev->>'approvalKind' = 'trip'
    OR ex.peers IS DISTINCT FROM ev->'peers';
  -- a pending request's approval: its hold becomes the block, whatever the times
  calendar_changed := (calendar_changed OR ex.status = 'pending') AND ev->>'approvalKind' IN ('leave', 'out', 'trip');
  UPDATE leaves SET kind = ev->>'approvalKind', approval_code = ev->>'approvalCode', tenant_key = ev->>'tenantKey',
    employee_id = ev->>'employeeId', open_id = ev->>'openId', leave_type = new_leave_type,
    leave_type_key = ev->>'leaveTypeKey', unit = ev->>'unit', interval_seconds = (ev->>'intervalSeconds')::int,
    start_local = ev->>'startLocal', end_local = ev->>'endLocal', segments = ev->'segments',
    segments_source = ev->>'segmentsSource', reason = ev->>'reason', peers = ev->'peers',
    segment_seconds = ev->'segmentSeconds', extra = ev->'extra', detail_source = ev->>'variant', source = coalesce(ev->>'source', source),
    has_v1 = new_has_v1, has_v2 = new_has_v2, revision = new_revision, updated_at = now_ts,
    status = 'approved', approved_at = CASE WHEN ex.status = 'pending' THEN now_ts ELSE approved_at END
  WHERE instance_code = code;
  IF calendar_changed THEN
    INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
  END IF;
  -- the team event's title names the leave type: a new name re-syncs it too
  team_changed := team AND ev->>'approvalKind' IN ('leave', 'out', 'trip')
    AND (calendar_changed OR new_leave_type IS DISTINCT FROM ex.leave_type);
  IF team_changed THEN
    INSERT INTO outbox (key, kind) VALUES ('team:' || code, 'team_calendar.sync')
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
  END IF;
  RETURN jsonb_build_object(
    'effect', CASE WHEN ex.status = 'pending' THEN 'created' WHEN days_changed OR calendar_changed OR new_leave_type IS DISTINCT FROM ex.leave_type THEN 'enriched' ELSE 'unchanged' END,
    'outbox', calendar_changed, 'ignored_reason', NULL);
END;
$$;
