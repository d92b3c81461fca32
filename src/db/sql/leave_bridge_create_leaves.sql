-- leave_bridge_create_leaves(creates): create approval records (leaves and every other kind) that
-- are not stored yet, for one approval or many, in one statement: each record's row, its
-- attendance days and, for the kinds that block a calendar (leave, out, trip), its calendar.upsert.
--
-- creates: [{ev, days, baseUnit, now, tz}, ...]: the canonical approval (the JSON of a
-- LeaveApproval, src/leave/types.ts), its days [{date, quantity}] as src/leave/allocate.ts
-- allocated them, the base unit its quantities count (day, hour or minute), the time of the
-- change, and tz, the zone fixed on the leave (its employee's, else the configured default).
--
-- Reads: nothing. Writes: leaves, attendance_days, outbox. Locks: none of its own. The caller
-- holds the advisory lock of every leave it passes (leave_bridge_apply.sql) and knows that none
-- of them is stored: an existing row fails the statement with a unique violation.
--
-- Rules:
-- * A new leave is approved, at revision 1, with the approval's detail; has_v1 / has_v2 say
--   which variant described it, detail_source records it for the precedence of later detail
--   (leave_bridge_apply_locked.sql). Its zone is fixed now: later events do not move it.
-- * Its kind is the approval's (ev.approvalKind); its peers, segment seconds and extra detail are
--   stored as given (null where the kind has none).
-- * Its days are inserted as revision 1, active, each for its own employee (a trip's peers have
--   days too), else the approval's employee.
-- * calendar.upsert is enqueued, for leave, out and trip only, with ON CONFLICT ... DO NOTHING on the pending (key, kind): one
--   pending message per leave and kind is enough, because the drainer reads the leave's current
--   state when it runs the message (src/outbox/enqueue.ts).
-- * team_calendar.sync is enqueued too, under the key 'team:' || instance_code, for the same
--   kinds when the approval says ev.teamCalendar (a team absence calendar is configured), unless
--   the record is created pending (a pending request has no team event).
-- * Rows are inserted in the order given, so their ids follow the deliveries' order.
-- * Its source is the approval's (ev.source: corehr for a Feishu People leave request), else
--   approval. A zone the approval names (ev.timezone: a CoreHR request's time_zone) is fixed on
--   it instead of the employee's or the default. A CoreHR request still pending (ev.pending, only
--   passed with tentative holds on) is recorded pending and held, with its detail and no days; its
--   calendar.upsert writes the hold, which its approval or withdrawal removes. Each day keeps the paid_type the approval gives it (CoreHR's
--   details[].paid_type), else null.
--
-- One statement of data-modifying WITH queries rather than three statements: none of them reads
-- rows another writes (all see the snapshot taken before any of them), and starting statements is
-- most of what PL/pgSQL costs per event. leave_bridge_apply_locked calls it for the one leave it
-- creates and leave_bridge_ingest_batch for every leave its first round creates, so a leave is
-- created in one place.
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
