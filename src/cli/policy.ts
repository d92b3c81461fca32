import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { ANY, CALENDAR_EFFECTS, DECLINE_MODES, LeaveTypeSchema, PolicyBody, PolicyEntry, POLICY_KINDS, VISIBILITIES } from '../policies/body.js';
import { deletePolicy, importPolicies, listPolicies, setPolicy, type PolicyView } from '../policies/store.js';
import { firstIssue } from '../shared/zod-issue.js';
import { audited } from './audit.js';
import { stdio, type CliIo } from './io.js';
import { parse, withDatabase } from './outbox.js';

export const POLICY_USAGE = [
  'usage: leave-bridge policy list [--json]',
  `       leave-bridge policy set <leave_type|*> --calendar ${CALENDAR_EFFECTS.join('|')} --visibility ${VISIBILITIES.join('|')}`,
  `                               [--kind ${POLICY_KINDS.join('|')}] [--decline-mode ${DECLINE_MODES.join('|')}]`,
  '                               [--title <text>] [--payroll-code <code>] [--counts-as-leave true|false]',
  '       leave-bridge policy delete <leave_type|*> [--kind <kind>]',
  '       leave-bridge policy import <file.json>   (an array of policies with leave_type, or `policy list --json` output)',
].join('\n');

export function formatPolicies(items: PolicyView[]): string {
  const lines = ['kind\tleave_type\tcalendar\tdecline_mode\ttitle\tvisibility\tpayroll_code\tcounts_as_leave'];
  const v = (x: string | boolean | null) => (x === null ? '-' : String(x));
  for (const p of items) lines.push([p.kind, p.leave_type, p.calendar, v(p.decline_mode), v(p.title), p.visibility, v(p.payroll_code), v(p.counts_as_leave)].join('\t'));
  return lines.join('\n');
}

/** An import file: the entries, or the first problem (which entry, which field). */
export function parseImport(text: string): PolicyEntry[] | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
  // `policy list --json` and GET /api/policies answer {items: […]}; a plain array is the same
  const list = Array.isArray(json) ? json : typeof json === 'object' && json !== null && Array.isArray((json as { items?: unknown }).items) ? (json as { items: unknown[] }).items : null;
  if (list === null) return { error: 'expected an array of policies (or {"items": [...]})' };
  const entries: PolicyEntry[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of list.entries()) {
    const r = PolicyEntry.safeParse(raw);
    if (!r.success) return { error: `entry ${i}: ${firstIssue(r.error, 'entry')}` };
    const key = `${r.data.kind ?? ANY}\u0000${r.data.leave_type}`;
    if (seen.has(key)) return { error: `entry ${i}: kind ${r.data.kind ?? ANY} and leave type ${JSON.stringify(r.data.leave_type)} appear twice` };
    seen.add(key);
    entries.push(r.data);
  }
  return entries;
}

const bool = (v: string | undefined): boolean | undefined | 'bad' => (v === undefined ? undefined : v === 'true' ? true : v === 'false' ? false : 'bad');

/** `leave-bridge policy list|set|delete|import`: the same policies and checks as /api/policies. */
export async function policyCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const p = parse(rest, { json: { type: 'boolean' } }, io, POLICY_USAGE);
    if (!p || p.positionals.length > 0) {
      if (p) io.err(POLICY_USAGE);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const items = await listPolicies(deps.db);
      io.out(p.values.json ? JSON.stringify({ items }, null, 2) : formatPolicies(items));
      return 0;
    });
  }
  if (sub === 'set' || sub === 'delete') {
    const text = { type: 'string' } as const;
    const options: Record<string, typeof text> =
      sub === 'set'
        ? { kind: text, calendar: text, visibility: text, 'decline-mode': text, title: text, 'payroll-code': text, 'counts-as-leave': text }
        : { kind: text };
    const p = parse(rest, options, io, POLICY_USAGE);
    if (!p) return 2;
    const [leaveType, ...extra] = p.positionals;
    if (leaveType === undefined || extra.length > 0) {
      io.err(POLICY_USAGE);
      return 2;
    }
    const values = p.values as Record<string, string | undefined>;
    const type = LeaveTypeSchema.safeParse(leaveType);
    if (!type.success) {
      io.err(`leave_type: ${type.error.issues[0]!.message}`);
      return 2;
    }
    const kind = z.enum(POLICY_KINDS).safeParse(values.kind ?? ANY);
    if (!kind.success) {
      io.err(`--kind must be one of ${POLICY_KINDS.join(', ')}`);
      return 2;
    }
    if (sub === 'delete') {
      return withDatabase(config, io, async (deps) => {
        const change = await audited(deps, { action: 'policy.delete', target: `${kind.data}/${type.data}` }, async () => {
          const done = await deletePolicy(deps, kind.data, type.data);
          if (!done) throw new AppError('policy_not_found', `no policy for kind ${kind.data} and leave type ${JSON.stringify(type.data)}`);
          return done;
        });
        io.out(`deleted ${kind.data}/${type.data}; ${change.resynced} future block${change.resynced === 1 ? '' : 's'} queued for a calendar sync`);
        return 0;
      });
    }
    const counts = bool(values['counts-as-leave']);
    if (counts === 'bad') {
      io.err('--counts-as-leave must be true or false');
      return 2;
    }
    const raw: Record<string, unknown> = { calendar: values.calendar, visibility: values.visibility };
    if (values['decline-mode'] !== undefined) raw.decline_mode = values['decline-mode'];
    if (values.title !== undefined) raw.title = values.title;
    if (values['payroll-code'] !== undefined) raw.payroll_code = values['payroll-code'];
    if (counts !== undefined) raw.counts_as_leave = counts;
    const body = PolicyBody.safeParse(raw);
    if (!body.success) {
      io.err(`--${String(body.error.issues[0]!.path[0] ?? 'calendar').replace(/_/g, '-')}: ${body.error.issues[0]!.message}`);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const change = await audited(deps, { action: 'policy.set', target: `${kind.data}/${type.data}`, detail: { fields: Object.keys(raw) } }, () =>
        setPolicy(deps, kind.data, type.data, body.data),
      );
      io.out(formatPolicies(change.policies));
      io.out(`${change.resynced} future block${change.resynced === 1 ? '' : 's'} queued for a calendar sync`);
      return 0;
    });
  }
  if (sub === 'import') {
    const [file, ...extra] = rest;
    if (file === undefined || extra.length > 0 || file.startsWith('-')) {
      io.err(POLICY_USAGE);
      return 2;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      io.err(`leave-bridge policy import: cannot read ${file}: ${(err as Error).message}`);
      return 2;
    }
    const entries = parseImport(text);
    if ('error' in entries) {
      io.err(`leave-bridge policy import: ${file}: ${entries.error}`);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const change = await audited(deps, { action: 'policy.import', detail: { policies: entries.length } }, () => importPolicies(deps, entries));
      io.out(`imported ${change.policies.length} polic${change.policies.length === 1 ? 'y' : 'ies'}; ${change.resynced} future block${change.resynced === 1 ? '' : 's'} queued for a calendar sync`);
      return 0;
    });
  }
  io.err(POLICY_USAGE);
  return 2;
}
