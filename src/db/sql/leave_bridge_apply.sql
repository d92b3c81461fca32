-- leave_bridge_apply(ev, days, base_unit, now_ts, default_tz): apply one canonical event to its
-- leave inside the caller's transaction, taking the leave's lock itself. Replay of a quarantined
-- event calls it (applyLeaveEvent in src/leave/ingest.ts, from src/leave/replay.ts). Ingest does
-- not: it takes its locks in a fixed order first (leave_bridge_ingest.sql).
--
-- ev: the JSON of a LeaveApproval or LeaveRevert (src/leave/types.ts); days: [{date, quantity}]
-- as src/leave/allocate.ts allocated them ([] for a revert); base_unit: the unit the quantities
-- count (day, hour or minute; NULL for a revert); now_ts: the time of the change; default_tz: the
-- zone fixed on a new leave whose employee has none. Returns {effect, outbox, ignored_reason}.
--
-- Locks: pg_advisory_xact_lock(hashtextextended(instance_code, 0)), held until the caller's
-- transaction ends. It is the lock every writer of a leave takes (ingest, replay, the outbox
-- whenever it moves a leave's message back to pending, an operator's employee override), so
-- events of one leave are applied one after the other: Feishu sends an approval's V1 and V2
-- events in the same moment.
--
-- Reads, writes and rules: leave_bridge_apply_locked.sql.
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
