-- leave_bridge_ingest(inbox, ev, days, base_unit, now_ts, default_tz): one Feishu delivery,
-- deduplicated, applied and recorded in one autocommit statement: one round trip, one commit, and
-- its inbox row, leave, days and outbox rows commit together or not at all. src/leave/ingest.ts
-- runs it for a delivery that goes alone (deliveries that queue go together through
-- leave_bridge_ingest_batch) and acks Feishu only after it committed.
--
-- inbox: {eventKey, eventType, source, instanceCode, status, reason, payload}, the delivery's
-- row (status and reason as the service planned them, stored when ev is NULL);
-- ev: the canonical event, NULL for a delivery that is only recorded (quarantined, ignored);
-- days, base_unit, default_tz: as leave_bridge_apply's; now_ts: when it was received.
-- Returns {status: 'duplicate'}, or {status, inbox_id, reason} with, for an applied event,
-- leave_bridge_apply_locked's {effect, outbox, ignored_reason}.
--
-- Reads and writes: employees (leave_bridge_note_employee), then, through
-- leave_bridge_ingest_locked, inbox_events, leaves, attendance_days and outbox.
--
-- Dedupe on (event_key, event_type), the unique key of inbox_events: Feishu pushes again whatever
-- it did not see answered, and a second copy is answered duplicate and changes nothing. The event
-- type is part of the key because Feishu's documented examples reuse one uuid across
-- leave_approval, leave_approvalV2 and the revert.
--
-- Lock order, the same for every ingest, alone or batched:
-- 1. an approval's employee is written, if new or its open_id changed, while no lock is held (a
--    plain read when there is nothing to write);
-- 2. the leave's lock, pg_advisory_xact_lock(hashtextextended(instance_code, 0)), the one every
--    writer of a leave takes (leave_bridge_apply.sql); a delivery that names no leave skips it;
-- 3. the delivery's lock, pg_advisory_xact_lock(hashtextextended(event_type || ':' || event_key,
--    1)). Copies of one delivery wait here until the first commits, then find its inbox row with a
--    plain read: the holder commits before the lock is released, and each statement takes a
--    fresh snapshot under READ COMMITTED. So the row is written once, with its outcome, and a
--    racing re-push is answered duplicate, never an error.
-- Why this order cannot deadlock, with batches running beside it: leave_bridge_ingest_batch.sql.
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
