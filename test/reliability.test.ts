import { afterAll, describe, expect, it } from 'vitest';
import { findSecretLeaks, writeReport } from './reliability/harness.js';
import { hostileScenario } from './reliability/hostile.js';
import { outageScenario } from './reliability/outage.js';
import { replayScenario, REPLAY_TOLERANCE_S } from './reliability/replay.js';
import { COPIES, twoInstancesScenario } from './reliability/two-instances.js';
import { secretsScenario } from './reliability/secrets.js';
import { securityScenario } from './reliability/security.js';
import { slowAndOversized, SLOW_TIMEOUTS } from './reliability/slow.js';

/*
 * The reliability and security suite: real `leave-bridge serve` processes, real Postgres,
 * fakes of Feishu and Google as real HTTP servers. Each scenario records its figures (events sent,
 * acked, applied, duplicates, lost, faults, wall time) before asserting, so the report in
 * test-results/reliability.json describes failing runs too. Scenarios run in order in one file:
 * the secrets check at the end greps everything every earlier scenario captured.
 */

describe('reliability', () => {
  afterAll(async () => {
    const { jsonPath, markdown } = await writeReport({ secrets: findSecretLeaks() });
    console.log(`\nreliability report (${jsonPath}):\n\n${markdown}\n`);
  });

  it('Postgres outage mid-stream: 503 while down, not ready, drainer paused, every event applied once', async () => {
    const { figures, checks } = await outageScenario();
    const log = checks.serverLog ? `\nservice log tail:\n${checks.serverLog}` : '';
    expect(checks.alive).toBe(true);
    // while down: refused with 503 (Feishu re-pushes), not ready
    expect(checks.probeDuringOutage.status).toBe(503);
    expect(JSON.parse(checks.probeDuringOutage.body)).toMatchObject({ error: { code: 'database_unavailable' } });
    expect(checks.readyDuring.status).toBe(503);
    expect(JSON.parse(checks.readyDuring.body)).toMatchObject({ status: 'not_ready', checks: { database: false } });
    // every answer the sender ever got was a 200 or a 503: no other 5xx, no timeouts, no resets
    expect(Object.keys(checks.statuses).sort()).toEqual(['200', '503']);
    // exactly once: every event acked, committed once, effects exact, one calendar block per leave
    expect(checks.verdict.problems, log).toEqual([]);
    // the drainer paused rather than burning attempts (no Google faults here, so none at all)
    expect(checks.outboxRowsBefore).toBeGreaterThan(0);
    expect(checks.verdict.outbox.attempts).toBe(0);
    expect(Object.keys(checks.verdict.outbox.byStatus).filter((s) => s !== 'done' && s !== 'superseded')).toEqual([]);
    expect(checks.errorLines, log).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
  }, 120_000);

  it(`two instances on one database, every delivery sent ${COPIES}× to either: one leave, exact attendance, one block`, async () => {
    const { figures, checks } = await twoInstancesScenario();
    const log = checks.serverLog ? `\nservice logs:\n${checks.serverLog}` : '';
    expect(checks.alive).toEqual([true, true]);
    expect(checks.unacked).toBe(0);
    // both instances took traffic
    expect(Object.keys(checks.perInstance)).toHaveLength(2);
    // exactly one copy of each delivery applied; the other four answered "duplicate"
    expect(Object.entries(checks.nonDuplicateAcks).filter(([, n]) => n !== 1)).toEqual([]);
    expect(checks.verdict.problems, log).toEqual([]);
    expect(checks.googleFaults).toBeGreaterThan(0);
    expect(checks.verdict.outbox.byStatus.dead ?? 0).toBe(0);
    expect(checks.errorLines, log).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
  }, 150_000);

  it('a hostile client: no crash, no 5xx, nothing unauthenticated stored, good events still applied', async () => {
    const { figures, checks } = await hostileScenario();
    const context = `seed ${checks.seed} (RELIABILITY_SEED=${checks.seed} reproduces)`;
    expect(checks.alive, context).toBe(true);
    expect(checks.healthAfter, context).toBe(200);
    expect(checks.violations, context).toEqual([]);
    expect(checks.storedUnauthentic, context).toEqual([]);
    expect(checks.authenticMissing, context).toEqual([]);
    expect(checks.leavesUnaccounted, context).toEqual([]);
    expect(checks.goodAcked, context).toBe(checks.goodSent);
    expect(checks.goodVerdict.problems, context).toEqual([]);
    expect(checks.unhandledErrorLines, context).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
  }, 120_000);

  it(`replay: a captured signed request is deduped within ${REPLAY_TOLERANCE_S} s and refused with 401 after`, async () => {
    const { figures, checks } = await replayScenario();
    const json = (a: { body: string }) => JSON.parse(a.body) as Record<string, unknown>;
    expect(checks.first.status).toBe(200);
    expect(json(checks.first)).toMatchObject({ status: 'applied' });
    // within the tolerance: answered 200 (Feishu must stop re-pushing) but nothing re-applied
    expect(checks.withinAgeMs).toBeLessThan(REPLAY_TOLERANCE_S * 1000);
    for (const a of [checks.replayWithin, checks.repushWithin, checks.replayAfterRevertWithin]) {
      expect(a.status).toBe(200);
      expect(json(a)).toMatchObject({ status: 'duplicate' });
    }
    expect(checks.leaveAfterReplay).toEqual(checks.leaveBefore);
    expect(checks.revert.status).toBe(200);
    // after the tolerance: refused before anything is read or stored
    for (const a of [checks.replayAfter, checks.neverSentAfter, checks.futureTimestamp]) {
      expect(a.status).toBe(401);
      expect(json(a)).toMatchObject({ error: { code: 'stale_timestamp' } });
    }
    expect(checks.unseenStored).toBe(0);
    // the leave stays reverted: exactly its approval and its revert, applied once each
    expect(checks.verdict.problems).toEqual([]);
    expect(checks.alive).toBe(true);
    expect(checks.errorLines).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
  }, 60_000);

  it('slow senders are cut off, bodies over 1 MiB refused, /healthz answers throughout', async () => {
    const { figures, checks } = await slowAndOversized();
    expect(checks.alive).toBe(true);
    for (const d of checks.dribbles) {
      // cut off by the server's timeout, not by the dribbler's own cap
      expect(d.closedByServer, `${d.what} was never cut off`).toBe(true);
      // headers never completed → headersTimeout; body never completed → requestTimeout
      expect(d.ms).toBeGreaterThanOrEqual(d.what.startsWith('header') ? SLOW_TIMEOUTS.headersMs - 200 : SLOW_TIMEOUTS.requestMs - 200);
      if (d.response !== '') expect(d.response).toMatch(/^HTTP\/1\.1 408 /);
    }
    expect(checks.chunked.status).toBe(413);
    // refused while the body was still streaming: the server stopped reading, did not buffer 64 MiB
    expect(checks.chunked.bytesSent).toBeLessThan(64 * 1024 * 1024);
    expect(JSON.parse(checks.chunked.body)).toMatchObject({ error: { code: 'body_too_large' } });
    expect(checks.declaredStatus).toBe(413);
    // the event loop kept serving while sockets were held open
    expect(checks.probesFailed).toBe(0);
    expect(checks.probesDuringSlow).toBeGreaterThanOrEqual(5);
    expect(checks.healthAfter).toBe(200);
    expect(checks.goodAcked).toBe(true);
    expect(checks.verdict.problems).toEqual([]);
    expect(checks.inboxRows).toBe(1);
    expect(checks.errorLines).toEqual([]);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
  }, 90_000);

  it('the admin surface and the webhook probed as an attacker: every probe answered safely', async () => {
    const { checks } = await securityScenario();
    const unsafe = checks.probes.filter((p) => !p.ok);
    expect(unsafe).toEqual([]);
    expect(checks.probes.length).toBeGreaterThanOrEqual(12);
    expect(checks.alive).toBe(true);
    // the 200 MB body did not land in memory
    expect(checks.rssAfterKb - checks.rssBeforeKb).toBeLessThan(50 * 1024);
    // every failed authentication was logged (the tokens themselves never: the secrets scenario greps)
    expect(checks.failureLogLines).toBeGreaterThanOrEqual(300);
    expect(checks.startWithShortToken).toBe(78);
    expect(checks.errorLines).toEqual([]);
  }, 120_000);

  // Last: it greps what every scenario above captured.
  it('secrets never appear in any process output or response body', async () => {
    const { checks } = await secretsScenario();
    for (const f of checks.startFailures) expect(f.code, f.what).not.toBe(0);
    for (const r of checks.cliRuns) expect(r.code, r.what).toBe(r.expected);
    expect(checks.heldWithReason).toBe(true);
    expect(checks.adminWrongTokenStatus).toBe(401);
    expect(checks.oauthRefusedStatus).toBe(401);
    // the grep covered something: this run's processes, bodies and keys
    expect(checks.sources).toBeGreaterThan(10);
    expect(checks.responseBodies).toBeGreaterThan(100);
    expect(checks.secrets).toBeGreaterThan(6);
    expect(checks.leaks).toEqual([]);
  }, 90_000);
});
