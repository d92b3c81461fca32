import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { isConnectionError } from '../../src/db/connection-errors.js';
import { DatabaseUnavailableError } from '../../src/errors.js';

describe('isConnectionError: by code, never by wording', () => {
  it('knows a database that cannot be reached, through causes and aggregate errors', async () => {
    const refused = postgres('postgres://postgres@127.0.0.1:1/none', { connect_timeout: 1, max: 1, onnotice: () => {} });
    const err = await refused`select 1`.catch((e: unknown) => e);
    await refused.end();
    expect(isConnectionError(err)).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'CONNECTION_CLOSED' }))).toBe(true);
    expect(isConnectionError(new Error('wrapped', { cause: Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }) }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isConnectionError(new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })], 'connect failed'))).toBe(true);
    // workerd's socket errors carry no code: their exact messages are all there is
    expect(isConnectionError(new Error('proxy request failed, cannot connect to the specified address'))).toBe(true);
  });

  it('does not take a message that only mentions connections or timeouts for an outage', () => {
    expect(isConnectionError(new Error('could not connect to Google: request timeout'))).toBe(false);
    expect(isConnectionError(new Error('Connection terminated unexpectedly by the remote calendar'))).toBe(false);
    expect(isConnectionError(new Error('the socket was closed after the timeout; ECONNRESET in the log'))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(new DatabaseUnavailableError())).toBe(false);
  });
});
