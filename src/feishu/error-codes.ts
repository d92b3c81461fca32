/**
 * Feishu Open API error codes whose cause is known, each with what a person does about it and the
 * page that documents it. Used where a failure is shown to a person (`leave-bridge doctor`); the
 * client's retry classification is FEISHU_CODES in failures.ts.
 */
import { ExternalError, type Explanation } from '../ports.js';

const GENERIC = 'https://open.feishu.cn/document/server-docs/api-call-guide/generic-error-code';
const TOKEN_API = 'https://open.feishu.cn/document/server-docs/authentication-management/access-token/tenant_access_token_internal';
const SCOPE_FAQ = 'https://open.feishu.cn/document/uAjLw4CM/ugTN1YjL4UTN24CO1UjN/trouble-shooting/how-to-fix-the-99991672-error';
const APPROVAL_GET = 'https://open.feishu.cn/document/server-docs/approval-v4/approval/get';
const APPROVAL_SUBSCRIBE = 'https://open.feishu.cn/document/server-docs/approval-v4/approval/subscribe';
const INSTANCE_GET = 'https://open.feishu.cn/document/server-docs/approval-v4/instance/get';
const USER_GET = 'https://open.feishu.cn/document/server-docs/contact-v3/user/get';

const CREDENTIALS_FIX =
  'copy the App ID (cli_…) and App Secret from the Feishu developer console → your app → Credentials & Basic Info into FEISHU_APP_ID and FEISHU_APP_SECRET';
const APPROVAL_CODE_FIX =
  'copy the approval code from the approval admin console (the definition\'s URL carries it as definitionCode=…); codes differ between tenants';

/** The scope a 99991672 names ("One of the following scopes is required: [contact:user.email:readonly]"). */
function scopeOf(msg: string): string {
  return /\[([^\]]+)\]/.exec(msg)?.[1]?.trim() || 'the scope named in Feishu\'s message';
}

const TABLE: Array<{ codes: number[]; explain: (msg: string) => Explanation }> = [
  {
    codes: [10003],
    explain: () => ({ cause: 'Feishu does not accept the app credentials as given (invalid param: FEISHU_APP_ID is not an app id of this Feishu)', fix: CREDENTIALS_FIX, source: TOKEN_API }),
  },
  {
    codes: [10014],
    explain: () => ({
      cause: 'the app secret does not belong to the app id (a typo, another app\'s secret, or a secret reset since)',
      fix: CREDENTIALS_FIX,
      source: TOKEN_API,
    }),
  },
  {
    codes: [99991661],
    explain: () => ({
      cause: 'the request carried no access token: obtaining the tenant_access_token failed first',
      fix: `check FEISHU_APP_ID and FEISHU_APP_SECRET: ${CREDENTIALS_FIX}`,
      source: GENERIC,
    }),
  },
  {
    codes: [99991663, 99991664, 99991668, 99991671],
    explain: () => ({
      cause: 'Feishu no longer accepts the access token: expired, revoked when the app secret was reset, or issued to another app',
      fix: 'tokens renew by themselves; if this persists, the app secret was reset or the app disabled: set the current FEISHU_APP_SECRET and restart',
      source: GENERIC,
    }),
  },
  {
    codes: [99991672],
    explain: (msg) => ({
      cause: `the app lacks the scope ${scopeOf(msg)}`,
      fix: `Feishu developer console → your app → Permissions & Scopes: add ${scopeOf(msg)}, then create and publish a new app version (a scope applies only once the version is released)`,
      source: SCOPE_FAQ,
    }),
  },
  {
    codes: [99991400],
    explain: () => ({ cause: 'Feishu rate-limited the app (too many requests)', fix: 'wait a minute and run again', source: GENERIC }),
  },
  {
    codes: [99991401],
    explain: () => ({
      cause: 'the request came from an address the app\'s IP allow-list does not include',
      fix: 'Feishu developer console → your app → Security Settings → IP allow-list: add this host\'s public address',
      source: GENERIC,
    }),
  },
  {
    codes: [1390001],
    explain: () => ({ cause: 'Feishu rejected the request as invalid (an approval code that is not one)', fix: APPROVAL_CODE_FIX, source: APPROVAL_GET }),
  },
  {
    codes: [1390002],
    explain: () => ({ cause: 'Feishu has no approval definition with this code in the app\'s tenant', fix: APPROVAL_CODE_FIX, source: APPROVAL_GET }),
  },
  {
    codes: [1390003],
    explain: () => ({ cause: 'Feishu has no approval instance with this code', fix: 'check the instance code (Feishu shows it on the approval\'s detail page)', source: INSTANCE_GET }),
  },
  {
    codes: [1390007],
    // success for a caller that subscribes (FeishuClient.subscribeApproval answers already_subscribed)
    explain: () => ({ cause: 'the app is already subscribed to this approval definition', fix: 'nothing to do: subscribing again changes nothing', source: APPROVAL_SUBSCRIBE }),
  },
  {
    codes: [41050],
    explain: () => ({
      cause: 'no user authority: the user is outside the app\'s contact range (the departments and people whose data the app may read)',
      fix: 'Feishu developer console → your app → Permissions & Scopes → range of contacts data: include everyone who takes leave, then publish a new app version',
      source: USER_GET,
    }),
  },
  {
    codes: [41012],
    explain: () => ({
      cause: 'Feishu has no user with this user_id',
      fix: 'use the person\'s user_id (not their open_id or union_id): Feishu admin console → Organization → Members shows it',
      source: USER_GET,
    }),
  },
];

const BY_CODE = new Map(TABLE.flatMap((row) => row.codes.map((code) => [code, row.explain] as const)));

/** The explanation of a Feishu code, or null when its cause is not known here. */
export function explainFeishuCode(code: number, msg = ''): Explanation | null {
  return BY_CODE.get(code)?.(msg) ?? null;
}

/** The explanation of a failed Feishu call (src/feishu/failures.ts puts the code in `reason`). */
export function explainFeishuError(err: unknown): Explanation | null {
  if (!(err instanceof ExternalError) || err.reason === undefined || !/^\d+$/.test(err.reason)) return null;
  return explainFeishuCode(Number(err.reason), err.message);
}
