import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import {
  createServiceAccountAuth,
  loadServiceAccountKey,
  parseServiceAccountKey,
  type ServiceAccountKey,
} from '../../src/google/auth.js';
import { startFakeGoogle, tokenError, type FakeGoogle } from '../fakes/google.js';
import { rejection } from '../support/errors.js';

let google: FakeGoogle;
let key: ServiceAccountKey;
let n = 0;
const subject = () => `auth-user-${++n}@example.com`;
const tokenCalls = (sub: string) => google.calls.filter((c) => c.op === 'token' && c.subject === sub);

beforeAll(async () => {
  google = await startFakeGoogle();
  key = parseServiceAccountKey(google.serviceAccountJson);
});
afterAll(() => google.close());

describe('service-account tokens', () => {
  it("posts a signed assertion to the key's token_uri and gets a token that acts as the subject only", async () => {
    const auth = createServiceAccountAuth(key);
    const alice = subject();
    const token = await auth.token(alice);
    // The fake verified the RS256 signature with the key's public half and recorded the subject.
    expect(tokenCalls(alice)).toMatchObject([{ status: 200, committed: true }]);
    const own = await fetch(`${google.url}calendar/v3/calendars/${encodeURIComponent(alice)}/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(own.status).toBe(200);
    const other = await fetch(`${google.url}calendar/v3/calendars/${encodeURIComponent(subject())}/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(other.status).toBe(403);
  });

  it('caches a token per subject', async () => {
    const auth = createServiceAccountAuth(key);
    const a = subject();
    const b = subject();
    const first = await auth.token(a);
    expect(await auth.token(a)).toBe(first);
    const forB = await auth.token(b);
    expect(forB).not.toBe(first);
    expect(tokenCalls(a)).toHaveLength(1);
    expect(tokenCalls(b)).toHaveLength(1);
  });

  it('shares one in-flight request between concurrent callers of one subject', async () => {
    const auth = createServiceAccountAuth(key);
    const a = subject();
    const tokens = await Promise.all(Array.from({ length: 8 }, () => auth.token(a)));
    expect(new Set(tokens).size).toBe(1);
    expect(tokenCalls(a)).toHaveLength(1);
  });

  it('renews shortly before expiry, not earlier', async () => {
    let clock = Date.now();
    const timed = await startFakeGoogle({ tokenTtlSeconds: 600, now: () => clock });
    try {
      const auth = createServiceAccountAuth(parseServiceAccountKey(timed.serviceAccountJson), { now: () => clock });
      const a = subject();
      const first = await auth.token(a);
      // 600 s token, margin min(5 min, half the lifetime) = 300 s → renewal from 300 s on.
      clock += 299_000;
      expect(await auth.token(a)).toBe(first);
      clock += 2_000;
      const second = await auth.token(a);
      expect(second).not.toBe(first);
      expect(timed.calls.filter((c) => c.op === 'token')).toHaveLength(2);
    } finally {
      await timed.close();
    }
  });

  it('invalidate drops the named token only', async () => {
    const auth = createServiceAccountAuth(key);
    const a = subject();
    const first = await auth.token(a);
    auth.invalidate(a, first);
    const second = await auth.token(a);
    expect(second).not.toBe(first);
    auth.invalidate(a, first); // stale: must not drop the newer token
    expect(await auth.token(a)).toBe(second);
    expect(tokenCalls(a)).toHaveLength(2);
  });

  it('accepts a private_key whose newlines arrived as literal "\\n"', async () => {
    const mangled = { ...google.serviceAccountKey, private_key: google.serviceAccountKey.private_key.replace(/\n/g, '\\n') };
    const auth = createServiceAccountAuth(parseServiceAccountKey(JSON.stringify(mangled)));
    const a = subject();
    await auth.token(a);
    expect(tokenCalls(a)).toMatchObject([{ status: 200 }]);
  });
});

describe('token failures are classified', () => {
  it('invalid_grant (user not in the domain) → configuration', async () => {
    const auth = createServiceAccountAuth(key);
    const ghost = subject();
    google.denySubject(ghost);
    const err = await rejection(auth.token(ghost));
    expect(err.failure).toBe('configuration');
    expect(err.status).toBe(400);
    expect(err.reason).toBe('invalid_grant');
    expect(err.message).toContain(ghost);
  });

  it('a key the token endpoint cannot verify (wrong private key) → configuration', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const auth = createServiceAccountAuth({ ...key, private_key: privateKey });
    const err = await rejection(auth.token(subject()));
    expect(err.failure).toBe('configuration');
    expect(err.message).toContain('Invalid JWT Signature');
  });

  it('unauthorized_client (delegation lacks the scope) → configuration', async () => {
    const auth = createServiceAccountAuth(key);
    const a = subject();
    google.faults.add({ op: 'token', subject: a, fault: tokenError(401, 'unauthorized_client', 'Client is unauthorized') });
    const err = await rejection(auth.token(a));
    expect(err.failure).toBe('configuration');
    expect(err.reason).toBe('unauthorized_client');
  });

  it.each(['http503', 'http500', 'http429', 'reset'] as const)('%s from the token endpoint → transient, and nothing is cached', async (kind) => {
    const auth = createServiceAccountAuth(key);
    const a = subject();
    google.faults.add({ op: 'token', subject: a, fault: kind });
    const err = await rejection(auth.token(a));
    expect(err.failure).toBe('transient');
    await auth.token(a);
    expect(tokenCalls(a).map((c) => c.status)).toEqual([kind === 'reset' ? 'reset' : Number(kind.slice(4)), 200]);
  });

  it('a token endpoint that never answers → transient after the timeout', async () => {
    const auth = createServiceAccountAuth(key, { timeoutMs: 300 });
    const a = subject();
    google.faults.add({ op: 'token', subject: a, fault: 'hang' });
    const err = await rejection(auth.token(a));
    expect(err.failure).toBe('transient');
    expect(err.message).toContain('timed out');
  });

  it('an unreachable token_uri → transient', async () => {
    const gone = await startFakeGoogle();
    const goneKey = parseServiceAccountKey(gone.serviceAccountJson);
    await gone.close();
    const err = await rejection(createServiceAccountAuth(goneKey).token(subject()));
    expect(err.failure).toBe('transient');
  });
});

describe('loadServiceAccountKey', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lb-key-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is null when no key is configured (calendar sync off)', async () => {
    expect(await loadServiceAccountKey({ GOOGLE_SERVICE_ACCOUNT_JSON: undefined, GOOGLE_SERVICE_ACCOUNT_FILE: undefined })).toBeNull();
  });

  it('reads GOOGLE_SERVICE_ACCOUNT_JSON and keeps token_uri', async () => {
    const loaded = await loadServiceAccountKey({ GOOGLE_SERVICE_ACCOUNT_JSON: google.serviceAccountJson, GOOGLE_SERVICE_ACCOUNT_FILE: undefined });
    expect(loaded).toMatchObject({ client_email: google.serviceAccountKey.client_email, token_uri: google.tokenUri });
  });

  it('reads GOOGLE_SERVICE_ACCOUNT_FILE', async () => {
    const file = join(dir, 'key.json');
    writeFileSync(file, google.serviceAccountJson);
    const loaded = await loadServiceAccountKey({ GOOGLE_SERVICE_ACCOUNT_JSON: undefined, GOOGLE_SERVICE_ACCOUNT_FILE: file });
    expect(loaded?.token_uri).toBe(google.tokenUri);
  });

  it('fails at start with a message naming the variable, never the key', async () => {
    const cases: Array<[Parameters<typeof loadServiceAccountKey>[0], RegExp]> = [
      [{ GOOGLE_SERVICE_ACCOUNT_JSON: '{not json', GOOGLE_SERVICE_ACCOUNT_FILE: undefined }, /GOOGLE_SERVICE_ACCOUNT_JSON: not valid JSON/],
      [{ GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ client_email: 'x@y' }), GOOGLE_SERVICE_ACCOUNT_FILE: undefined }, /GOOGLE_SERVICE_ACCOUNT_JSON: private_key/],
      [
        {
          GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify({ ...google.serviceAccountKey, private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }),
          GOOGLE_SERVICE_ACCOUNT_FILE: undefined,
        },
        /GOOGLE_SERVICE_ACCOUNT_JSON: private_key is not a PKCS#8 RSA private key/,
      ],
      [{ GOOGLE_SERVICE_ACCOUNT_JSON: undefined, GOOGLE_SERVICE_ACCOUNT_FILE: join(dir, 'missing.json') }, /GOOGLE_SERVICE_ACCOUNT_FILE: cannot read .*ENOENT/],
    ];
    for (const [config, pattern] of cases) {
      const err = await loadServiceAccountKey(config).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message).not.toContain('BEGIN PRIVATE KEY');
    }
  });
});
