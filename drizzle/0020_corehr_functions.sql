-- Written by `npm run db:function` from src/db/sql/, one file per function documenting its rules:
-- the current definitions of leave_bridge_apply_locked, leave_bridge_create_leaves.
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
--> statement-breakpoint
CREATE OR REPLACE FUNCTION leave_bridge_create_leaves(creates jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  -- creates: [{ev, days, baseUnit, now, tz}, ...], approvals of leaves that do not exist, whose
  -- locks the caller holds; tz is the zone fixed on the leave (the employee's, else the default).
  WITH c AS (
    SELECT x.value->'ev' AS ev, x.value->'days' AS days, x.value->>'baseUnit' AS base_unit,
      (x.value->>'now')::timestamptz AS now_ts, x.value->>'tz' AS tz, x.ordinality AS ord
    FROM jsonb_array_elements(creates) WITH ORDINALITY x
  ), new_leaves AS (
    INSERT INTO leaves (instance_code, kind, approval_code, tenant_key, employee_id, open_id, leave_type, leave_type_key,
      unit, interval_seconds, start_local, end_local, segments, segments_source, reason, peers, segment_seconds, extra,
      detail_source, source, has_v1, has_v2, timezone, status, approved_at, held, revision, created_at, updated_at)
    SELECT ev->>'instanceCode', ev->>'approvalKind', ev->>'approvalCode', ev->>'tenantKey', ev->>'employeeId', ev->>'openId', ev->>'leaveType',
      ev->>'leaveTypeKey', ev->>'unit', (ev->>'intervalSeconds')::int, ev->>'startLocal', ev->>'endLocal',
      ev->'segments', ev->>'segmentsSource', ev->>'reason', ev->'peers', ev->'segmentSeconds', ev->'extra', ev->>'variant',
      coalesce(ev->>'source', 'approval'), ev->>'variant' = 'v1', ev->>'variant' = 'v2', coalesce(ev->>'timezone', tz),
      CASE WHEN coalesce((ev->>'pending')::boolean, false) THEN 'pending' ELSE 'approved' END,
      CASE WHEN coalesce((ev->>'pending')::boolean, false) THEN NULL ELSE now_ts END,
      coalesce((ev->>'pending')::boolean, false), 1, now_ts, now_ts
    FROM c ORDER BY ord
  ), new_days AS (
    INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status, paid_type)
    SELECT c.ev->>'instanceCode', coalesce(d.value->>'employeeId', c.ev->>'employeeId'), (d.value->>'date')::date, (d.value->>'quantity')::numeric,
      c.base_unit, 1, 'active', (d.value->>'paidType')::int
    FROM c CROSS JOIN LATERAL jsonb_array_elements(c.days) d
    ORDER BY c.ord
  ), team_rows AS (
    INSERT INTO outbox (key, kind)
    SELECT 'team:' || (ev->>'instanceCode'), 'team_calendar.sync' FROM c
    WHERE ev->>'approvalKind' IN ('leave', 'out', 'trip') AND coalesce((ev->>'teamCalendar')::boolean, false)
      AND NOT coalesce((ev->>'pending')::boolean, false) ORDER BY ord
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING
  )
  INSERT INTO outbox (key, kind)
  SELECT ev->>'instanceCode', 'calendar.upsert' FROM c WHERE ev->>'approvalKind' IN ('leave', 'out', 'trip') ORDER BY ord
  ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
END;
$$;
