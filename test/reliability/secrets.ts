import { createPostgresDatabase } from '../support/db.js';
import { encryptedRequest } from '../support/feishu.js';
import { freePort, runCli, waitFor } from '../support/process.js';
import { FeishuSender } from '../support/sender.js';
import { startFakes } from './fakes.js';
import { baseEnv, captureLive, captureText, findSecretLeaks, http, record, registerPrivateKey, registerSecret, SECRETS, startService, type Figures, type Leak } from './harness.js';
import { connect, leaveWorkload } from './workload.js';

/*
 * Secrets never reach logs or error bodies. Every scenario's services run with distinctive secret
 * values (harness.ts SECRETS, plus each fake Google's private key); this scenario adds the paths
 * where a secret is most likely to slip out — a start that fails on a bad database URL carrying a
 * password or on a broken service-account key, an app secret Feishu refuses (the drainer logs the
 * failure, the admin API shows it; Feishu sign-in sends it as the OAuth client secret and logs the
 * refusal), a wrong admin token — and then greps everything captured by every scenario: all
 * stdout/stderr of every process, every HTTP response body. `leave-bridge trigger` and
 * `leave-bridge doctor` run with the same secrets set, passing and failing, and their output is
 * grepped too.
 */

const tail = () => Math.random().toString(36).slice(2, 10);

export interface SecretsChecks {
  startFailures: Array<{ what: string; code: number | null }>;
  /** trigger and doctor runs: the exit code each got and the one it should get */
  cliRuns: Array<{ what: string; code: number | null; expected: number }>;
  heldWithReason: boolean;
  heldBody: string;
  adminWrongTokenStatus: number;
  /** the sign-in callback's answer when the token endpoint refuses the client secret */
  oauthRefusedStatus: number;
  leaks: Leak[];
  sources: number;
  bytes: number;
  responseBodies: number;
  secrets: number;
}

async function failedStart(what: string, env: Record<string, string>): Promise<{ what: string; code: number | null }> {
  const child = runCli(['serve'], { ...baseEnv(), ...env });
  captureLive(`secrets: ${what} stdout/stderr`, child.output);
  const timeout = setTimeout(() => child.proc.kill('SIGKILL'), 30_000);
  const { code } = await child.exited;
  clearTimeout(timeout);
  return { what, code };
}

async function cliRun(what: string, args: string[], env: Record<string, string>, expected: number): Promise<{ what: string; code: number | null; expected: number }> {
  const child = runCli(args, env);
  captureLive(`secrets: ${what} stdout/stderr`, child.output);
  const timeout = setTimeout(() => child.proc.kill('SIGKILL'), 60_000);
  const { code } = await child.exited;
  clearTimeout(timeout);
  return { what, code, expected };
}

export async function secretsScenario(): Promise<{ figures: Figures; checks: SecretsChecks }> {
  const started = Date.now();
  const fakes = await startFakes('secrets');
  const database = await createPostgresDatabase('lb_rel_secrets');
  const sql = connect(database.url!);
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  try {
    // 1. Starts that fail, with a secret inside the offending value.
    const dbPassword = `RELSEC-db-password-${tail()}`;
    registerSecret('database password', dbPassword);
    const brokenKey = { ...fakes.google.serviceAccountKey, private_key: fakes.google.serviceAccountKey.private_key.replace(/[A-Za-z]/g, (c, i: number) => (i % 7 === 0 ? '*' : c)) };
    registerPrivateKey('secrets: broken service-account key', brokenKey.private_key);
    const startFailures = await Promise.all([
      failedStart('database URL with a password, nothing listening', { DATABASE_URL: `postgres://leave:${dbPassword}@127.0.0.1:9/leave` }),
      failedStart('service-account key that is not a key', { DATA_DIR: `/tmp/lb-rel-never-${tail()}`, GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(brokenKey) }),
      failedStart('service-account JSON cut short', { DATA_DIR: `/tmp/lb-rel-never-${tail()}`, GOOGLE_SERVICE_ACCOUNT_JSON: fakes.google.serviceAccountJson.slice(0, 900) }),
    ]);

    // 2. A running service whose Feishu app secret is refused: the drainer cannot look up the
    //    employee's email, holds the calendar message and says why (logs, admin API).
    const wrongAppSecret = `RELSEC-wrong-app-secret-${tail()}`;
    registerSecret('wrong Feishu app secret', wrongAppSecret);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    fakes.feishu.addUser({ user_id: 'u_secrets_op', open_id: 'ou_secrets_op', name: 'Operator' });
    service = await startService('secrets', {
      DATABASE_URL: database.url!,
      ...fakes.env,
      FEISHU_APP_SECRET: wrongAppSecret,
      OUTBOX_POLL_MS: '200',
      PORT: String(port),
      PUBLIC_URL: base,
      ADMIN_FEISHU_USERS: 'u_secrets_op',
    });
    const svc = service;
    const work = leaveWorkload('secrets', 1);
    const sender = new FeishuSender({ targets: [svc.webhook], encryptKey: SECRETS.encryptKey, onResponse: (t) => captureText('secrets: sender', t) });
    const delivered = await sender.deliver(work.deliveries[0]!);
    let heldWithReason = false;
    await waitFor('secrets: the calendar message held for the refused app secret', async () => {
      const rows = await sql<Array<{ status: string; last_error: string | null }>>`select status, last_error from outbox`;
      heldWithReason = rows.some((r) => r.status === 'held' && (r.last_error ?? '') !== '');
      return heldWithReason;
    });
    const held = await http('secrets: admin outbox (held)', `${svc.url}/api/outbox?status=held`, { headers: { authorization: `Bearer ${SECRETS.adminToken}` } });
    const wrongAdmin = await http('secrets: admin with a wrong token', `${svc.url}/api/leaves`, { headers: { authorization: `Bearer ${SECRETS.adminToken}x` } });
    // Feishu sign-in: the code exchange sends the (wrong) app secret as the OAuth client secret
    fakes.feishu.signInAs('u_secrets_op');
    const start = await fetch(`${base}/dashboard/oauth/start`, { redirect: 'manual' });
    const authorize = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callbackUrl = authorize.headers.get('location')!;
    const callback = await http('secrets: sign-in with a refused client secret', callbackUrl, {
      headers: { cookie: start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') },
    });
    // a delivery encrypted with another key, and one whose token is off by a character
    await sender.push(svc.webhook, await encryptedRequest(work.deliveries[0]!.plaintext, { encryptKey: `${SECRETS.encryptKey}x` }));
    await sender.push(svc.webhook, await encryptedRequest(work.deliveries[0]!.plaintext.replace(SECRETS.verificationToken, `${SECRETS.verificationToken}x`), { encryptKey: SECRETS.encryptKey }));

    // 3. trigger and doctor with every secret set: delivering, refused, checking, failing.
    const wrongEncryptKey = `RELSEC-wrong-encrypt-key-${tail()}`;
    registerSecret('wrong encrypt key', wrongEncryptKey);
    fakes.feishu.addApproval('REL-LEAVE', { name: 'Leave', subscribed: true });
    const cliEnv = { ...baseEnv(), ...fakes.env, DATABASE_URL: database.url! };
    const person = ['--as', 'ann@rel.example.com', '--employee', 'u_rel_ann', '--approval', 'REL-LEAVE'];
    const cliRuns = [
      await cliRun('trigger leave.reverted', ['trigger', 'leave.reverted', '--employee', 'u_rel_ann', '--url', svc.webhook], cliEnv, 0),
      await cliRun('trigger with a wrong encrypt key', ['trigger', 'leave.approved', '--url', svc.webhook], { ...cliEnv, FEISHU_ENCRYPT_KEY: wrongEncryptKey }, 1),
      await cliRun('doctor, every check passing', ['doctor', ...person, '--write-probe'], cliEnv, 0),
      await cliRun('doctor --json with a refused app secret', ['doctor', '--json', ...person], { ...cliEnv, FEISHU_APP_SECRET: wrongAppSecret }, 1),
      await cliRun('doctor with a configuration that does not parse', ['doctor', ...person], { ...cliEnv, PORT: 'eighty' }, 1),
    ];
    await svc.stop();

    // 4. Everything every scenario captured so far.
    const grep = findSecretLeaks();
    const checks: SecretsChecks = {
      startFailures,
      cliRuns,
      heldWithReason,
      heldBody: held.text.slice(0, 2000),
      adminWrongTokenStatus: wrongAdmin.status,
      oauthRefusedStatus: callback.status,
      leaks: grep.leaks,
      sources: grep.sources,
      bytes: grep.bytes,
      responseBodies: grep.responseBodies,
      secrets: grep.secrets,
    };
    const figures = record({
      scenario: 'secrets',
      title: 'Secrets in logs and error bodies',
      events_sent: 1,
      requests: sender.stats().pushes + 2,
      acked: delivered.acked ? 1 : 0,
      applied: (await sql<Array<{ n: number }>>`select count(*)::int as n from inbox_events where status = 'applied'`)[0]!.n,
      duplicates: 0,
      lost: delivered.acked ? 0 : 1,
      faults_injected: startFailures.length + 4,
      faults: `3 failed starts with secrets in bad config, a refused app secret (outbox and OAuth sign-in), a wrong admin token, a wrong encrypt key, a wrong verification token, trigger and doctor runs passing and failing; then ${grep.secrets} secret values grepped in ${(grep.bytes / 1e6).toFixed(1)} MB from ${grep.sources} outputs and response bodies: ${grep.leaks.length} hits`,
      wall_ms: Date.now() - started,
      details: {
        start_failures: startFailures,
        cli_runs: cliRuns,
        secrets_grepped: grep.secrets,
        outputs_grepped: grep.sources,
        response_bodies: grep.responseBodies,
        bytes_grepped: grep.bytes,
        leaks: grep.leaks.map((l) => ({ secret: l.secret, source: l.source, context: l.context.slice(0, 200) })),
      },
    });
    return { figures, checks };
  } finally {
    await service?.stop();
    await sql.end();
    await database.close();
    await fakes.close();
  }
}
