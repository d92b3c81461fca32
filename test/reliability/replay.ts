import { createPostgresDatabase } from '../support/db.js';
import { encryptedRequest, leaveRevert, type FeishuRequest } from '../support/feishu.js';
import { FeishuSender, type Attempt, type DeliveryResult } from '../support/sender.js';
import { captureText, record, SECRETS, sleep, startService, type Figures } from './harness.js';
import { connect, leaveWorkload, verify, type Verdict } from './workload.js';

/*
 * Replay: an attacker (or a confused proxy) re-sends a captured, correctly signed request. Within
 * the timestamp tolerance the event id dedupes it (answered 200, nothing re-applied); after the
 * tolerance the signature's timestamp is stale and it is refused with 401 before anything is read.
 * The service runs with FEISHU_TIMESTAMP_TOLERANCE=2 and the test waits 3 s, no clock faking.
 */

export const REPLAY_TOLERANCE_S = 2;

export interface ReplayChecks {
  first: Attempt;
  replayWithin: Attempt;
  repushWithin: Attempt;
  revert: Attempt;
  replayAfterRevertWithin: Attempt;
  withinAgeMs: number;
  leaveBefore: { revision: number; updated_at: string } | null;
  leaveAfterReplay: { revision: number; updated_at: string } | null;
  replayAfter: Attempt;
  neverSentAfter: Attempt;
  futureTimestamp: Attempt;
  unseenStored: number;
  verdict: Verdict;
  alive: boolean;
  errorLines: string[];
}

/** Wait for the start of a wall-clock second, so a capture's whole-second timestamp is fresh. */
async function atSecondStart(): Promise<number> {
  const ms = Date.now() % 1000;
  if (ms > 50) await sleep(1000 - ms);
  return Math.floor(Date.now() / 1000);
}

export async function replayScenario(): Promise<{ figures: Figures; checks: ReplayChecks }> {
  const started = Date.now();
  const database = await createPostgresDatabase('lb_rel_replay');
  const service = await startService('replay', { DATABASE_URL: database.url!, FEISHU_TIMESTAMP_TOLERANCE: String(REPLAY_TOLERANCE_S) });
  const sql = connect(database.url!);
  const sender = new FeishuSender({ targets: [service.webhook], encryptKey: SECRETS.encryptKey, onResponse: (t) => captureText('replay: response', t) });
  const send = (req: FeishuRequest) => sender.push(service.webhook, req);
  const leaveRow = async (code: string) =>
    (await sql<Array<{ revision: number; updated_at: string }>>`select revision, updated_at::text from leaves where instance_code = ${code}`)[0] ?? null;
  try {
    const work = leaveWorkload('replay', 2);
    const target = work.leaves[0]!;
    const unseen = work.leaves[1]!;
    const v1 = target.deliveries[0]!;

    const ts = await atSecondStart();
    const captured = await encryptedRequest(v1.plaintext, { encryptKey: SECRETS.encryptKey, timestamp: ts });
    // captured and never delivered: its first appearance will be a replay after the tolerance
    const neverSent = await encryptedRequest(unseen.deliveries[1]!.plaintext, { encryptKey: SECRETS.encryptKey, timestamp: ts });

    const first = await send(captured);
    const leaveBefore = await leaveRow(target.instanceCode);
    const replayWithin = await send(captured); // the same bytes, same signature
    const repushWithin = await send(await encryptedRequest(v1.plaintext, { encryptKey: SECRETS.encryptKey })); // re-signed, as a Feishu re-push
    const leaveAfterReplay = await leaveRow(target.instanceCode);
    const revertId = `${target.instanceCode}-revert`;
    const revert = await send(await encryptedRequest(leaveRevert({ instanceCode: target.instanceCode, uuid: revertId, token: SECRETS.verificationToken }), { encryptKey: SECRETS.encryptKey }));
    // the approval replayed after its revert: must not resurrect the leave
    const replayAfterRevertWithin = await send(captured);
    const withinAgeMs = Date.now() - ts * 1000;

    // Past the tolerance: the same captured bytes are refused before anything is read.
    const wait = (ts + REPLAY_TOLERANCE_S + 1) * 1000 + 100 - Date.now();
    if (wait > 0) await sleep(wait);
    const replayAfter = await send(captured);
    const neverSentAfter = await send(neverSent);
    // A timestamp from the future (a forged or skewed clock) is as stale as one from the past.
    const futureTimestamp = await send(
      await encryptedRequest(unseen.deliveries[0]!.plaintext, { encryptKey: SECRETS.encryptKey, timestamp: Math.floor(Date.now() / 1000) + 10 * REPLAY_TOLERANCE_S }),
    );

    const unseenStored = (await sql<Array<{ n: number }>>`
      select (select count(*) from inbox_events where instance_code = ${unseen.instanceCode})::int
           + (select count(*) from leaves where instance_code = ${unseen.instanceCode})::int as n`)[0]!.n;
    const result = (id: string, a: Attempt): DeliveryResult => ({ id, acked: a.status === 200, attempts: [a], ack: a.body });
    const expected = [{ ...target, status: 'reverted' as const, deliveries: [v1, { id: revertId, plaintext: '' }] }];
    const verdict = await verify(sql, expected, [result(v1.id, first), result(revertId, revert)]);

    const checks: ReplayChecks = {
      first,
      replayWithin,
      repushWithin,
      revert,
      replayAfterRevertWithin,
      withinAgeMs,
      leaveBefore,
      leaveAfterReplay,
      replayAfter,
      neverSentAfter,
      futureTimestamp,
      unseenStored,
      verdict,
      alive: service.alive(),
      errorLines: service.errorLines(),
    };
    const figures = record({
      scenario: 'replay',
      title: 'Replayed signed requests',
      events_sent: 4,
      requests: sender.stats().pushes,
      acked: [first, revert].filter((a) => a.status === 200).length,
      applied: verdict.applied,
      // a replay that changed something, or a stale one that got in
      duplicates: verdict.duplicates + (leaveBefore?.updated_at !== leaveAfterReplay?.updated_at ? 1 : 0) + unseenStored,
      lost: verdict.lost,
      faults_injected: 6,
      faults: `3 replays within the ${REPLAY_TOLERANCE_S} s tolerance, 2 after it, 1 future timestamp`,
      wall_ms: Date.now() - started,
      details: {
        tolerance_s: REPLAY_TOLERANCE_S,
        within: [replayWithin, repushWithin, replayAfterRevertWithin].map((a) => `${a.status} ${a.body}`),
        within_age_ms: withinAgeMs,
        after: [replayAfter, neverSentAfter, futureTimestamp].map((a) => `${a.status} ${a.body}`),
      },
    });
    return { figures, checks };
  } finally {
    await service.stop();
    await sql.end();
    await database.close();
  }
}
