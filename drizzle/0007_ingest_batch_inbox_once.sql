-- The batch's duplicate reads and inbox rows, one statement each for the whole batch instead of
-- one each per delivery (see the README's Benchmarks: most of an event's Postgres time is spent
-- starting statements inside PL/pgSQL). Same rules and results as 0006's
-- leave_bridge_ingest_batch, which this replaces; the single delivery (leave_bridge_ingest) and
-- replay (leave_bridge_apply) are unchanged.
-- * A delivery is a duplicate when its row is stored already, or when a copy of it comes earlier in
--   this batch's order (the copy is applied, this one is not). The stored row is read through a
--   LATERAL subquery with LIMIT 1: a per-delivery lookup of inbox_events_key_uq, which the planner
--   cannot turn into a scan of the whole table (as it did with EXISTS on tables never analyzed).
-- * The deliveries are applied in 0006's order, and their inbox rows are written together after
--   the last one; the locks held since the start keep every copy of them out until commit.
CREATE OR REPLACE FUNCTION leave_bridge_ingest_batch(items jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
  emp record;
  it record;
  applied jsonb;
  results jsonb := '{}'::jsonb;
  pos_list int[] := '{}';
  status_list text[] := '{}';
  reason_list text[] := '{}';
  effect_list text[] := '{}';
  applied_list jsonb[] := '{}';
  written int;
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

  -- Deliveries in 0002's order, each knowing whether it is a duplicate.
  FOR it IN
    SELECT d.*, (stored.found IS NOT NULL OR d.copy > 1) AS duplicate
    FROM (
      SELECT x.value->'inbox' AS inbox, x.value->'ev' AS ev, x.value->'days' AS days, x.value->>'baseUnit' AS base_unit,
        (x.value->>'now')::timestamptz AS now_ts, x.value->>'defaultTz' AS default_tz, x.ordinality AS pos,
        hashtextextended(x.value->'inbox'->>'instanceCode', 0) AS leave_k,
        hashtextextended((x.value->'inbox'->>'eventType') || ':' || (x.value->'inbox'->>'eventKey'), 1) AS delivery_k,
        row_number() OVER (PARTITION BY x.value->'inbox'->>'eventType', x.value->'inbox'->>'eventKey'
                           ORDER BY hashtextextended(x.value->'inbox'->>'instanceCode', 0) NULLS LAST, x.ordinality) AS copy
      FROM jsonb_array_elements(items) WITH ORDINALITY x
    ) d
    LEFT JOIN LATERAL (
      SELECT true AS found FROM inbox_events e
      WHERE e.event_key = d.inbox->>'eventKey' AND e.event_type = d.inbox->>'eventType'
      LIMIT 1
    ) stored ON true
    ORDER BY d.leave_k NULLS LAST, d.delivery_k, d.pos
  LOOP
    IF it.duplicate THEN
      results := results || jsonb_build_object(it.pos::text, jsonb_build_object('status', 'duplicate'));
      CONTINUE;
    END IF;
    pos_list := pos_list || it.pos::int;
    IF it.ev IS NULL OR jsonb_typeof(it.ev) = 'null' THEN
      -- only recorded (quarantined, ignored)
      status_list := status_list || (it.inbox->>'status');
      reason_list := reason_list || (it.inbox->>'reason');
      effect_list := effect_list || NULL::text;
      applied_list := applied_list || '{}'::jsonb;
    ELSE
      applied := leave_bridge_apply_locked(it.ev, it.days, it.base_unit, it.now_ts, it.default_tz);
      status_list := status_list || CASE WHEN applied->>'ignored_reason' IS NULL THEN 'applied' ELSE 'ignored' END;
      reason_list := reason_list || (applied->>'ignored_reason');
      effect_list := effect_list || (applied->>'effect');
      applied_list := applied_list || applied;
    END IF;
  END LOOP;

  -- The inbox rows of every delivery that is not a duplicate, with their outcomes, in one statement.
  WITH u AS (
    SELECT u.pos, u.status, u.reason, u.effect, u.applied, items->(u.pos - 1) AS item
    FROM unnest(pos_list, status_list, reason_list, effect_list, applied_list) AS u(pos, status, reason, effect, applied)
  ), ins AS (
    INSERT INTO inbox_events (event_key, event_type, source, instance_code, status, reason, effect, payload, received_at)
    SELECT item->'inbox'->>'eventKey', item->'inbox'->>'eventType', item->'inbox'->>'source', item->'inbox'->>'instanceCode',
      status, reason, effect, item->'inbox'->'payload', (item->>'now')::timestamptz
    FROM u
    ORDER BY u.pos
    ON CONFLICT (event_key, event_type) DO NOTHING
    RETURNING id, event_key, event_type
  )
  SELECT count(*), results || coalesce(jsonb_object_agg(u.pos::text,
           u.applied || jsonb_build_object('status', u.status, 'inbox_id', ins.id, 'reason', u.reason)), '{}'::jsonb)
  INTO written, results
  FROM ins JOIN u ON ins.event_key = u.item->'inbox'->>'eventKey' AND ins.event_type = u.item->'inbox'->>'eventType';
  IF written <> coalesce(array_length(pos_list, 1), 0) THEN
    -- Someone wrote a row without taking the lock (nothing in leave-bridge does): fail the whole
    -- batch, applies included; its deliveries are run again one by one.
    RAISE EXCEPTION 'inbox rows appeared during their batch''s ingest (% of % written)', written, coalesce(array_length(pos_list, 1), 0);
  END IF;
  RETURN results;
END;
$$;
