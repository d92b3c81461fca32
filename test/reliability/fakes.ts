import { startFakeFeishu, type FakeFeishu } from '../fakes/feishu.js';
import { startFakeGoogle, type FakeGoogle } from '../fakes/google.js';
import { registerPrivateKey, SECRETS } from './harness.js';
import { EMPLOYEES } from './workload.js';

/**
 * The fake Google (the drainer's calendar) and the fake Feishu Open API (contact users → emails
 * the drainer needs), with the scenario's distinctive app secret and a fresh service-account key
 * whose private key joins the secrets the suite greps for.
 */
export interface Fakes {
  google: FakeGoogle;
  feishu: FakeFeishu;
  /** what a `serve` process needs to reach them */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakes(label: string): Promise<Fakes> {
  const google = await startFakeGoogle();
  const feishu = await startFakeFeishu({ appId: `cli_rel_${label}`, appSecret: SECRETS.appSecret });
  for (const e of EMPLOYEES) feishu.addUser({ ...e });
  registerPrivateKey(`${label}: service-account private key`, google.serviceAccountKey.private_key);
  return {
    google,
    feishu,
    env: {
      GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson,
      GOOGLE_CALENDAR_BASE_URL: google.url,
      FEISHU_APP_ID: feishu.appId,
      FEISHU_APP_SECRET: SECRETS.appSecret,
      FEISHU_BASE_URL: feishu.url,
    },
    async close() {
      await google.close();
      await feishu.close();
    },
  };
}
