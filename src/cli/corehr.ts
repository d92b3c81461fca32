import { DateTime } from 'luxon';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { creationRange } from '../feishu/backfill.js';
import { syncCorehr, type CorehrSyncMode, type CorehrSyncReport } from '../feishu/corehr-sync.js';
import { buildNodeRuntime } from '../node-deps.js';
import { ExternalError } from '../ports.js';
import type { CliIo } from './subscribe.js';

const SYNC_USAGE = 'usage: leave-bridge corehr sync [--since <YYYY-MM-DD HH:mm:ss | ISO 8601>] [--format table|json]';

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** What a person reads of a sync: the window, the counts, the first problems. */
export function formatCorehrReport(r: CorehrSyncReport): string {
  const w = r.window;
  const lines = [
    w.from !== undefined ? `corehr backfill ${w.from}..${w.to}` : `corehr sync updated ${w.updatedFrom} .. ${w.updatedTo}`,
    `  pages        ${r.pages}`,
    `  requests     ${r.requests}`,
    `  applied      ${r.applied}`,
    `  unchanged    ${r.duplicate}`,
    `  ignored      ${r.ignored}`,
    `  quarantined  ${r.quarantined}`,
  ];
  if (r.watermark) lines.push(`  watermark    ${r.watermark}`);
  if (r.problems.length > 0) {
    lines.push('', 'instance_code\treason');
    for (const p of r.problems) lines.push(`${p.instanceCode ?? '-'}\t${p.reason}`);
  }
  return lines.join('\n');
}

/** A time as an operator types it: ISO 8601 with a zone, or a wall-clock time in DEFAULT_TIMEZONE. */
export function parseSince(value: string, zone: string): Date | null {
  const v = value.trim();
  const iso = DateTime.fromISO(v, { zone, setZone: false });
  if (iso.isValid) return iso.toJSDate();
  const local = DateTime.fromFormat(v, 'yyyy-MM-dd HH:mm:ss', { zone });
  return local.isValid ? local.toJSDate() : null;
}

/** Run one sync and print it: exit 1 when requests were quarantined, 78 for missing credentials. */
export async function runCorehrSync(config: Config, which: CorehrSyncMode, format: 'table' | 'json', io: CliIo, name: string): Promise<number> {
  if (!config.FEISHU_APP_ID || !config.FEISHU_APP_SECRET) {
    io.err(`leave-bridge ${name}: set FEISHU_APP_ID and FEISHU_APP_SECRET`);
    return 78;
  }
  const runtime = await buildNodeRuntime(config);
  try {
    const report = await syncCorehr(runtime.deps, which);
    io.out(format === 'json' ? JSON.stringify(report, null, 2) : formatCorehrReport(report));
    return report.quarantined > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof ExternalError || err instanceof AppError) {
      io.err(`leave-bridge ${name} failed: ${err.message}`);
      return err instanceof ExternalError && err.failure === 'configuration' ? 78 : 1;
    }
    throw err;
  } finally {
    await runtime.close();
  }
}

/**
 * `leave-bridge corehr sync [--since <time>]`: read the CoreHR leave requests updated since the
 * time (default: the watermark minus COREHR_SYNC_OVERLAP, as the periodic sync does) and apply them.
 */
export async function corehrCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'sync') {
    io.err(SYNC_USAGE);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { since: { type: 'string' }, format: { type: 'string', default: 'table' } }, strict: true, allowPositionals: false }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${SYNC_USAGE}`);
    return 2;
  }
  const format = values.format;
  if (format !== 'table' && format !== 'json') {
    io.err(SYNC_USAGE);
    return 2;
  }
  let which: CorehrSyncMode = { mode: 'incremental' };
  if (values.since !== undefined) {
    const since = parseSince(values.since, config.DEFAULT_TIMEZONE);
    if (since === null) {
      io.err(`leave-bridge corehr sync: --since: expected a time like 2026-12-01 00:00:00 or 2026-12-01T00:00:00Z, got ${JSON.stringify(values.since)}\n${SYNC_USAGE}`);
      return 2;
    }
    which = { mode: 'since', since };
  }
  return runCorehrSync(config, which, format, io, 'corehr sync');
}

/** `leave-bridge backfill --corehr --from --to`: the CoreHR requests whose leave overlaps the dates. */
export async function corehrBackfill(config: Config, from: string, to: string, format: 'table' | 'json', io: CliIo, usage: string): Promise<number> {
  try {
    creationRange(from, to, config.DEFAULT_TIMEZONE);
  } catch (err) {
    if (err instanceof AppError) {
      io.err(`leave-bridge backfill: ${err.message}\n${usage}`);
      return 2;
    }
    throw err;
  }
  return runCorehrSync(config, { mode: 'period', from, to }, format, io, 'backfill --corehr');
}
