import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { buildNodeRuntime } from '../node-deps.js';
import { audited } from './audit.js';
import type { ApprovalKind } from '../leave/types.js';
import { payrollCsv } from '../reports/payroll-csv.js';
import { payrollJson } from '../reports/payroll-json.js';
import { recordExport } from '../reports/payroll-record.js';
import { parseKinds, type AdjustmentsMode } from '../reports/payroll-types.js';
import { parsePeriod } from '../reports/period.js';
import { parseColumns, type OptionalColumn } from '../policies/payroll-code.js';

export const EXPORT_USAGE = 'usage: leave-bridge export --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--format csv|json] [--adjustments|--no-adjustments] [--kinds leave,overtime,out,trip] [--columns payroll_code]';

export interface ExportIo {
  /** the export itself (stdout): nothing else is written there, so it can be piped to a file; a promise makes the export wait (a full pipe) */
  out: (chunk: string) => unknown;
  /** usage and errors (stderr) */
  err: (line: string) => void;
}

const stdio: ExportIo = {
  // a slow reader (a full pipe) holds the export back rather than letting it pile up in memory
  out: (chunk) => (process.stdout.write(chunk) ? undefined : new Promise<void>((resolve) => process.stdout.once('drain', () => resolve()))),
  err: (line) => process.stderr.write(`${line}\n`),
};

export interface ExportArgs {
  from: string;
  to: string;
  format: 'csv' | 'json';
  adjustments: AdjustmentsMode;
  /** absent: leaves only, without a kind column (as before kinds existed) */
  kinds?: ApprovalKind[];
  /** optional columns asked for (payroll_code) */
  columns?: OptionalColumn[];
}

/** Parse and check the arguments before anything opens the database. */
export function parseExportArgs(args: string[]): ExportArgs | { error: string } {
  let values: { from?: string; to?: string; format?: string; adjustments?: boolean; 'no-adjustments'?: boolean; kinds?: string; columns?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string' },
        adjustments: { type: 'boolean' },
        'no-adjustments': { type: 'boolean' },
        kinds: { type: 'string' },
        columns: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { error: (err as Error).message };
  }
  const format = values.format ?? 'csv';
  if (format !== 'csv' && format !== 'json') return { error: '--format must be csv or json' };
  if (values.adjustments && values['no-adjustments']) return { error: '--adjustments and --no-adjustments exclude each other' };
  const kinds = values.kinds === undefined ? undefined : parseKinds(values.kinds);
  if (kinds && 'error' in kinds) return { error: `--kinds: ${kinds.error}` };
  const columns = values.columns === undefined ? undefined : parseColumns(values.columns);
  if (columns && 'error' in columns) return { error: `--columns: ${columns.error}` };
  try {
    const period = parsePeriod(values.from, values.to);
    return { ...period, format, adjustments: values.adjustments ? 'include' : values['no-adjustments'] ? 'omit' : 'auto', ...(kinds ? { kinds } : {}), ...(columns ? { columns } : {}) };
  } catch (err) {
    if (err instanceof AppError) return { error: err.message.replace(/^(from|to):/, '--$1:') };
    throw err;
  }
}

/**
 * The payroll export on the command line: the same lines, adjustments and record as
 * `GET /api/payroll/export`. Exit codes: 0 done, 2 bad arguments.
 */
export async function runExport(deps: Pick<Deps, 'db' | 'clock'>, args: ExportArgs, io: ExportIo): Promise<number> {
  const exp = await audited(deps, { action: 'payroll.export', detail: { from: args.from, to: args.to, format: args.format } }, () => recordExport(deps, args));
  // the same document as the API's, indented, and a final newline
  for await (const piece of args.format === 'json' ? payrollJson(deps.db, exp, 2) : payrollCsv(deps.db, exp)) if (piece !== '') await io.out(piece);
  if (args.format === 'json') await io.out('\n');
  return 0;
}

/** `leave-bridge export`: checks its arguments, opens the configured database (no migration), exports. */
export async function exportCommand(config: Config, args: string[], io: ExportIo = stdio): Promise<number> {
  const parsed = parseExportArgs(args);
  if ('error' in parsed) {
    io.err(`leave-bridge export: ${parsed.error}\n${EXPORT_USAGE}`);
    return 2;
  }
  const runtime = await buildNodeRuntime(config, { migrate: false });
  try {
    return await runExport(runtime.deps, parsed, io);
  } finally {
    await runtime.close();
  }
}
