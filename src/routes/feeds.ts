import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { buildFeed, matchesEtag } from '../feeds/ics.js';
import { authenticateFeed, createFeed, FEED_TOKEN, FeedCreate, feedUrl, isTargetId, listFeeds, revokeFeed, type FeedScope } from '../feeds/tokens.js';
import { json, query } from './validate.js';

/**
 * GET /api/feeds, POST /api/feeds, DELETE /api/feeds/:id: the ICS feeds' read-only tokens (admin).
 * A token is shown once, in the URL POST answers with; the list never shows one.
 */
export function feedAdminRoutes(deps: Pick<Deps, 'db' | 'clock' | 'config'>): Hono {
  const r = new Hono();
  r.get('/', query(z.object({ revoked: z.enum(['true', 'false']).optional() })), async (c) =>
    c.json({ items: await listFeeds(deps.db, { revoked: c.req.valid('query').revoked === 'true' }) }),
  );
  r.post('/', json(FeedCreate), async (c) => {
    const admin = c.get('admin');
    const { feed, token } = await createFeed(deps, c.req.valid('json') as FeedCreate, admin?.id ?? admin?.kind ?? null);
    c.header('x-feed-id', feed.id);
    return c.json({ ...feed, url: feedUrl(deps.config.PUBLIC_URL ?? new URL(c.req.url).origin, feed, token) }, 201);
  });
  r.delete('/:id', async (c) => c.json(await revokeFeed(deps, c.req.param('id'))));
  return r;
}

const TokenQuery = z.object({
  token: z.string({ error: 'required' }).regex(FEED_TOKEN, 'must be the feed token as given (letters, digits, - and _)'),
});

/**
 * GET /feeds/team.ics, /feeds/employees/:employee_id.ics, /feeds/departments/:id.ics: a calendar
 * client's subscription, authorised by the feed's own token in the URL (clients cannot send
 * headers), never by the admin token. Unknown, revoked or another feed's token: 404. An unchanged
 * feed answers 304 to If-None-Match.
 */
export function feedRoutes(deps: Pick<Deps, 'db' | 'clock' | 'config'>): Hono {
  const r = new Hono();
  const serve = async (c: Context, scope: FeedScope, rawTarget: string | null, token: string) => {
    let targetId: string | null = null;
    if (rawTarget !== null) {
      if (!rawTarget.endsWith('.ics') || !isTargetId(rawTarget.slice(0, -4))) throw new AppError('invalid_id', `${scope === 'employee' ? 'employee_id' : 'id'}: not a feed path (…/<id>.ics)`);
      targetId = rawTarget.slice(0, -4);
    }
    const feed = await authenticateFeed(deps.db, { scope, targetId, token });
    if (!feed) throw new AppError('feed_not_found', 'no such feed, or its token was revoked');
    const { body, etag } = await buildFeed(deps, feed);
    const headers = { etag, 'cache-control': 'private, no-cache', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'content-type': 'text/calendar; charset=utf-8', 'content-disposition': 'inline; filename="absences.ics"' });
  };
  const checked = (scope: FeedScope, target: (c: Context) => string | null) => async (c: Context) => {
    const parsed = TokenQuery.safeParse(c.req.query());
    if (!parsed.success) throw new AppError('invalid_query', `query: token: ${parsed.error.issues[0]!.message}`);
    return serve(c, scope, target(c), parsed.data.token);
  };
  r.get('/team.ics', checked('team', () => null));
  r.get('/employees/:file', checked('employee', (c) => c.req.param('file')!));
  r.get('/departments/:file', checked('department', (c) => c.req.param('file')!));
  return r;
}
