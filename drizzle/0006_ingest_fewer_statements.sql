-- Ingest in fewer statements (see the README's Benchmarks): Postgres spent most of an event's
-- time starting statements inside PL/pgSQL (executor start-up, SPI), a dozen per delivery. Same
-- rules and results as 0002's functions, which these replace or wrap:
-- * leave_bridge_apply_locked: leave_bridge_apply's rules for a caller that holds the leave's
--   lock; the leave and the employee read together, a new leave's row, days and outbox row
--   written by one statement. leave_bridge_apply (replay) is the lock, then this.
-- * leave_bridge_ingest_batch takes its locks, finds its duplicates and writes its employees a
--   statement each for the whole batch, then applies and records each delivery in the order
--   0002 did, instead of running the single-delivery function per delivery;
-- * leave_bridge_ingest_locked: the part of one delivery both share (duplicate, apply, inbox).
-- Lock order (0002's header): employees first, before any lock; then leave locks ascending;
-- then delivery locks. A batch now takes all its leave locks, then all its delivery locks, both
-- ascending: a delivery's lock is only contended by the same delivery, which needs the same
-- leave's lock first (or, without a leave, holds nothing else it could wait for), so still
-- nothing waits for a lock while holding a greater one of the same kind.
CREATE FUNCTION leave_bridge_apply_locked(ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
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

  IF ev->>'kind' = 'revert' THEN
    op_time := coalesce((ev->>'operateTime')::timestamptz, now_ts);
    IF NOT known THEN
      IF ev->>'status' <> 'REVERTED' THEN
        -- CANCELED / DELETED happen to instances still pending: no leave_approval will follow.
        RETURN jsonb_build_object('effect', 'unchanged', 'outbox', false,
          'ignored_reason', (ev->>'status') || ' of an instance that is not a known leave');
      END IF;
      -- Revert before approval: remembered so the late approval cannot resurrect the leave.
      INSERT INTO leaves (instance_code, approval_code, status, reverted_at, created_at, updated_at)
      VALUES (code, ev->>'approvalCode', 'reverted', op_time, now_ts, now_ts);
      RETURN jsonb_build_object('effect', 'revert_remembered', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    IF ex.status = 'reverted' THEN
      RETURN jsonb_build_object('effect', 'already_reverted', 'outbox', false, 'ignored_reason', NULL);
    END IF;
    UPDATE leaves SET status = 'reverted', reverted_at = op_time, updated_at = now_ts WHERE instance_code = code;
    UPDATE attendance_days SET status = 'reverted', updated_at = now_ts WHERE instance_code = code AND status = 'active';
    INSERT INTO outbox (key, kind, payload) VALUES (code, 'calendar.delete', jsonb_build_object('reason', ev->>'via'))
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
    RETURN jsonb_build_object('effect', 'reverted', 'outbox', true, 'ignored_reason', NULL);
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
    -- The leave, its days and its calendar.upsert in one statement (none reads another's rows).
    WITH new_leave AS (
      INSERT INTO leaves (instance_code, approval_code, tenant_key, employee_id, open_id, leave_type, leave_type_key,
        unit, interval_seconds, start_local, end_local, segments, segments_source, reason, detail_source,
        has_v1, has_v2, timezone, status, approved_at, revision, created_at, updated_at)
      VALUES (code, ev->>'approvalCode', ev->>'tenantKey', ev->>'employeeId', ev->>'openId', ev->>'leaveType',
        ev->>'leaveTypeKey', ev->>'unit', (ev->>'intervalSeconds')::int, ev->>'startLocal', ev->>'endLocal',
        ev->'segments', ev->>'segmentsSource', ev->>'reason', ev->>'variant',
        new_has_v1, new_has_v2, coalesce(emp_tz, default_tz), 'approved', now_ts, 1, now_ts, now_ts)
    ), new_days AS (
      INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status)
      SELECT code, ev->>'employeeId', (d->>'date')::date, (d->>'quantity')::numeric, base_unit, 1, 'active'
      FROM jsonb_array_elements(days) d
    )
    INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
    RETURN jsonb_build_object('effect', 'created', 'outbox', true, 'ignored_reason', NULL);
  END IF;

  -- Precedence of detail: v2 (3) > v1 (1) > backfill (0); an equal rank replaces.
  v_rank := CASE ev->>'variant' WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 END;
  ex_rank := CASE ex.detail_source WHEN 'backfill' THEN 0 WHEN 'v1' THEN 1 WHEN 'v2' THEN 3 END;
  replaces := ex.detail_source IS NULL OR coalesce(v_rank >= ex_rank, false);
  -- A name from either variant is better than none (V1 carries a plain name, V2 an i18n one).
  new_leave_type := CASE WHEN replaces THEN coalesce(ev->>'leaveType', ex.leave_type)
                         ELSE coalesce(ex.leave_type, ev->>'leaveType') END;

  IF ex.status = 'reverted' THEN
    -- The revert came first (or this is a late re-push): keep the detail for reports, but the
    -- leave stays reverted: no attendance, no calendar block.
    UPDATE leaves SET
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
    FROM (SELECT a.date, a.quantity FROM attendance_days a WHERE a.instance_code = code AND a.status = 'active') cur
    FULL JOIN (SELECT (d->>'date')::date AS date, (d->>'quantity')::numeric AS quantity FROM jsonb_array_elements(days) d) nxt
      ON cur.date = nxt.date AND cur.quantity = nxt.quantity
    WHERE cur.date IS NULL OR nxt.date IS NULL);
  new_revision := ex.revision + CASE WHEN days_changed THEN 1 ELSE 0 END;
  IF days_changed THEN
    UPDATE attendance_days SET status = 'superseded', updated_at = now_ts WHERE instance_code = code AND status = 'active';
    INSERT INTO attendance_days (instance_code, employee_id, date, quantity, unit, revision, status)
    SELECT code, ev->>'employeeId', (d->>'date')::date, (d->>'quantity')::numeric, base_unit, new_revision, 'active'
    FROM jsonb_array_elements(days) d;
  END IF;
  calendar_changed := ex.start_local IS DISTINCT FROM ev->>'startLocal'
    OR ex.end_local IS DISTINCT FROM ev->>'endLocal'
    OR ex.employee_id IS DISTINCT FROM ev->>'employeeId';
  UPDATE leaves SET approval_code = ev->>'approvalCode', tenant_key = ev->>'tenantKey',
    employee_id = ev->>'employeeId', open_id = ev->>'openId', leave_type = new_leave_type,
    leave_type_key = ev->>'leaveTypeKey', unit = ev->>'unit', interval_seconds = (ev->>'intervalSeconds')::int,
    start_local = ev->>'startLocal', end_local = ev->>'endLocal', segments = ev->'segments',
    segments_source = ev->>'segmentsSource', reason = ev->>'reason', detail_source = ev->>'variant',
    has_v1 = new_has_v1, has_v2 = new_has_v2, revision = new_revision, updated_at = now_ts
  WHERE instance_code = code;
  IF calendar_changed THEN
    INSERT INTO outbox (key, kind) VALUES (code, 'calendar.upsert')
    ON CONFLICT (key, kind) WHERE status = 'pending' DO NOTHING;
  END IF;
  RETURN jsonb_build_object(
    'effect', CASE WHEN days_changed OR calendar_changed OR new_leave_type IS DISTINCT FROM ex.leave_type THEN 'enriched' ELSE 'unchanged' END,
    'outbox', calendar_changed, 'ignored_reason', NULL);
END;
$$;

--> statement-breakpoint
CREATE OR REPLACE FUNCTION leave_bridge_apply(ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
  -- Serialise everything that touches one instance_code (V1 and V2 may arrive in the same ms).
  PERFORM pg_advisory_xact_lock(hashtextextended(ev->>'instanceCode', 0));
  RETURN leave_bridge_apply_locked(ev, days, base_unit, now_ts, default_tz);
END;
$$;
--> statement-breakpoint
-- leave_bridge_ingest_locked: one delivery whose locks (leave, then delivery) the caller holds and
-- whose employee it has written: find it a duplicate, or apply it and record it in the inbox.
-- A delivery already stored is a duplicate: its writer committed before releasing the lock, or
-- is an earlier copy in the same batch. (Read per delivery: folded into the batch's loop query as
-- EXISTS, the planner costs the subquery as if a match came early and, on a table not yet
-- analyzed, scans inbox_events for every delivery.) `ev` is null (SQL or JSON) for a delivery
-- that is only recorded (quarantined, ignored).
CREATE FUNCTION leave_bridge_ingest_locked(inbox jsonb, ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  new_id bigint;
  applied jsonb;
  final_status text;
  final_reason text;
  final_effect text;
BEGIN
  PERFORM 1 FROM inbox_events WHERE event_key = inbox->>'eventKey' AND event_type = inbox->>'eventType';
  IF FOUND THEN
    RETURN jsonb_build_object('status', 'duplicate');
  END IF;
  IF ev IS NULL OR jsonb_typeof(ev) = 'null' THEN
    final_status := inbox->>'status';
    final_reason := inbox->>'reason';
  ELSE
    applied := leave_bridge_apply_locked(ev, days, base_unit, now_ts, default_tz);
    final_status := CASE WHEN applied->>'ignored_reason' IS NULL THEN 'applied' ELSE 'ignored' END;
    final_reason := applied->>'ignored_reason';
    final_effect := applied->>'effect';
  END IF;
  INSERT INTO inbox_events (event_key, event_type, source, instance_code, status, reason, effect, payload, received_at)
  VALUES (inbox->>'eventKey', inbox->>'eventType', inbox->>'source', inbox->>'instanceCode', final_status,
    final_reason, final_effect, inbox->'payload', now_ts)
  ON CONFLICT (event_key, event_type) DO NOTHING
  RETURNING id INTO new_id;
  IF new_id IS NULL THEN
    -- Someone wrote the row without taking the lock (nothing in leave-bridge does): fail the
    -- whole statement, apply included; the delivery is answered 500 and re-pushed.
    RAISE EXCEPTION 'inbox row (%, %) appeared during its ingest', inbox->>'eventKey', inbox->>'eventType';
  END IF;
  RETURN coalesce(applied, '{}'::jsonb) || jsonb_build_object('status', final_status, 'inbox_id', new_id, 'reason', final_reason);
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
  IF ev IS NOT NULL AND ev->>'kind' <> 'revert' THEN
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
-- leave_bridge_ingest_batch: deliveries [{inbox, ev, days, baseUnit, now, defaultTz}, ...] in one statement,
-- so they commit together. Each gets what leave_bridge_ingest would have given it alone.
-- Returns {"<position>": <its result>, ...} (positions from 1, in the order given). Anything that
-- fails fails the whole batch, and the caller runs its deliveries one by one.
CREATE OR REPLACE FUNCTION leave_bridge_ingest_batch(items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  emp record;
  it record;
  results jsonb := '{}'::jsonb;
BEGIN
  -- Employees first, in one order, and only those to write (new, or a changed open_id): a
  -- second batch with the same new employee waits here, before it holds any leave lock.
  FOR emp IN
    SELECT x.id, x.open, x.now_ts
    FROM (
      SELECT DISTINCT ON (i->'ev'->>'employeeId') i->'ev'->>'employeeId' AS id, i->'ev'->>'openId' AS open,
        (i->>'now')::timestamptz AS now_ts
      FROM jsonb_array_elements(items) i
      WHERE i->'ev'->>'kind' <> 'revert'
      ORDER BY i->'ev'->>'employeeId'
    ) x
    LEFT JOIN employees e ON e.employee_id = x.id
    WHERE e.employee_id IS NULL OR (x.open IS NOT NULL AND e.open_id IS DISTINCT FROM x.open)
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

  -- Deliveries in 0002's order.
  FOR it IN
    SELECT x.value->'inbox' AS inbox, x.value->'ev' AS ev, x.value->'days' AS days, x.value->>'baseUnit' AS base_unit,
      (x.value->>'now')::timestamptz AS now_ts, x.value->>'defaultTz' AS default_tz, x.ordinality AS pos
    FROM jsonb_array_elements(items) WITH ORDINALITY x
    ORDER BY hashtextextended(x.value->'inbox'->>'instanceCode', 0) NULLS LAST,
             hashtextextended((x.value->'inbox'->>'eventType') || ':' || (x.value->'inbox'->>'eventKey'), 1)
  LOOP
    results := results || jsonb_build_object(it.pos::text,
      leave_bridge_ingest_locked(it.inbox, it.ev, it.days, it.base_unit, it.now_ts, it.default_tz));
  END LOOP;
  RETURN results;
END;
$$;
