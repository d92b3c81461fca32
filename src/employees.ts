import { and, asc, eq, inArray, isNotNull, ne, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from './db/client.js';
import { calendarBlocks, employees, leaves } from './db/schema.js';
import type { Deps } from './deps.js';
import { AppError } from './errors.js';
import { enqueue } from './outbox/enqueue.js';
import { lockKey, releaseHeld } from './outbox/queries.js';
import type { FeishuUser } from './ports.js';

/** What resolveEmail needs of a stored employee row. */
export interface StoredEmail {
  email: string | null;
  emailOverride: string | null;
}

export type EmailResolution =
  | { email: string; source: 'override' | 'cache' | 'feishu' }
  | { email: null; reason: string };

/**
 * The Google account of a Feishu user: the operator's override, else the cached address, else
 * the Feishu contact API (`email`, else `enterprise_email`), cached in employees. With
 * `lookup: false` only what is stored counts (used when deleting: an address never resolved was
 * never used to create a block). Feishu failures propagate as ExternalError with their class.
 */
export async function resolveEmail(
  deps: Pick<Deps, 'db' | 'feishu' | 'clock'>,
  employeeId: string,
  opts: { lookup?: boolean; stored?: StoredEmail | null } = {},
): Promise<EmailResolution> {
  // `stored`: the caller already read the employee row (the outbox handler joins it to the leave)
  const row =
    opts.stored !== undefined
      ? opts.stored
      : (await deps.db.select({ email: employees.email, emailOverride: employees.emailOverride }).from(employees).where(eq(employees.employeeId, employeeId)).limit(1))[0];
  if (row?.emailOverride) return { email: row.emailOverride, source: 'override' };
  if (row?.email) return { email: row.email, source: 'cache' };
  if (opts.lookup === false) return { email: null, reason: `no stored email for employee ${employeeId}` };
  if (!deps.feishu) {
    return {
      email: null,
      reason: `no email known for employee ${employeeId} and no Feishu app credentials (FEISHU_APP_ID/FEISHU_APP_SECRET) to look it up; set one with: leave-bridge employee set ${employeeId} --email <address>`,
    };
  }
  const user = await lookUpEmployee({ ...deps, feishu: deps.feishu }, employeeId);
  const email = user?.email || user?.enterpriseEmail || null;
  if (email) return { email, source: 'feishu' };
  return {
    email: null,
    reason: user
      ? `Feishu user ${employeeId} has neither email nor enterprise_email; set one with: leave-bridge employee set ${employeeId} --email <address>`
      : `Feishu has no user ${employeeId}; set an email with: leave-bridge employee set ${employeeId} --email <address>`,
  };
}

/**
 * Ask the contact API about an employee and cache what it says (name, open_id, address, direct
 * departments) without overwriting what it does not say.
 */
async function lookUpEmployee(deps: Pick<Deps, 'db' | 'clock'> & { feishu: NonNullable<Deps['feishu']> }, employeeId: string): Promise<FeishuUser | null> {
  const user = await deps.feishu.getUser(employeeId);
  const now = deps.clock.now();
  const email = user?.email || user?.enterpriseEmail || null;
  const departmentIds = user?.departmentIds ?? null;
  await deps.db
    .insert(employees)
    .values({ employeeId, openId: user?.openId ?? null, name: user?.name ?? null, email, departmentIds, fetchedAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: employees.employeeId,
      set: {
        openId: sql`coalesce(excluded.open_id, ${employees.openId})`,
        name: sql`coalesce(excluded.name, ${employees.name})`,
        email: sql`coalesce(excluded.email, ${employees.email})`,
        departmentIds: sql`coalesce(excluded.department_ids, ${employees.departmentIds})`,
        fetchedAt: now,
        updatedAt: now,
      },
    });
  return user;
}

/**
 * Display names of employees for the team calendar: the stored name, else (once per employee,
 * with Feishu credentials) the contact API's, else null (the title then shows the employee id).
 * Feishu failures propagate with their class: the team event waits rather than showing an id.
 */
export async function employeeNames(deps: Pick<Deps, 'db' | 'feishu' | 'clock'>, ids: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (ids.length === 0) return out;
  const rows = await deps.db
    .select({ employeeId: employees.employeeId, name: employees.name, fetchedAt: employees.fetchedAt })
    .from(employees)
    .where(inArray(employees.employeeId, ids));
  const byId = new Map(rows.map((r) => [r.employeeId, r]));
  for (const id of ids) {
    const row = byId.get(id);
    if (row?.name) out.set(id, row.name);
    else if (deps.feishu && !row?.fetchedAt) out.set(id, (await lookUpEmployee({ ...deps, feishu: deps.feishu }, id))?.name ?? null);
    else out.set(id, null);
  }
  return out;
}

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/** PUT /api/employees/:id and `leave-bridge employee set`; null clears a value. */
export const EmployeeUpdate = z
  .object({
    email: z.email('not an email address').nullable().optional(),
    timezone: z.string().refine(isTimeZone, 'not an IANA time zone name (e.g. Asia/Shanghai)').nullable().optional(),
  })
  .strict()
  .refine((u) => u.email !== undefined || u.timezone !== undefined, 'give email and/or timezone');
export type EmployeeUpdate = z.output<typeof EmployeeUpdate>;

export function parseEmployeeUpdate(input: unknown): EmployeeUpdate {
  const r = EmployeeUpdate.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new AppError('invalid_body', `${i.path.join('.') || 'body'}: ${i.message}`);
  }
  return r.data;
}

export interface EmployeeView {
  employee_id: string;
  open_id: string | null;
  name: string | null;
  /** what the calendar uses: the override, else the address from Feishu */
  email: string | null;
  email_override: string | null;
  feishu_email: string | null;
  timezone: string | null;
  fetched_at: Date | null;
  updated_at: Date;
}

function view(r: typeof employees.$inferSelect): EmployeeView {
  return {
    employee_id: r.employeeId,
    open_id: r.openId,
    name: r.name,
    email: r.emailOverride ?? r.email,
    email_override: r.emailOverride,
    feishu_email: r.email,
    timezone: r.timezone,
    fetched_at: r.fetchedAt,
    updated_at: r.updatedAt,
  };
}

export async function listEmployees(db: Db, opts: { limit?: number } = {}): Promise<EmployeeView[]> {
  const rows = await db.select().from(employees).orderBy(asc(employees.employeeId)).limit(Math.min(opts.limit ?? 1000, 10_000));
  return rows.map(view);
}

export interface SetEmployeeResult {
  employee: EmployeeView;
  /** held outbox rows of this employee put back to pending */
  released: number;
  /** approved leaves whose calendar block is re-synced (new zone or new address) */
  resynced: number;
}

/**
 * Operator override of an employee's Google address and/or zone. A new address releases the
 * employee's held rows (most were held for want of an address) and moves existing blocks that sit
 * on another calendar; a new zone re-times the employee's approved leaves (their instants were
 * computed with the old zone) and re-syncs their blocks.
 */
export async function setEmployee(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'onOutboxWritten'>,
  employeeId: string,
  update: EmployeeUpdate,
): Promise<SetEmployeeResult> {
  const now = deps.clock.now();
  const keys = new Set<string>();
  const employee = await deps.db.transaction(async (tx) => {
    const set = {
      ...(update.email !== undefined ? { emailOverride: update.email } : {}),
      ...(update.timezone !== undefined ? { timezone: update.timezone } : {}),
      updatedAt: now,
    };
    const [row] = await tx
      .insert(employees)
      .values({ employeeId, ...set })
      .onConflictDoUpdate({ target: employees.employeeId, set })
      .returning();
    const effectiveEmail = row!.emailOverride ?? row!.email;

    const resync = new Set<string>();
    if (update.timezone !== undefined) {
      const zone = update.timezone ?? deps.config.DEFAULT_TIMEZONE;
      const moved = await tx
        .select({ code: leaves.instanceCode })
        .from(leaves)
        .where(and(eq(leaves.employeeId, employeeId), eq(leaves.status, 'approved'), sql`${leaves.timezone} is distinct from ${zone}`));
      for (const m of moved) resync.add(m.code);
    }
    if (update.email !== undefined && effectiveEmail) {
      const elsewhere = await tx
        .select({ code: leaves.instanceCode })
        .from(leaves)
        .innerJoin(calendarBlocks, eq(calendarBlocks.instanceCode, leaves.instanceCode))
        .where(
          and(
            // the requester's record, or a trip whose block on this calendar is a peer's
            or(eq(leaves.employeeId, employeeId), eq(calendarBlocks.employeeId, employeeId)),
            eq(leaves.status, 'approved'),
            eq(calendarBlocks.state, 'present'),
            isNotNull(calendarBlocks.calendarId),
            ne(calendarBlocks.calendarId, effectiveEmail),
          ),
        );
      for (const m of elsewhere) resync.add(m.code);
    }
    for (const code of [...resync].sort()) {
      // the same lock ingest takes: the leave row and its pending outbox row change together
      await lockKey(tx, code);
      if (update.timezone !== undefined) {
        await tx
          .update(leaves)
          .set({ timezone: update.timezone ?? deps.config.DEFAULT_TIMEZONE, updatedAt: now })
          .where(and(eq(leaves.instanceCode, code), eq(leaves.status, 'approved')));
      }
      await enqueue(tx, code, 'calendar.upsert', { reason: 'employee override' });
      keys.add(code);
    }
    return view(row!);
  });
  const resynced = keys.size;
  let released = 0;
  if (update.email) {
    const r = await releaseHeld(deps.db, { employeeId });
    released = r.count;
    for (const k of r.keys) keys.add(k);
  }
  if (keys.size > 0) deps.onOutboxWritten?.([...keys]);
  return { employee, released, resynced };
}
