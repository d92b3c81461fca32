import { and, desc, eq, gt, isNull, lt, or } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { Queryable } from '../db/client.js';
import { adminSessions } from '../db/schema.js';
import type { Clock } from '../deps.js';
import { sha256, toHex } from '../feishu/crypto.js';

/** Who is acting on the admin surface. */
export interface AdminActor {
  /** feishu: a named operator; token: ADMIN_TOKEN (as a bearer token, or through the login form) */
  kind: 'feishu' | 'token';
  /** Feishu user_id (else open_id) of a named operator */
  id: string | null;
  /** Feishu open_id of a named operator */
  openId?: string | null;
  name: string | null;
  /** a session cookie (browser) or the bearer token (scripts) */
  via: 'session' | 'bearer';
}

/** A valid session, as the request presented it. */
export interface Session {
  rowId: number;
  /** the raw id from the cookie (never stored): CSRF tokens are derived from it */
  id: string;
  actor: AdminActor;
}

/** Last use is written at most this often: a page load does not cost a write per request. */
const TOUCH_EVERY_MS = 60_000;

export const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** 256 random bits: not guessable, so the cookie needs no signature. */
export function randomToken(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The form a session id is kept in: a database copy holds no usable cookie. */
export const hashSessionId = async (id: string): Promise<string> => toHex(await sha256(`leave-bridge session\n${id}`));

/**
 * The per-session token of the dashboard's forms. Derived from the session id, which only the
 * browser holding the HttpOnly cookie has: another site can make that browser post a form, but
 * cannot read the page to learn the token.
 */
export const csrfTokenFor = async (id: string): Promise<string> => toHex(await sha256(`leave-bridge csrf\n${id}`));

type SessionDeps = {
  db: Queryable;
  clock: Clock;
  config: Pick<Config, 'SESSION_TTL' | 'SESSION_IDLE_TIMEOUT' | 'ADMIN_TOKEN' | 'ADMIN_FEISHU_USERS' | 'ADMIN_FEISHU_DEPARTMENTS'>;
};

/** Which ADMIN_TOKEN a token session was opened with (a hash: the table never holds the token). */
const credentialHash = async (token: string): Promise<string> => toHex(await sha256(`leave-bridge session credential\n${token}`));

export async function createSession(deps: SessionDeps, input: { actor: Omit<AdminActor, 'via'>; address: string }): Promise<{ id: string; expiresAt: Date }> {
  const id = randomToken();
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + deps.config.SESSION_TTL);
  const token = deps.config.ADMIN_TOKEN;
  await deps.db.insert(adminSessions).values({
    idHash: await hashSessionId(id),
    actorKind: input.actor.kind,
    actorId: input.actor.id,
    actorOpenId: input.actor.openId ?? null,
    actorName: input.actor.name,
    credentialHash: input.actor.kind === 'token' && token ? await credentialHash(token) : null,
    address: input.address,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
  });
  return { id, expiresAt };
}

/**
 * Whether what opened a session still would: a token session needs the same ADMIN_TOKEN (rotating
 * it signs those browsers out); a Feishu session needs Feishu sign-in still configured and, when no
 * departments are configured, its user still in ADMIN_FEISHU_USERS. (Department membership is
 * checked at sign-in only: re-reading it costs Feishu calls per request; such sessions end with
 * SESSION_TTL, or an operator revokes them.)
 */
async function stillAllowed(row: typeof adminSessions.$inferSelect, config: SessionDeps['config']): Promise<boolean> {
  if (row.actorKind === 'token') {
    return config.ADMIN_TOKEN !== undefined && row.credentialHash === (await credentialHash(config.ADMIN_TOKEN));
  }
  if (config.ADMIN_FEISHU_DEPARTMENTS.length > 0) return true;
  return [row.actorId, row.actorOpenId].some((id) => id !== null && config.ADMIN_FEISHU_USERS.includes(id));
}

/**
 * The session behind a cookie value, if it is still valid: not revoked, not expired, not idle too
 * long, and still allowed by the configuration.
 */
export async function findSession(deps: SessionDeps, id: string): Promise<Session | null> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = await hashSessionId(id);
  const [row] = await deps.db.select().from(adminSessions).where(eq(adminSessions.idHash, idHash)).limit(1);
  if (!row || row.revokedAt) return null;
  const now = deps.clock.now().getTime();
  if (row.expiresAt.getTime() <= now) return null;
  if (now - row.lastSeenAt.getTime() >= deps.config.SESSION_IDLE_TIMEOUT) return null;
  if (!(await stillAllowed(row, deps.config))) return null;
  if (now - row.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    await deps.db.update(adminSessions).set({ lastSeenAt: new Date(now) }).where(eq(adminSessions.id, row.id));
  }
  return {
    rowId: row.id,
    id,
    actor: { kind: row.actorKind === 'feishu' ? 'feishu' : 'token', id: row.actorId, openId: row.actorOpenId, name: row.actorName, via: 'session' },
  };
}

/** Sign-out: the row stays (revoked) until the retention purge removes it. */
export async function revokeSession(deps: { db: Queryable; clock: Clock }, rowId: number): Promise<boolean> {
  const rows = await deps.db
    .update(adminSessions)
    .set({ revokedAt: deps.clock.now() })
    .where(and(eq(adminSessions.id, rowId), isNull(adminSessions.revokedAt)))
    .returning({ id: adminSessions.id });
  return rows.length > 0;
}

/** Every session that could still be used, newest first. */
export async function listSessions(deps: { db: Queryable; clock: Clock }) {
  const now = deps.clock.now();
  const rows = await deps.db
    .select()
    .from(adminSessions)
    .where(and(isNull(adminSessions.revokedAt), gt(adminSessions.expiresAt, now)))
    .orderBy(desc(adminSessions.id))
    .limit(1000);
  return rows.map((r) => ({
    id: r.id,
    actor: { kind: r.actorKind, id: r.actorId, name: r.actorName },
    address: r.address,
    created_at: r.createdAt,
    last_seen_at: r.lastSeenAt,
    expires_at: r.expiresAt,
  }));
}

/** Sessions that can no longer be used: expired or revoked before `before`. */
export async function deleteEndedSessions(db: Queryable, before: Date): Promise<number> {
  const rows = await db
    .delete(adminSessions)
    .where(or(lt(adminSessions.expiresAt, before), lt(adminSessions.revokedAt, before)))
    .returning({ id: adminSessions.id });
  return rows.length;
}
