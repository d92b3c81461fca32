import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createLogger, sdkLogText } from '../src/logger.js';
import { buildNodeRuntime } from '../src/node-deps.js';
import { startFakeGoogle } from './fakes/google.js';

describe('logger', () => {
  const capture = (secrets: string[] = []) => {
    const lines: string[] = [];
    return { lines, log: createLogger({ level: 'debug', secrets, write: (l) => lines.push(l) }) };
  };

  it('scrubs configured secrets from every line, wherever they appear', () => {
    const { lines, log } = capture(['s3cret-app-secret', 'enc-key-123456']);
    log.error('token call failed with s3cret-app-secret', { err: new Error('bad key enc-key-123456'), nested: { x: 'enc-key-123456' } });
    expect(lines.join('\n')).not.toMatch(/s3cret-app-secret|enc-key-123456/);
    expect(lines[0]).toContain('[redacted]');
  });

  it('keeps query parameters (emails, payloads) out of logged errors, causes included', () => {
    const { lines, log } = capture();
    const cause = new Error('Failed query: insert into employees values ($1)\nparams: alice@example.com');
    const err = new Error('Failed query: select 1\nparams: {"leave_reason":"private"}', { cause });
    log.error('drain failed', { err });
    const record = JSON.parse(lines[0]!) as { err: { message: string; cause: { message: string } } };
    expect(record.err.message).toBe('Failed query: select 1 [params omitted]');
    expect(record.err.cause.message).toBe('Failed query: insert into employees values ($1) [params omitted]');
    expect(lines[0]).not.toMatch(/alice@example\.com|private/);
  });

  it('scrubs a multi-line secret line by line, however the log line escapes it', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n${'B'.repeat(64)}\n${'C'.repeat(20)}==\n-----END PRIVATE KEY-----\n`;
    // as GOOGLE_SERVICE_ACCOUNT_JSON holds it: "\n" escapes inside JSON text
    const json = JSON.stringify({ type: 'service_account', private_key: pem });
    const { lines, log } = capture([json]);
    log.error('key rejected', { key: pem, again: JSON.stringify({ private_key: pem }), rewrapped: `${'A'.repeat(64)}${'B'.repeat(64)}` });
    expect(lines[0]).not.toMatch(/A{40}|B{40}/);
  });

  it("a key from GOOGLE_SERVICE_ACCOUNT_FILE is scrubbed like GOOGLE_SERVICE_ACCOUNT_JSON's", async () => {
    const google = await startFakeGoogle();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lb-keyfile-'));
    const written: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => void written.push(String(line)));
    try {
      const file = path.join(dir, 'key.json');
      await writeFile(file, google.serviceAccountJson);
      const runtime = await buildNodeRuntime(loadConfig({ GOOGLE_SERVICE_ACCOUNT_FILE: file, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'debug' }));
      runtime.deps.logger.error('something echoed the key', { key: google.serviceAccountKey.private_key });
      await runtime.close();
      const line = written.find((l) => l.includes('something echoed the key'))!;
      const body = google.serviceAccountKey.private_key.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
      expect(body.length).toBeGreaterThan(5);
      for (const l of body) expect(line).not.toContain(l);
      expect(line).toContain('[redacted]');
    } finally {
      spy.mockRestore();
      await google.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the Feishu SDK's own log calls lose payloads, objects and URL query strings", () => {
    const event = JSON.stringify({ event: { leave_reason: 'hospital', employee_id: 'u_x' } });
    expect(sdkLogText(['[ws]', `receive message, message_type: event; message_id: m1; trace_id: t1; data: ${event}`])).toBe(
      '[ws] receive message, message_type: event; message_id: m1; trace_id: t1; data: [omitted]',
    );
    expect(sdkLogText(['[ws]', 'get connect config success, ws url: wss://msg-frontier.feishu.cn/ws/v2?device_id=1&access_key=secret&ticket=t'])).toBe(
      '[ws] get connect config success, ws url: wss://msg-frontier.feishu.cn/ws/v2?[omitted]',
    );
    expect(sdkLogText([{ config: { data: '{"app_secret":"s"}' } }, new Error('Request failed with status code 400'), 3])).toBe('Request failed with status code 400 3');
  });

  it('respects the level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('quiet');
    log.warn('loud');
    expect(lines).toHaveLength(1);
  });
});
