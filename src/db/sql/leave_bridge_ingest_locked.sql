-- leave_bridge_ingest_locked(inbox, ev, days, base_unit, now_ts, default_tz): the part of
-- leave_bridge_ingest that runs under its locks (the leave's, then the delivery's), after its
-- employee is written: answer the delivery duplicate, or apply it and record it. Arguments and
-- result as leave_bridge_ingest's.
--
-- Reads: inbox_events by (event_key, event_type). Writes: inbox_events; through
-- leave_bridge_apply_locked, leaves, attendance_days and outbox. Locks: none of its own.
--
-- Rules:
-- * Dedupe on (event_key, event_type): a delivery whose inbox row is stored is a duplicate, and
--   nothing else is read or written. The caller's delivery lock makes a read enough: whoever
--   wrote the row committed before releasing that lock.
-- * ev NULL (in SQL or as JSON null): the delivery is only recorded, with the status and reason
--   the service planned (quarantined: authentic but unusable, kept for replay; ignored: an event
--   that changes no leave).
-- * Otherwise the event is applied (leave_bridge_apply_locked.sql) and its row records the
--   outcome: applied with its effect, or ignored with the reason when it concerned no known leave
--   (a CANCELED or DELETED instance that was never approved).
-- * The inbox row, with the payload kept for audit and replay, is written once, after the apply.
--   If it appeared meanwhile (written without the delivery's lock; nothing in leave-bridge does
--   that), the statement fails, apply included: the delivery is answered 500 and Feishu pushes it
--   again.
CREATE OR REPLACE FUNCTION leave_bridge_ingest_locked(inbox jsonb, ev jsonb, days jsonb, base_unit text, now_ts timestamptz, default_tz text)
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
