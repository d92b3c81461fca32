/** What a run learned about Google for one record's blocks, and the SQL that writes it to calendar_blocks. */
import { sql, type SQL } from 'drizzle-orm';

/** One block as Google holds it after a run. */
export interface PresentBlock {
  blockKey: string;
  employeeId: string | null;
  calendarId: string;
  eventId: string;
  eventType: string;
  startAt: Date;
  endAt: Date;
  fallbackReason: string | null;
}

/**
 * What a run learned about Google for one record's blocks, for calendar_blocks. The drainer writes
 * it in the same statement as the message's completion (recordsCtes): one round trip fewer per
 * message. It is written even when the completion is fenced out: it describes Google, not the row.
 */
export interface BlockRecord {
  instanceCode: string;
  syncedAt: Date;
  present: PresentBlock[];
  /** keys of the blocks now deleted */
  deleted: string[];
}

/**
 * BlockRecords as WITH entries of one statement (the drainer's completion, or a record alone),
 * or null when there are none. At most one record per record's block (an upsert cannot touch one
 * row twice; the drainer never runs two messages of one record at once, and a batch that breaks
 * this fails and is retried one by one).
 *
 * An entry is written only for records that exist, and rows are found by their key (`in (…)`):
 * an empty `update … from jsonb_to_recordset(…)` still read calendar_blocks, and the planner, which
 * guesses 100 rows for any set-returning function, joined it by hashing the whole table. On a
 * table analyzed while it was small (a new install, a backlog drained after it) that was a
 * sequential scan of every block per completion, growing with the table.
 */
export function recordsCtes(records: BlockRecord[]): SQL | null {
  const present = records.flatMap((r) =>
    r.present.map((b) => ({
      instance_code: r.instanceCode,
      block_key: b.blockKey,
      employee_id: b.employeeId,
      calendar_id: b.calendarId,
      event_id: b.eventId,
      event_type: b.eventType,
      start_at: b.startAt.toISOString(),
      end_at: b.endAt.toISOString(),
      fallback_reason: b.fallbackReason,
      synced_at: r.syncedAt.toISOString(),
    })),
  );
  const deleted = records.flatMap((r) => r.deleted.map((k) => ({ instance_code: r.instanceCode, block_key: k, synced_at: r.syncedAt.toISOString() })));
  const ctes: SQL[] = [];
  if (present.length > 0) {
    ctes.push(sql`blocks_present as (
      insert into calendar_blocks (instance_code, block_key, employee_id, calendar_id, event_id, event_type, state, start_at, end_at, fallback_reason, synced_at)
      select p.instance_code, p.block_key, p.employee_id, p.calendar_id, p.event_id, p.event_type, 'present', p.start_at, p.end_at, p.fallback_reason, p.synced_at
      from jsonb_to_recordset(${JSON.stringify(present)}::jsonb) as p(instance_code text, block_key text, employee_id text, calendar_id text,
        event_id text, event_type text, start_at timestamptz, end_at timestamptz, fallback_reason text, synced_at timestamptz)
      on conflict (instance_code, block_key) do update set employee_id = excluded.employee_id, calendar_id = excluded.calendar_id,
        event_id = excluded.event_id, event_type = excluded.event_type, state = excluded.state, start_at = excluded.start_at,
        end_at = excluded.end_at, fallback_reason = excluded.fallback_reason, synced_at = excluded.synced_at
    )`);
  }
  if (deleted.length > 0) {
    ctes.push(sql`blocks_deleted as (
      update calendar_blocks b set state = 'deleted', synced_at = d.synced_at
      from jsonb_to_recordset(${JSON.stringify(deleted)}::jsonb) as d(instance_code text, block_key text, synced_at timestamptz)
      where b.instance_code = d.instance_code and b.block_key = d.block_key and b.instance_code in ${[...new Set(deleted.map((d) => d.instance_code))]}
    )`);
  }
  return ctes.length > 0 ? sql.join(ctes, sql`, `) : null;
}
