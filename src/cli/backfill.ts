import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { backfill, type BackfillReport } from '../feishu/backfill.js';
import { buildNodeRuntime } from '../node-deps.js';
import { ExternalError } from '../ports.js';
import { corehrBackfill } from './corehr.js';
import type { CliIo } from './subscribe.js';

const USAGE = 'usage: leave-bridge backfill (--approval <code> | --corehr) --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--format table|json]';

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** A report a person reads: totals, then one line per instance that was not simply unchanged. */
export function formatReport(r: BackfillReport): string {
  const lines = [
    `backfill ${r.approvalCode} ${r.from}..${r.to}`,
    `  listed     ${r.listed}`,
    `  approved   ${r.approved}`,
    `  reverted   ${r.reverted}`,
    `  unchanged  ${r.unchanged}`,
    `  skipped    ${r.skipped}`,
    `  errors     ${r.errors.length}`,
  ];
  const notable = r.items.filter((i) => i.outcome !== 'unchanged');
  if (notable.length > 0) {
    lines.push('', 'instance_code\tstatus\toutcome\tdetail');
    for (const i of notable) lines.push(`${i.instanceCode}\t${i.status ?? '-'}\t${i.outcome}\t${i.detail ?? ''}`);
  }
  return lines.join('\n');
}

/** `leave-bridge backfill --approval <code> --from <date> --to <date>`: exit 1 when any instance failed. */
export async function backfillCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        approval: { type: 'string' },
        corehr: { type: 'boolean', default: false },
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string', default: 'table' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { approval, corehr, from, to, format } = values;
  if (!from || !to || (format !== 'table' && format !== 'json') || (!approval) === !corehr) {
    io.err(USAGE);
    return 2;
  }
  if (corehr) return corehrBackfill(config, from, to, format, io, USAGE);
  if (!approval) return 2;
  if (!config.FEISHU_APP_ID || !config.FEISHU_APP_SECRET) {
    io.err('leave-bridge backfill: set FEISHU_APP_ID and FEISHU_APP_SECRET');
    return 78;
  }
  const runtime = await buildNodeRuntime(config);
  try {
    const report = await backfill(runtime.deps, { approvalCode: approval, from, to });
    io.out(format === 'json' ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.errors.length > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof AppError && err.status === 400) {
      io.err(`leave-bridge backfill: ${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof ExternalError || err instanceof AppError) {
      io.err(`leave-bridge backfill failed: ${err.message}`);
      return err instanceof ExternalError && err.failure === 'configuration' ? 78 : 1;
    }
    throw err;
  } finally {
    await runtime.close();
  }
}
