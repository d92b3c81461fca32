import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { createFeed, FEED_SCOPES, FeedCreate, feedUrl, listFeeds, revokeFeed } from '../feeds/tokens.js';
import { audited } from './audit.js';
import { parse, withDatabase } from './outbox.js';
import type { CliIo } from './subscribe.js';

export const FEED_USAGE = `usage: leave-bridge feed create team | employee <employee_id> | department <open_department_id>
       leave-bridge feed list [--revoked] [--json]
       leave-bridge feed revoke <feed id>`;

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `leave-bridge feed create|list|revoke`: the ICS feeds' tokens, as /api/feeds manages them. The
 * URL `create` prints holds the token, shown this once; it starts with PUBLIC_URL when that is set.
 */
export async function feedCommand(config: Config, args: string[], io: CliIo = stdio): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const [scope, id, ...extra] = rest;
    const parsed = FeedCreate.safeParse({ scope, ...(id !== undefined ? { id } : {}) });
    if (extra.length > 0 || !parsed.success) {
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        io.err(issue.path[0] === 'scope' ? `scope must be one of ${FEED_SCOPES.join(', ')}` : `${String(issue.path[0] ?? 'feed')}: ${issue.message}`);
      }
      io.err(FEED_USAGE);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const { feed, token } = await audited(deps, { action: 'feed.create', target: null, detail: { scope: parsed.data.scope } }, () =>
        createFeed(deps, parsed.data, 'cli'),
      );
      io.out(`feed ${feed.id} (${feed.scope}${feed.target_id ? ` ${feed.target_id}` : ''})`);
      io.out(config.PUBLIC_URL ? feedUrl(config.PUBLIC_URL, feed, token) : `${feed.path}?token=${token}  (prefix it with the service's public URL; set PUBLIC_URL to get a full URL)`);
      return 0;
    });
  }
  if (sub === 'list') {
    const p = parse(rest, { revoked: { type: 'boolean' }, json: { type: 'boolean' } }, io, FEED_USAGE);
    if (!p || p.positionals.length > 0) {
      if (p) io.err(FEED_USAGE);
      return 2;
    }
    return withDatabase(config, io, async (deps) => {
      const items = await listFeeds(deps.db, { revoked: p.values.revoked === true });
      if (p.values.json) io.out(JSON.stringify(items, null, 2));
      else {
        io.out('id\tscope\ttarget\tcreated_at\trevoked_at');
        for (const f of items) io.out([f.id, f.scope, f.target_id ?? '-', f.created_at, f.revoked_at ?? '-'].join('\t'));
      }
      return 0;
    });
  }
  if (sub === 'revoke' && rest.length === 1 && rest[0]) {
    const id = rest[0];
    return withDatabase(config, io, async (deps) => {
      try {
        const feed = await audited(deps, { action: 'feed.revoke', target: id }, () => revokeFeed(deps, id));
        io.out(`feed ${feed.id} revoked at ${feed.revoked_at}`);
        return 0;
      } catch (err) {
        if (err instanceof AppError && err.code === 'feed_not_found') {
          io.err(err.message);
          return 1;
        }
        throw err;
      }
    });
  }
  io.err(FEED_USAGE);
  return 2;
}
