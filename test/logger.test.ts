import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

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

  it('respects the level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.info('quiet');
    log.warn('loud');
    expect(lines).toHaveLength(1);
  });
});
