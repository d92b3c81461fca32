import type { Config } from '../config.js';
import { listApprovals, type ApprovalStatus } from '../leave/approvals.js';
import { APPROVAL_KINDS, type ApprovalKind } from '../leave/types.js';
import { parse, withDatabase } from './outbox.js';
import type { CliIo } from './subscribe.js';

const STATUSES = ['pending', 'approved', 'rejected', 'reverted'] as const;
export const APPROVALS_USAGE = `usage: leave-bridge approvals list [--kind ${APPROVAL_KINDS.join('|')}] [--status ${STATUSES.join('|')}] [--employee <employee_id>] [--limit <n>] [--json]`;

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

type Item = Awaited<ReturnType<typeof listApprovals>>[number];

export function formatApprovals(items: Item[]): string {
  const lines = ['instance_code\tkind\tstatus\temployee_id\tstart\tend\ttype\tpeers'];
  for (const i of items) {
    lines.push([i.instance_code, i.kind ?? '-', i.status, i.employee_id ?? '-', i.start ?? '-', i.end ?? '-', i.type_name ?? '-', i.peers.join(',') || '-'].join('\t'));
  }
  return lines.join('\n');
}

/** `leave-bridge approvals list`: records of every kind, as GET /api/approvals lists them. */
export async function approvalsCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'list') {
    io.err(APPROVALS_USAGE);
    return 2;
  }
  const p = parse(rest, { kind: { type: 'string' }, status: { type: 'string' }, employee: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, io, APPROVALS_USAGE);
  if (!p || p.positionals.length > 0) {
    if (p) io.err(APPROVALS_USAGE);
    return 2;
  }
  const kind = p.values.kind as string | undefined;
  if (kind !== undefined && !(APPROVAL_KINDS as readonly string[]).includes(kind)) {
    io.err(`--kind must be one of ${APPROVAL_KINDS.join(', ')}`);
    return 2;
  }
  const status = p.values.status as string | undefined;
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
    io.err(`--status must be one of ${STATUSES.join(', ')}`);
    return 2;
  }
  const limit = p.values.limit === undefined ? 200 : Number(p.values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    io.err('--limit must be an integer from 1 to 1000');
    return 2;
  }
  return withDatabase(config, io, async (deps) => {
    const items = await listApprovals(deps.db, {
      kind: kind as ApprovalKind | undefined,
      status: status as ApprovalStatus | undefined,
      employeeId: p.values.employee as string | undefined,
      limit,
    });
    io.out(p.values.json ? JSON.stringify(items, null, 2) : formatApprovals(items));
    return 0;
  });
}
