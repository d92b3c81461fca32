import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import { listEmployees, parseEmployeeUpdate, setEmployee, type EmployeeUpdate } from '../employees.js';
import { AppError } from '../errors.js';
import { buildNodeRuntime } from '../node-deps.js';
import { listOutbox, OUTBOX_STATUSES, requestSync, retryMessage, type OutboxItem, type OutboxStatus } from '../outbox/queries.js';
import { audited } from './audit.js';
import type { CliIo } from './subscribe.js';

const OUTBOX_USAGE = `usage: leave-bridge outbox list [--status ${OUTBOX_STATUSES.join('|')}] [--key <instance_code>] [--limit <n>] [--json]
       leave-bridge outbox retry <id>
       leave-bridge outbox sync <instance_code>`;
const EMPLOYEE_USAGE = `usage: leave-bridge employee set <employee_id> [--email <address>|--clear-email] [--timezone <zone>|--clear-timezone]
       leave-bridge employee list [--json]`;

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const iso = (d: Date | string | null) => (d === null ? '-' : new Date(d).toISOString());

export function formatOutbox(items: OutboxItem[]): string {
  const lines = ['id\tstatus\tkind\tkey\tattempts\trun_after\tlast_error'];
  for (const i of items) {
    lines.push([i.id, i.status, i.kind, i.key, i.attempts, iso(i.run_after), (i.last_error ?? '').replace(/\s+/g, ' ')].join('\t'));
  }
  return lines.join('\n');
}

/** Run `fn` against the configured database (no migration: operating commands never change schema). */
export async function withDatabase(config: Config, io: CliIo, fn: (deps: Awaited<ReturnType<typeof buildNodeRuntime>>['deps']) => Promise<number>): Promise<number> {
  const runtime = await buildNodeRuntime(config, { migrate: false });
  try {
    return await fn(runtime.deps);
  } catch (err) {
    if (err instanceof AppError) {
      io.err(`leave-bridge: ${err.message}`);
      return err.status === 404 ? 3 : 1;
    }
    throw err;
  } finally {
    await runtime.close();
  }
}

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, io: CliIo, usage: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    io.err(`${(err as Error).message}\n${usage}`);
    return null;
  }
}

/** `leave-bridge outbox list|retry|sync`. */
export async function outboxCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const p = parse(rest, { status: { type: 'string' }, key: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, io, OUTBOX_USAGE);
    if (!p || p.positionals.length > 0) {
      if (p) io.err(OUTBOX_USAGE);
      return 2;
    }
    const status = p.values.status as string | undefined;
    if (status !== undefined && !(OUTBOX_STATUSES as readonly string[]).includes(status)) {
      io.err(`--status must be one of ${OUTBOX_STATUSES.join(', ')}`);
      return 2;
    }
    const limit = p.values.limit === undefined ? undefined : Number(p.values.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
      io.err('--limit must be an integer 1..1000');
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const items = await listOutbox(deps.db, { status: status as OutboxStatus | undefined, key: p.values.key as string | undefined, limit });
      io.out(p.values.json ? JSON.stringify(items, null, 2) : formatOutbox(items));
      return 0;
    });
  }
  if (sub === 'retry') {
    const id = Number(rest[0]);
    if (rest.length !== 1 || !/^\d+$/.test(rest[0] ?? '') || !Number.isSafeInteger(id) || id <= 0) {
      io.err(OUTBOX_USAGE);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const r = await audited(deps, { action: 'outbox.retry', target: String(id) }, () => retryMessage(deps, id));
      io.out(
        r.status === 'pending'
          ? `outbox message ${id} (${r.kind} ${r.key}) is pending again${r.superseded_id ? `; message ${r.superseded_id} was folded into it` : ''}`
          : `outbox message ${id} (${r.kind} ${r.key}) folded into pending message ${r.pending_id}, which does the same work`,
      );
      return 0;
    });
  }
  if (sub === 'sync') {
    if (rest.length !== 1 || !rest[0]) {
      io.err(OUTBOX_USAGE);
      return 2;
    }
    const code = rest[0];
    return withDatabase(config, io, async (deps) => {
      const r = await audited(deps, { action: 'leave.sync', target: code }, async () => {
        const queued = await requestSync(deps, code);
        if (!queued) throw new AppError('approval_not_found', `no approval ${code}`);
        return queued;
      });
      io.out(r.queued ? `${code}: calendar sync queued` : `${code}: a calendar sync was already queued`);
      return 0;
    });
  }
  io.err(OUTBOX_USAGE);
  return 2;
}

/** `leave-bridge employee set|list`: the override for people whose Feishu and Google addresses differ. */
export async function employeeCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const p = parse(rest, { json: { type: 'boolean' } }, io, EMPLOYEE_USAGE);
    if (!p) return 2;
    return withDatabase(config, io, async (deps) => {
      const items = await listEmployees(deps.db);
      if (p.values.json) io.out(JSON.stringify(items, null, 2));
      else {
        io.out('employee_id\temail\temail_override\ttimezone\tname');
        for (const e of items) io.out([e.employee_id, e.email ?? '-', e.email_override ?? '-', e.timezone ?? '-', e.name ?? '-'].join('\t'));
      }
      return 0;
    });
  }
  if (sub === 'set') {
    const p = parse(
      rest,
      { email: { type: 'string' }, timezone: { type: 'string' }, 'clear-email': { type: 'boolean' }, 'clear-timezone': { type: 'boolean' } },
      io,
      EMPLOYEE_USAGE,
    );
    if (!p) return 2;
    const [employeeId, ...extra] = p.positionals;
    if (!employeeId || extra.length > 0) {
      io.err(EMPLOYEE_USAGE);
      return 2;
    }
    const raw: Record<string, unknown> = {};
    if (p.values.email !== undefined) raw.email = p.values.email;
    if (p.values['clear-email']) raw.email = null;
    if (p.values.timezone !== undefined) raw.timezone = p.values.timezone;
    if (p.values['clear-timezone']) raw.timezone = null;
    let update: EmployeeUpdate;
    try {
      update = parseEmployeeUpdate(raw);
    } catch (err) {
      io.err(`${(err as Error).message}\n${EMPLOYEE_USAGE}`);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const r = await audited(deps, { action: 'employee.update', target: employeeId, detail: { fields: Object.keys(raw) } }, () => setEmployee(deps, employeeId, update));
      io.out(
        `${r.employee.employee_id}: email ${r.employee.email ?? '-'}${r.employee.email_override ? ' (override)' : ''}, timezone ${r.employee.timezone ?? `- (default ${config.DEFAULT_TIMEZONE})`}; ` +
          `${r.released} held message(s) released, ${r.resynced} leave(s) queued for a calendar re-sync`,
      );
      return 0;
    });
  }
  io.err(EMPLOYEE_USAGE);
  return 2;
}
