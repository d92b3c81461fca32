/**
 * Where Feishu's web-app sign-in lives. The authorize page and the OAuth token endpoint are on the
 * accounts host, not the Open API host: accounts.feishu.cn for open.feishu.cn, accounts.larksuite.com
 * for open.larksuite.com (the SDK maps the token endpoint the same way, OAUTH_DOMAIN_MAP). Any other
 * FEISHU_BASE_URL (a proxy, a test fake) serves both itself.
 *
 * Authorize page: https://open.feishu.cn/document/common-capabilities/sso/api/obtain-oauth-code
 * (client_id, redirect_uri, state, code_challenge, code_challenge_method; back with ?code&state).
 */
const ACCOUNTS_OF: Record<string, string> = {
  'open.feishu.cn': 'https://accounts.feishu.cn',
  'open.larksuite.com': 'https://accounts.larksuite.com',
};

export function accountsUrlFor(baseUrl: string): string {
  const url = new URL(baseUrl);
  return ACCOUNTS_OF[url.host] ?? baseUrl.replace(/\/+$/, '');
}

export function authorizeUrl(input: { baseUrl: string; appId: string; redirectUri: string; state: string; codeChallenge: string }): string {
  const url = new URL('/open-apis/authen/v1/authorize', `${accountsUrlFor(input.baseUrl)}/`);
  url.searchParams.set('client_id', input.appId);
  url.searchParams.set('redirect_uri', input.redirectUri);
  url.searchParams.set('state', input.state);
  url.searchParams.set('code_challenge', input.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}
