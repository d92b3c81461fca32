import { AESCipher } from '@larksuiteoapi/node-sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  equalDigests,
  decryptEvent,
  encryptEvent,
  eventSignature,
  nodeCryptoPrimitives,
  webCryptoPrimitives,
} from '../../src/feishu/crypto.js';

// Node uses node:crypto, workerd Web Crypto (src/feishu/crypto.ts): both must give the same answers.
const IMPLEMENTATIONS = [
  { name: 'Web Crypto', impl: webCryptoPrimitives },
  { name: 'node:crypto', impl: nodeCryptoPrimitives! },
];

it('Node gets the node:crypto primitives', () => {
  expect(nodeCryptoPrimitives).toBeDefined();
});

for (const { name, impl } of IMPLEMENTATIONS) {
  describe(`Feishu event decryption (${name})`, () => {
    it('decrypts the documented vector', async () => {
      expect(await decryptEvent('test key', 'P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=', impl)).toBe('hello world');
    });

    it('agrees with the official SDK AESCipher on random payloads and keys', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 64 }), fc.string({ maxLength: 2000 }), async (key, text) => {
          const encrypted = await encryptEvent(key, text);
          expect(new AESCipher(key).decrypt(encrypted)).toBe(text);
          expect(await decryptEvent(key, encrypted, impl)).toBe(text);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a ciphertext made with another key', async () => {
      const encrypted = await encryptEvent('key-one', JSON.stringify({ a: 1 }));
      await expect(decryptEvent('key-two', encrypted, impl)).rejects.toThrow();
    });

    it('hashes like node:crypto (SHA-256)', async () => {
      const { createHash } = await import('node:crypto');
      const data = new TextEncoder().encode('1700000000n0ncek{}');
      expect(Buffer.from(await impl.sha256(data)).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(await impl.sha256Hex(['1700000000n0nce', data.subarray(15)])).toBe(createHash('sha256').update(data).digest('hex'));
    });

    it('reads base64 as atob does: whitespace ignored, anything outside the alphabet refused', () => {
      const bytes = (b: Uint8Array) => Array.from(b);
      expect(bytes(impl.fromBase64('aGVs bG8=\n'))).toEqual(bytes(new TextEncoder().encode('hello')));
      expect(bytes(impl.fromBase64('aGk'))).toEqual(bytes(new TextEncoder().encode('hi')));
      expect(bytes(impl.fromBase64(''))).toEqual([]);
      expect(bytes(impl.fromBase64('aGk='))).toEqual(bytes(new TextEncoder().encode('hi')));
      // non-zero bits after the last byte (not canonical, not what an encoder writes): atob reads them
      const viaAtob = (b64: string) => Array.from(atob(b64.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
      const random = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
      for (const ok of ['aGl=', 'aGVsbG9=', 'aGVsbG+/', random, `${random.slice(0, 40)}\n${random.slice(40)}`]) {
        expect(bytes(impl.fromBase64(ok)), ok).toEqual(viaAtob(ok));
      }
      for (const bad of ['aGVs*bG8=', 'aGVsbG8=aGk=', 'a', 'aGVsbG8===', 'aGVsbG_-', 'aGk==', '=', 'aGVsb===']) {
        expect(() => impl.fromBase64(bad), bad).toThrow();
      }
    });

    it('refuses a body that is not base64 before decrypting it', async () => {
      const encrypted = await encryptEvent('k', 'hello world');
      await expect(decryptEvent('k', `${encrypted.slice(0, 10)}!${encrypted.slice(11)}`, impl)).rejects.toThrow();
    });

    it('signs timestamp + nonce + key + raw bytes as hex SHA-256', async () => {
      // sha256("1700000000" + "n0nce" + "k" + "{}") computed independently with node:crypto
      const { createHash } = await import('node:crypto');
      const expected = createHash('sha256').update('1700000000n0ncek{}').digest('hex');
      expect(await eventSignature('1700000000', 'n0nce', 'k', new TextEncoder().encode('{}'), impl)).toBe(expected);
    });

    it('compares strings of any length without throwing', async () => {
      expect(await constantTimeEqual('abc', 'abc', impl)).toBe(true);
      expect(await constantTimeEqual('abc', 'abd', impl)).toBe(false);
      expect(await constantTimeEqual('abc', 'abcd', impl)).toBe(false);
      expect(await constantTimeEqual('', '', impl)).toBe(true);
      expect(await constantTimeEqual('é', 'e\u0301', impl)).toBe(false);
      // the held secret's digest is remembered; other secrets (beyond what is remembered) still compare right
      for (let i = 0; i < 40; i++) {
        expect(await constantTimeEqual(`token-${i}`, `token-${i}`, impl)).toBe(true);
        expect(await constantTimeEqual(`token-${i}`, `token-${i + 1}`, impl)).toBe(false);
      }
    });

    it('compares hex digests of the same length', () => {
      const d = 'a'.repeat(63);
      expect(equalDigests(`${d}0`, `${d}0`)).toBe(true);
      expect(equalDigests(`${d}0`, `${d}1`)).toBe(false);
      expect(equalDigests(`0${d}`, `1${d}`)).toBe(false);
      expect(equalDigests(`${d}0`, d)).toBe(false);
      expect(equalDigests('', '')).toBe(true);
    });
  });
}
