import { AESCipher } from '@larksuiteoapi/node-sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, decryptEvent, encryptEvent, eventSignature } from '../src/feishu/crypto.js';

describe('Feishu event crypto (Web Crypto)', () => {
  it('decrypts the documented vector', async () => {
    expect(await decryptEvent('test key', 'P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=')).toBe('hello world');
  });

  it('agrees with the official SDK AESCipher on random payloads and keys', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ maxLength: 2000 }), async (key, text) => {
        const encrypted = await encryptEvent(key, text);
        expect(new AESCipher(key).decrypt(encrypted)).toBe(text);
        expect(await decryptEvent(key, encrypted)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a ciphertext made with another key', async () => {
    const encrypted = await encryptEvent('key-one', JSON.stringify({ a: 1 }));
    await expect(decryptEvent('key-two', encrypted)).rejects.toThrow();
  });

  it('signs timestamp + nonce + key + raw bytes as hex SHA-256', async () => {
    // sha256("1700000000" + "n0nce" + "k" + "{}") computed independently with node:crypto
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256').update('1700000000n0ncek{}').digest('hex');
    expect(await eventSignature('1700000000', 'n0nce', 'k', new TextEncoder().encode('{}'))).toBe(expected);
  });

  it('compares strings of any length without throwing', async () => {
    expect(await constantTimeEqual('abc', 'abc')).toBe(true);
    expect(await constantTimeEqual('abc', 'abd')).toBe(false);
    expect(await constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(await constantTimeEqual('', '')).toBe(true);
  });
});
