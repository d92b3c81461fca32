import type { Config } from '../config.js';
import { sha256 } from '../feishu/crypto.js';
import { authorizeUrl } from '../feishu/oauth-urls.js';
import type { FeishuIdentity, FeishuSignInPort } from '../ports.js';
import { base64url, randomToken } from './sessions.js';

/*
 * Feishu sign-in for the dashboard: the authorization-code flow of Feishu's web apps
 * (https://open.feishu.cn/document/common-capabilities/sso/web-application-end-user-consent/guide).
 * The browser goes to Feishu's authorize page with a random `state` and a PKCE challenge, both of
 * which are also kept in a short-lived cookie of this browser; Feishu sends it back with a code;
 * the code is exchanged (with the app secret and the PKCE verifier) for a user token, whose owner
 * is then checked against ADMIN_FEISHU_USERS and ADMIN_FEISHU_DEPARTMENTS.
 *
 * `state` bound to the browser stops login CSRF: another site cannot make a browser complete a
 * sign-in it did not start (and so sign it in as someone else).
 */

export const OAUTH_COOKIE = 'lb_oauth';
/** Feishu's authorization codes live 5 minutes; a sign-in left longer than this starts over. */
export const OAUTH_PENDING_SECONDS = 600;
export const CALLBACK_PATH = '/dashboard/oauth/callback';

export interface PendingSignIn {
  state: string;
  verifier: string;
  /** where to go after signing in (a /dashboard path) */
  next: string;
}

export const redirectUriFor = (config: Pick<Config, 'PUBLIC_URL'>): string => `${config.PUBLIC_URL}${CALLBACK_PATH}`;

/** The authorize page to send the browser to, and what its cookie must remember. */
export async function startSignIn(
  config: Pick<Config, 'PUBLIC_URL' | 'FEISHU_BASE_URL' | 'FEISHU_APP_ID'>,
  next: string,
): Promise<{ location: string; pending: PendingSignIn }> {
  const pending: PendingSignIn = { state: randomToken(), verifier: randomToken(48), next };
  const location = authorizeUrl({
    baseUrl: config.FEISHU_BASE_URL,
    appId: config.FEISHU_APP_ID!,
    redirectUri: redirectUriFor(config),
    state: pending.state,
    codeChallenge: base64url(await sha256(pending.verifier)),
  });
  return { location, pending };
}

/** state and verifier are base64url (no dots), so the path can follow after the second dot. */
export const encodePending = (p: PendingSignIn): string => `${p.state}.${p.verifier}.${p.next}`;

export function decodePending(value: string | undefined): PendingSignIn | null {
  const m = /^([A-Za-z0-9_-]{20,100})\.([A-Za-z0-9_-]{43,128})\.(\/dashboard.*)$/s.exec(value ?? '');
  return m ? { state: m[1]!, verifier: m[2]!, next: m[3]! } : null;
}

export type AccessDecision = { allowed: true; via: 'user' | 'department' } | { allowed: false };

/**
 * Whether a Feishu user may use the admin surface: named in ADMIN_FEISHU_USERS (user_id or
 * open_id), or a member of a department in ADMIN_FEISHU_DEPARTMENTS or of one below it.
 */
export async function decideAccess(
  config: Pick<Config, 'ADMIN_FEISHU_USERS' | 'ADMIN_FEISHU_DEPARTMENTS'>,
  port: FeishuSignInPort,
  who: FeishuIdentity,
): Promise<AccessDecision> {
  const users = new Set(config.ADMIN_FEISHU_USERS);
  if (users.has(who.openId) || (who.userId !== null && users.has(who.userId))) return { allowed: true, via: 'user' };
  if (config.ADMIN_FEISHU_DEPARTMENTS.length === 0) return { allowed: false };
  const departments = await port.departmentsOf(who.openId);
  return config.ADMIN_FEISHU_DEPARTMENTS.some((d) => departments.has(d)) ? { allowed: true, via: 'department' } : { allowed: false };
}
