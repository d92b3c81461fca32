/** The shapes an outbox handler takes and gives: its deps, the message it runs, and what came of it. */
import type { Deps } from '../deps.js';
import type { CorehrSyncReport } from '../feishu/corehr-sync.js';
import type { BlockRecord } from './block-records.js';

export type HandlerDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'calendar' | 'feishu' | 'logger' | 'metrics' | 'onOutboxWritten'>;

export interface OutboxMessage {
  id: number;
  key: string;
  kind: string;
  payload: unknown;
  attempts: number;
}

export interface HandlerResult {
  action: 'created' | 'updated' | 'deleted' | 'already_gone' | 'nothing' | 'synced';
  detail?: string;
  calendar_id?: string;
  event_id?: string;
  event_type?: string;
  fallback_reason?: string | null;
  start?: string;
  end?: string;
  time_zone?: string;
  /** set when the block moved to another calendar (new address) */
  moved_from?: string;
  /** a record with several blocks (a trip): what became of each */
  blocks?: Array<HandlerResult & { block_key: string; employee_id: string | null }>;
  /** a CoreHR sync (corehr.sync): what it read and applied */
  corehr?: CorehrSyncReport;
}

export interface HandlerOutcome {
  result: HandlerResult;
  record: BlockRecord | null;
}
