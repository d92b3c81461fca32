import { Hono } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { payrollCsv } from '../reports/payroll-csv.js';
import { payrollJson } from '../reports/payroll-json.js';
import { recordExport } from '../reports/payroll-record.js';
import { parseKinds, type AdjustmentsMode } from '../reports/payroll-types.js';
import { periodErrorCode, withPeriod } from '../reports/period.js';
import { parseColumns } from '../policies/payroll-code.js';
import { reconcile } from '../reports/reconciliation/index.js';
import { ReconciliationQuery } from '../reports/reconciliation/query.js';
import { textStream } from '../shared/stream.js';
import { query } from './validate.js';

const ADJUSTMENTS: Record<string, AdjustmentsMode> = { '': 'auto', true: 'include', 1: 'include', false: 'omit', 0: 'omit' };

const ExportQuery = withPeriod({
  format: z.enum(['csv', 'json'], { error: 'expected csv or json' }).default('csv'),
  adjustments: z
    .string()
    .optional()
    .refine((v) => v === undefined || Object.hasOwn(ADJUSTMENTS, v), 'expected true or false')
    .transform((v): AdjustmentsMode => (v === undefined ? 'auto' : ADJUSTMENTS[v]!)),
  kinds: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const kinds = parseKinds(v);
      if (!('error' in kinds)) return kinds;
      ctx.addIssue({ code: 'custom', message: kinds.error });
      return z.NEVER;
    }),
  columns: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const columns = parseColumns(v);
      if (!('error' in columns)) return columns;
      ctx.addIssue({ code: 'custom', message: columns.error });
      return z.NEVER;
    }),
});

/** GET /api/payroll/export, GET /api/reconciliation */
export function reportRoutes(deps: Pick<Deps, 'db' | 'clock' | 'calendar' | 'feishu' | 'config'>): Hono {
  const r = new Hono();

  r.get('/payroll/export', query(ExportQuery, periodErrorCode), async (c) => {
    const { format, adjustments, kinds, columns, ...period } = c.req.valid('query') as z.output<typeof ExportQuery>;
    // Recorded first (one transaction), then streamed from the record chunk by chunk.
    const exp = await recordExport(deps, { from: period.from, to: period.to, format, adjustments, kinds, columns });
    c.header('x-payroll-export-id', String(exp.export_id));
    if (format === 'json') return c.body(textStream(payrollJson(deps.db, exp)), 200, { 'content-type': 'application/json' });
    c.header('content-disposition', `attachment; filename="payroll_${period.from}_${period.to}.csv"`);
    return c.body(textStream(payrollCsv(deps.db, exp)), 200, { 'content-type': 'text/csv; charset=utf-8; header=present' });
  });

  r.get('/reconciliation', query(ReconciliationQuery, periodErrorCode), async (c) => {
    const { from, to, verify, limit, cursor, category } = c.req.valid('query') as z.output<typeof ReconciliationQuery>;
    return c.json(await reconcile(deps, { from, to, verify, limit, cursor, category }));
  });

  return r;
}
