-- leave_bridge_note_employee(employee, open, now_ts): make sure the employee row exists and
-- carries the open_id of the latest event that named one.
--
-- Reads: employees by employee_id. Writes: employees (a new row, or open_id alone); nothing else
-- of the row, since its zone, name and e-mail are an operator's overrides or directory data, not
-- an event's. Locks: the employee row while it writes it; no advisory lock.
--
-- Rules:
-- * An unknown employee is inserted with ON CONFLICT DO NOTHING: when a concurrent first event of
--   the same employee inserts it first, this one waits for that commit instead of failing.
-- * A known employee is written only when the event names an open_id and it differs from the
--   stored one. An upsert that always updates would write a new row version per event and lock
--   the row each time; an event without an open_id never clears the stored one.
--
-- Ingest calls it before it takes any advisory lock (leave_bridge_ingest,
-- leave_bridge_ingest_batch): that is the first step of the lock order that keeps concurrent
-- ingests from deadlocking (leave_bridge_ingest_batch.sql). Replay reaches it through
-- leave_bridge_apply_locked, under the leave's lock, when the employee is new or its open_id
-- changed.
CREATE OR REPLACE FUNCTION leave_bridge_note_employee(employee text, open text, now_ts timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  known_open text;
BEGIN
  SELECT open_id INTO known_open FROM employees WHERE employee_id = employee;
  IF NOT FOUND THEN
    -- a concurrent first event of the same employee may insert it first: we wait for its commit
    INSERT INTO employees (employee_id, open_id, updated_at) VALUES (employee, open, now_ts)
    ON CONFLICT (employee_id) DO NOTHING;
  ELSIF open IS NOT NULL AND known_open IS DISTINCT FROM open THEN
    UPDATE employees SET open_id = open WHERE employee_id = employee;
  END IF;
END;
$$;
