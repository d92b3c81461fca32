import { and, asc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { feeds } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';

export const FEED_SCOPES = ['team', 'employee', 'department'] as const;
export type FeedScope = (typeof FEED_SCOPES)[number];

/** What a feed's token may look like: base64url, as we make them. Anything else is refused before any work. */
export const FEED_TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
/** An employee or department id in a feed's path or body: what Feishu ids look like. */
const TARGET_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;

/** POST /api/feeds and `leave-bridge feed create`: a team feed has no id, the others need one. */
export const FeedCreate = z
  .object({
    scope: z.enum(FEED_SCOPES),
    id: z.string().regex(TARGET_ID, 'must be an employee_id or open_department_id (letters, digits, _ . : @ -)').optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.scope === 'team' && b.id !== undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: 'a team feed takes no id' });
    if (b.scope !== 'team' && b.id === undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: `required for a ${b.scope} feed` });
  });
export type FeedCreate = z.output<typeof FeedCreate>;

export interface FeedView {
  id: string;
  scope: FeedScope;
  target_id: string | null;
  /** the feed's path; with the token (only when created) it is the subscription URL */
  path: string;
  created_at: string;
  created_by: string | null;
  revoked_at: string | null;
}

type FeedRow = typeof feeds.$inferSelect;

export function feedPath(scope: string, targetId: string | null): string {
  if (scope === 'team') return '/feeds/team.ics';
  const id = encodeURIComponent(targetId ?? '');
  return scope === 'employee' ? `/feeds/employees/${id}.ics` : `/feeds/departments/${id}.ics`;
}

const viewOf = (r: FeedRow): FeedView => ({
  id: r.id,
  scope: r.scope as FeedScope,
  target_id: r.targetId,
  path: feedPath(r.scope, r.targetId),
  created_at: r.createdAt.toISOString(),
  created_by: r.createdBy,
  revoked_at: r.revokedAt?.toISOString() ?? null,
});

const encoder = new TextEncoder();

/** SHA-256 of a token as lowercase hex (Web Crypto: the same on Node and Workers). */
export async function tokenDigest(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Two strings compared without an early exit on the first difference. Only the length can end it
 * sooner, and the callers compare SHA-256 digests: 64 hex digits whatever the token.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** 32 random bytes, base64url: 43 characters that need no escaping in a URL. */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Create a feed; the token is returned this once and only its digest is stored. */
export async function createFeed(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: FeedCreate,
  createdBy: string | null,
): Promise<{ feed: FeedView; token: string }> {
  const token = newToken();
  const [row] = await deps.db
    .insert(feeds)
    .values({
      id: crypto.randomUUID(),
      scope: input.scope,
      targetId: input.id ?? null,
      tokenHash: await tokenDigest(token),
      createdAt: deps.clock.now(),
      createdBy,
    })
    .returning();
  return { feed: viewOf(row!), token };
}

/** The subscription URL of a feed: PUBLIC_URL, else the origin the request came to. */
export const feedUrl = (origin: string, feed: FeedView, token: string): string => `${origin}${feed.path}?token=${token}`;

export async function listFeeds(db: Db, opts: { revoked?: boolean } = {}): Promise<FeedView[]> {
  const rows = await db
    .select()
    .from(feeds)
    .where(opts.revoked ? undefined : isNull(feeds.revokedAt))
    .orderBy(asc(feeds.createdAt), asc(feeds.id));
  return rows.map(viewOf);
}

/** Revoke a feed (404 when unknown). Revoking twice keeps the first time. */
export async function revokeFeed(deps: Pick<Deps, 'db' | 'clock'>, id: string): Promise<FeedView> {
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new AppError('feed_not_found', `no feed ${JSON.stringify(id)}`);
  const [row] = await deps.db.update(feeds).set({ revokedAt: deps.clock.now() }).where(and(eq(feeds.id, id), isNull(feeds.revokedAt))).returning();
  if (row) return viewOf(row);
  const [existing] = await deps.db.select().from(feeds).where(eq(feeds.id, id)).limit(1);
  if (!existing) throw new AppError('feed_not_found', `no feed ${id}`);
  return viewOf(existing);
}

/** A feed some request asks for. */
export interface FeedRequest {
  scope: FeedScope;
  targetId: string | null;
  token: string;
}

/** Counts the work of one authentication (tests: the same for a right and a wrong token). */
export interface FeedAuthProbe {
  digest(): void;
  lookup(): void;
  compare(): void;
}

/** Compared against when no row has the digest, so a miss does the same comparison as a hit. */
const ABSENT = '0'.repeat(64);

/**
 * The feed a token opens, or null: unknown, revoked, or a feed of another scope or target (all
 * answer 404, so a token reveals nothing about other feeds). Every request does the same work,
 * right token or wrong: one digest, one lookup by digest, one comparison of 64 hex characters
 * without an early exit. The lookup walks an index of digests, whose order tells nothing about the
 * token itself.
 */
export async function authenticateFeed(db: Db, req: FeedRequest, probe?: FeedAuthProbe): Promise<FeedView | null> {
  const digest = await tokenDigest(req.token);
  probe?.digest();
  const [row] = await db.select().from(feeds).where(eq(feeds.tokenHash, digest)).limit(1);
  probe?.lookup();
  const same = constantTimeEqual(row?.tokenHash ?? ABSENT, digest);
  probe?.compare();
  if (!row || !same || row.revokedAt !== null) return null;
  if (row.scope !== req.scope || (row.targetId ?? null) !== req.targetId) return null;
  return viewOf(row);
}

/** A target id in a feed's path, checked like the body's. */
export const isTargetId = (id: string): boolean => TARGET_ID.test(id);
