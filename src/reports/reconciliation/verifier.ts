import type { DriftItem } from './types.js';
import { VERIFY_FAILURE_LIMIT } from './types.js';

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300);

/** Calls to one external service, given up after VERIFY_FAILURE_LIMIT failures (each becomes an item). */
export class Verifier {
  failures = 0;
  skipped = 0;
  constructor(
    private readonly service: 'google' | 'feishu',
    /** where its items go (failures, and lookups given up) */
    private readonly emit: (item: DriftItem) => void,
  ) {}

  async call<T>(what: string, ids: { instance_code?: string | null; employee_id?: string | null }, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (this.failures >= VERIFY_FAILURE_LIMIT) {
      this.skipped++;
      return { ok: false };
    }
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      this.failures++;
      this.emit({
        category: 'verify_failed',
        instance_code: ids.instance_code ?? null,
        employee_id: ids.employee_id ?? null,
        detail: `${this.service === 'google' ? 'Google Calendar' : 'Feishu'}: ${what} failed: ${errorText(err)}`,
        action:
          this.service === 'google'
            ? 'Check the service account (domain-wide delegation, calendar.events scope) and that the calendar exists; run the report again.'
            : 'Check FEISHU_APP_ID/SECRET and the app\'s approval read permission; run the report again.',
        severity: 'warning',
        data: { service: this.service },
      });
      return { ok: false };
    }
  }

  finish(): void {
    if (this.skipped === 0) return;
    this.emit({
      category: 'verify_failed',
      instance_code: null,
      employee_id: null,
      detail: `${this.service === 'google' ? 'Google Calendar' : 'Feishu'}: stopped after ${VERIFY_FAILURE_LIMIT} failures; ${this.skipped} more lookups not made`,
      action: 'Fix the failures listed above and run the report again; these items were not verified.',
      severity: 'warning',
      data: { service: this.service, skipped: this.skipped },
    });
  }
}
