-- leave_bridge_ingest_batch(items): several deliveries in one statement, committed together: one
-- round trip, one WAL flush and one snapshot for the lot. src/leave/ingest.ts sends the
-- deliveries that queued while its previous ingest statement ran (group commit,
-- src/db/group-commit.ts).
--
-- items: [{inbox, ev, days, baseUnit, now, defaultTz}, ...], each what leave_bridge_ingest takes.
-- Returns {"<position>": <its result>, ...}, positions from 1 in the order given. Each delivery
-- gets the result leave_bridge_ingest would give it alone, and the stored rows are those the
-- deliveries leave one by one in the order the batch applies them to each leave. Anything that
-- fails fails the whole batch, and the caller runs its deliveries again one by one, so one bad
-- delivery never holds back the others.
--
-- Reads: employees, inbox_events and leaves, each by key. Writes: employees
-- (leave_bridge_note_employee), leaves, attendance_days and outbox (leave_bridge_create_leaves,
-- leave_bridge_apply_locked), inbox_events.
--
-- In order:
-- 1. Employees: those of its approvals to write (new, or a changed open_id), one per employee,
--    in employee_id order, before any lock. A second batch with the same new employee waits here
--    for the first's commit, holding no lock.
-- 2. Locks: every leave's lock, ascending by lock key, then every delivery's lock, ascending
--    (the keys are leave_bridge_ingest's), a statement each.
-- 3. One query puts the deliveries in order and tells for each whether it is a duplicate (its row
--    is stored, or it is a later copy of a delivery earlier in this batch: the first copy is
--    applied, the others are answered duplicate), whether its leave is stored, and its employee's
--    zone.
-- 4. Rounds: round n holds the n-th delivery of every leave, a leave's deliveries taken in the
--    order of their delivery lock keys, then of their positions. A leave's deliveries apply one
--    after the other, each seeing what the one before wrote; deliveries of different leaves never
--    touch the same rows, so their relative order does not matter. The approvals in round 1 of
--    leaves not stored are collected and created together (leave_bridge_create_leaves) before
--    round 2, which may enrich them, starts; every other delivery goes through
--    leave_bridge_apply_locked.
-- 5. The inbox rows of the deliveries that are not duplicates, with their outcomes, in one
--    statement, from arrays filled while the deliveries were applied. Without ON CONFLICT: the
--    delivery locks and the duplicate read keep every copy out, and a row that appeared anyway
--    (written without the lock) fails the batch with a unique violation, so its deliveries run
--    again one by one.
--
-- Why batches cannot deadlock, with each other or with single ingests: a transaction writes
-- employee rows only before it holds any lock, and takes leave locks in ascending order, so it
-- only ever waits for a leave lock greater than every leave lock it holds. A delivery's lock is
-- only contended by a copy of the same delivery, which needs the same leave's lock first (or,
-- without a leave, holds nothing else it could wait for), so nothing waits for a lock while
-- holding a greater one of the same kind. Within one process the group commit never puts two
-- deliveries of one leave into two statements at once (the second would wait for the first's
-- lock inside its statement, holding up everything batched with it); across processes that wait
-- happens, and is only a wait.
--
-- Rows are found by key, with LEFT JOIN LATERAL (... LIMIT 1), not with a plain join or EXISTS:
-- on tables not yet analyzed (a new install, the first minutes of a backfill) the planner has no
-- statistics and would otherwise scan whole tables, hashing every employee for every batch or
-- reading inbox_events for every delivery. A lookup of one row by its key is an index probe.
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
