-- Written by `npm run db:function` from src/db/sql/, one file per function documenting its rules:
-- the current definitions of leave_bridge_apply_locked, leave_bridge_create_leaves, leave_bridge_ingest, leave_bridge_ingest_batch.
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

  -- Precedence of detail: v2 (3) > v1 (1) > backfill (0) > request (-1); an equal rank replaces.
  v_rank := CASE ev->>'variant' WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 END;
  ex_rank := CASE ex.detail_source WHEN 'request' THEN -1 WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 END;
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
      leave_type = new_leave_type, has_v1 = new_has_v1, has_v2 = new_has_v2,
      timezone = coalesce(ex.timezone, emp_tz, default_tz), updated_at = now_ts
    WHERE instance_code = code;
    RETURN jsonb_build_object('effect', CASE WHEN ex.detail_source IS NULL THEN 'detail_after_revert' ELSE 'already_reverted' END,
      'outbox', false, 'ignored_reason', NULL);
  END IF;

  IF NOT replaces THEN
    UPDATE leaves SET has_v1 = new_has_v1, has_v2 = new_has_v2, leave_type = new_leave_type, updated_at = now_ts
    WHERE instance_code = code;
    RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false, 'ignored_reason', NULL);
  END IF;

  -- Re-allocation: a new revision only when the days (or the unit) differ.
  days_changed := ex.unit IS DISTINCT FROM ev->>'unit' OR EXISTS (
    SELECT 1
    FROM (SELECT a.employee_id, a.date, a.quantity FROM attendance_days a WHERE a.instance_code = code AND a.status = 'active') cur
    FULL JOIN (SELECT coalesce(d->>'employeeId', ev->>'employeeId') AS employee_id, (d->>'date')::date AS date,
                 (d->>'quantity')::numeric AS quantity FROM jsonb_array_elements(days) d) nxt
      ON cur.employee_id = nxt.employee_id AND cur.date = nxt.date AND cur.quantity = nxt.quantity
    WHERE cur.date IS NULL OR nxt.date IS NULL);
  new_revision := ex.revision + CASE WHEN days_changed THEN 1 ELSE 0 END;
  IF days_changed THEN
    UPDATE attendance_days SET status = 'superseded', updated_at = now_ts WHERE instance_code = code AND status = 'active';
    INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status)
    SELECT code, coalesce(d->>'employeeId', ev->>'employeeId'), (d->>'date')::date, (d->>'quantity')::numeric, base_unit, new_revision, 'active'
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
    segment_seconds = ev->'segmentSeconds', extra = ev->'extra', detail_source = ev->>'variant',
    has_v1 = new_has_v1, has_v2 = new_has_v2, revision = new_revision, updated_at = now_ts,
    status = 'approved', approved_at = CASE WHEN ex.status = 'pending' THEN now_ts ELSE approved_at END
  WHERE instance_code = code;
  IF calendar_changed THEN
    INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
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
      detail_source, has_v1, has_v2, timezone, status, approved_at, revision, created_at, updated_at)
    SELECT ev->>'instanceCode', ev->>'approvalKind', ev->>'approvalCode', ev->>'tenantKey', ev->>'employeeId', ev->>'openId', ev->>'leaveType',
      ev->>'leaveTypeKey', ev->>'unit', (ev->>'intervalSeconds')::int, ev->>'startLocal', ev->>'endLocal',
      ev->'segments', ev->>'segmentsSource', ev->>'reason', ev->'peers', ev->'segmentSeconds', ev->'extra', ev->>'variant',
      ev->>'variant' = 'v1', ev->>'variant' = 'v2', tz, 'approved', now_ts, 1, now_ts, now_ts
    FROM c ORDER BY ord
  ), new_days AS (
    INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status)
    SELECT c.ev->>'instanceCode', coalesce(d.value->>'employeeId', c.ev->>'employeeId'), (d.value->>'date')::date, (d.value->>'quantity')::numeric,
      c.base_unit, 1, 'active'
    FROM c CROSS JOIN LATERAL jsonb_array_elements(c.days) d
    ORDER BY c.ord
  )
  INSERT INTO outbox (key, kind)
  SELECT ev->>'instanceCode', 'calendar.upsert' FROM c WHERE ev->>'approvalKind' IN ('leave', 'out', 'trip') ORDER BY ord
  ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION leave_bridge_ingest(inbox jsonb, ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  known_open text;
BEGIN
  -- The employee first, before any lock (see the lock order in 0002): a plain read when there
  -- is nothing to write.
  IF ev IS NOT NULL AND ev->>'kind' = 'approve' THEN
    SELECT open_id INTO known_open FROM employees WHERE employee_id = ev->>'employeeId';
    IF NOT FOUND OR (ev->>'openId' IS NOT NULL AND known_open IS DISTINCT FROM ev->>'openId') THEN
      PERFORM leave_bridge_note_employee(ev->>'employeeId', ev->>'openId', now_ts);
    END IF;
  END IF;
  -- The leave's lock, then the delivery's: deliveries with the same (event_key, event_type) are
  -- serialised on it, so a duplicate is found by a read and the inbox row is written once, with
  -- its outcome. The lock holder commits before the lock is released, and each statement here
  -- takes a fresh snapshot (READ COMMITTED), so the read sees its row.
  IF inbox->>'instanceCode' IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(inbox->>'instanceCode', 0));
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended((inbox->>'eventType') || ':' || (inbox->>'eventKey'), 1));
  RETURN leave_bridge_ingest_locked(inbox, ev, days, base_unit, now_ts, default_tz);
END;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION leave_bridge_ingest_batch(items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  emp record;
  it record;
  applied jsonb;
  results jsonb := '{}'::jsonb;
  creates jsonb[] := '{}';
  n int := 0;
  -- the inbox row of every delivery that is not a duplicate, and its outcome
  pos_list int[] := '{}';
  key_list text[] := '{}';
  type_list text[] := '{}';
  source_list text[] := '{}';
  code_list text[] := '{}';
  status_list text[] := '{}';
  reason_list text[] := '{}';
  effect_list text[] := '{}';
  payload_list jsonb[] := '{}';
  now_list timestamptz[] := '{}';
  applied_list jsonb[] := '{}';
BEGIN
  -- Employees first, in one order, and only those to write (new, or a changed open_id): a
  -- second batch with the same new employee waits here, before it holds any leave lock. Each is
  -- looked up by key: as a plain join, on a table not analyzed yet, the planner hashed every
  -- employee for every batch.
  FOR emp IN
    SELECT x.id, x.open, x.now_ts
    FROM (
      SELECT DISTINCT ON (i->'ev'->>'employeeId') i->'ev'->>'employeeId' AS id, i->'ev'->>'openId' AS open,
        (i->>'now')::timestamptz AS now_ts
      FROM jsonb_array_elements(items) i
      WHERE i->'ev'->>'kind' = 'approve'
      ORDER BY i->'ev'->>'employeeId'
    ) x
    LEFT JOIN LATERAL (SELECT true AS found, employees.open_id FROM employees WHERE employee_id = x.id LIMIT 1) e ON true
    WHERE e.found IS NULL OR (x.open IS NOT NULL AND e.open_id IS DISTINCT FROM x.open)
    ORDER BY x.id
  LOOP
    PERFORM leave_bridge_note_employee(emp.id, emp.open, emp.now_ts);
  END LOOP;

  -- Every leave's lock, ascending; then every delivery's lock, ascending.
  PERFORM pg_advisory_xact_lock(k)
  FROM (SELECT DISTINCT hashtextextended(i->'inbox'->>'instanceCode', 0) AS k
        FROM jsonb_array_elements(items) i WHERE i->'inbox'->>'instanceCode' IS NOT NULL ORDER BY 1) leaves_first;
  PERFORM pg_advisory_xact_lock(k)
  FROM (SELECT DISTINCT hashtextextended((i->'inbox'->>'eventType') || ':' || (i->'inbox'->>'eventKey'), 1) AS k
        FROM jsonb_array_elements(items) i ORDER BY 1) deliveries_next;

  -- The deliveries by round, each knowing whether it is a duplicate (stored already, or a later
  -- copy of one in this batch), whether its leave is stored, and its employee's zone. Rows are
  -- found by key (LATERAL … LIMIT 1): the planner cannot turn these into scans of whole tables.
  FOR it IN
    SELECT d.*, stored.found IS NOT NULL OR d.copy > 1 AS duplicate, known.found IS NOT NULL AS known, ez.timezone AS emp_tz
    FROM (
      SELECT x.value->'ev' AS ev, x.value->'days' AS days, x.value->>'baseUnit' AS base_unit,
        (x.value->>'now')::timestamptz AS now_ts, x.value->>'defaultTz' AS default_tz, x.ordinality AS pos,
        x.value#>>'{inbox,eventKey}' AS event_key, x.value#>>'{inbox,eventType}' AS event_type,
        x.value#>>'{inbox,source}' AS source, x.value#>>'{inbox,instanceCode}' AS instance_code,
        x.value#>>'{inbox,status}' AS inbox_status, x.value#>>'{inbox,reason}' AS inbox_reason,
        x.value#>'{inbox,payload}' AS payload,
        hashtextextended(x.value#>>'{inbox,instanceCode}', 0) AS leave_k,
        hashtextextended((x.value#>>'{inbox,eventType}') || ':' || (x.value#>>'{inbox,eventKey}'), 1) AS delivery_k,
        row_number() OVER (PARTITION BY x.value#>>'{inbox,eventType}', x.value#>>'{inbox,eventKey}'
                           ORDER BY hashtextextended(x.value#>>'{inbox,instanceCode}', 0) NULLS LAST, x.ordinality) AS copy,
        row_number() OVER (PARTITION BY x.value#>>'{inbox,instanceCode}'
                           ORDER BY hashtextextended((x.value#>>'{inbox,eventType}') || ':' || (x.value#>>'{inbox,eventKey}'), 1),
                                    x.ordinality) AS round
      FROM jsonb_array_elements(items) WITH ORDINALITY x
    ) d
    LEFT JOIN LATERAL (
      SELECT true AS found FROM inbox_events e
      WHERE e.event_key = d.event_key AND e.event_type = d.event_type
      LIMIT 1
    ) stored ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM leaves l WHERE l.instance_code = d.instance_code LIMIT 1) known ON true
    LEFT JOIN LATERAL (SELECT e.timezone FROM employees e WHERE e.employee_id = d.ev->>'employeeId' LIMIT 1) ez ON true
    ORDER BY d.round, d.leave_k NULLS LAST, d.delivery_k, d.pos
  LOOP
    IF it.duplicate THEN
      results := results || jsonb_build_object(it.pos::text, jsonb_build_object('status', 'duplicate'));
      CONTINUE;
    END IF;
    n := n + 1;
    pos_list[n] := it.pos;
    key_list[n] := it.event_key;
    type_list[n] := it.event_type;
    source_list[n] := it.source;
    code_list[n] := it.instance_code;
    payload_list[n] := it.payload;
    now_list[n] := it.now_ts;
    IF it.ev IS NULL OR jsonb_typeof(it.ev) = 'null' THEN
      -- only recorded (quarantined, ignored)
      status_list[n] := it.inbox_status;
      reason_list[n] := it.inbox_reason;
      effect_list[n] := NULL;
      applied_list[n] := '{}'::jsonb;
      CONTINUE;
    END IF;
    IF it.round = 1 AND NOT it.known AND it.ev->>'kind' = 'approve' THEN
      -- leave_bridge_apply_locked's first rule (an approval of an unknown leave creates it, in
      -- the employee's zone, else the default), written with the round's other new leaves below
      creates := creates || jsonb_build_object('ev', it.ev, 'days', it.days, 'baseUnit', it.base_unit, 'now', it.now_ts,
        'tz', coalesce(it.emp_tz, it.default_tz));
      applied := jsonb_build_object('effect', 'created', 'outbox', true, 'ignored_reason', NULL);
    ELSE
      IF it.round > 1 AND cardinality(creates) > 0 THEN
        -- round 2 may enrich a leave round 1 created
        PERFORM leave_bridge_create_leaves(to_jsonb(creates));
        creates := '{}';
      END IF;
      applied := leave_bridge_apply_locked(it.ev, it.days, it.base_unit, it.now_ts, it.default_tz);
    END IF;
    status_list[n] := CASE WHEN applied->>'ignored_reason' IS NULL THEN 'applied' ELSE 'ignored' END;
    reason_list[n] := applied->>'ignored_reason';
    effect_list[n] := applied->>'effect';
    applied_list[n] := applied;
  END LOOP;
  IF cardinality(creates) > 0 THEN
    PERFORM leave_bridge_create_leaves(to_jsonb(creates));
  END IF;

  -- The inbox rows of every delivery that is not a duplicate, with their outcomes, in one statement.
  WITH ins AS (
    INSERT INTO inbox_events (event_key, event_type, source, instance_code, status, reason, effect, payload, received_at)
    SELECT u.k, u.t, u.source, u.code, u.status, u.reason, u.effect, u.payload, u.now_ts
    FROM unnest(key_list, type_list, source_list, code_list, status_list, reason_list, effect_list, payload_list, now_list)
      WITH ORDINALITY AS u(k, t, source, code, status, reason, effect, payload, now_ts, ord)
    ORDER BY u.ord
    RETURNING id, event_key, event_type
  )
  SELECT results || coalesce(jsonb_object_agg(u.pos::text,
           u.applied || jsonb_build_object('status', u.status, 'inbox_id', ins.id, 'reason', u.reason)), '{}'::jsonb)
  INTO results
  FROM ins JOIN unnest(key_list, type_list, pos_list, status_list, reason_list, applied_list) AS u(k, t, pos, status, reason, applied)
    ON ins.event_key = u.k AND ins.event_type = u.t;
  RETURN results;
END;
$$;
