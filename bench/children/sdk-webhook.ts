/**
 * Baseline (b) of the ingest benchmark: what a user gets by following the Feishu docs. The
 * official SDK's EventDispatcher (decryption and signature check are the SDK's own) behind
 * `adaptDefault('/webhook/event', …)` on node:http, as in the SDK README, with a handler that
 * inserts the raw event into Postgres — one INSERT per request, on a postgres.js pool of the same
 * size as the service's. No dedupe, no leave, no attendance, no outbox.
 *
 * env: PORT, DATABASE_URL, FEISHU_ENCRYPT_KEY, FEISHU_VERIFICATION_TOKEN, POOL_SIZE
 */
import http from 'node:http';
import * as lark from '@larksuiteoapi/node-sdk';
import postgres from 'postgres';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const sql = postgres(env('DATABASE_URL'), { max: Number(process.env.POOL_SIZE ?? 16), onnotice: () => {} });
await sql`create table if not exists sdk_events (
  id bigserial primary key,
  event_type text not null,
  uuid text,
  instance_code text,
  payload jsonb not null,
  received_at timestamptz not null default now()
)`;

type SdkEvent = Record<string, unknown> & { uuid?: string; instance_code?: string };
const store = (eventType: string) => async (data: SdkEvent) => {
  await sql`insert into sdk_events (event_type, uuid, instance_code, payload)
            values (${eventType}, ${data.uuid ?? null}, ${data.instance_code ?? null}, ${sql.json(data as postgres.JSONValue)})`;
  return 'ok';
};

const dispatcher = new lark.EventDispatcher({
  encryptKey: env('FEISHU_ENCRYPT_KEY'),
  verificationToken: env('FEISHU_VERIFICATION_TOKEN'),
}).register({
  leave_approval: store('leave_approval'),
  leave_approvalV2: store('leave_approvalV2'),
});

const server = http.createServer();
server.on('request', lark.adaptDefault('/webhook/event', dispatcher));
// Readiness only (the benchmark waits for it); adaptDefault leaves other paths unanswered.
server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.url === '/healthz') res.end('ok');
});
server.listen(Number(env('PORT')), '127.0.0.1', () => process.stdout.write(`READY ${env('PORT')}\n`));

const stop = () => {
  server.close();
  server.closeAllConnections();
  void sql.end({ timeout: 2 }).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
