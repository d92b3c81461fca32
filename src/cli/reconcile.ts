import type { Config } from '../config.js';
import { reconcile, ReconciliationQuery } from '../reports/reconciliation/index.js';
import { firstIssue } from '../shared/zod-issue.js';
import { parse, withDatabase } from './outbox.js';
import type { CliIo } from './subscribe.js';

export const RECONCILE_USAGE =
  'usage: leave-bridge reconcile --from <YYYY-MM-DD> --to <YYYY-MM-DD> [--verify google,feishu] [--category <category>] [--limit <n>] [--cursor <next_cursor>]';

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `leave-bridge reconcile`: a page of the reconciliation report as JSON on stdout, exactly as
 * GET /api/reconciliation answers it (indented). Exit codes: 0 done, 2 bad arguments.
 */
export async function reconcileCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const p = parse(
    args,
    { from: { type: 'string' }, to: { type: 'string' }, verify: { type: 'string' }, category: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
    io,
    RECONCILE_USAGE,
  );
  if (!p || p.positionals.length > 0) {
    if (p) io.err(RECONCILE_USAGE);
    return 2;
  }
  const q = ReconciliationQuery.safeParse(p.values);
  if (!q.success) {
    io.err(`leave-bridge reconcile: --${firstIssue(q.error, 'arguments')}\n${RECONCILE_USAGE}`);
    return 2;
  }
  return withDatabase(config, io, async (deps) => {
    io.out(JSON.stringify(await reconcile(deps, q.data), null, 2));
    return 0;
  });
}
