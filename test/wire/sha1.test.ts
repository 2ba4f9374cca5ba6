/**
 * Our HMAC-SHA1 (precomputed key state, control/wire/auth/sha1.ts) against
 * node:crypto's (OpenSSL's) on random keys and messages in random pieces:
 * every length around the block and padding boundaries, keys longer than a
 * block (hashed first), and a key buffer changed in place after use.
 * RFC 2202's known answers are in auth-mipv6.test.ts.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacSha1 } from '../../control/wire/auth/crypto.js';

const openssl = (key: Uint8Array, parts: Uint8Array[]) => {
  const h = createHmac('sha1', key);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('HMAC-SHA1 with precomputed key state', () => {
  it('equals OpenSSL for every message length 0..300 (all padding cases), one part', () => {
    const key = Buffer.from('000102030405060708090a0b0c0d0e0f10111213', 'hex');
    for (let n = 0; n <= 300; n++) {
      const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff));
      expect(hmacSha1(key, data).toString('hex'), `length ${n}`).toBe(openssl(key, [data]));
    }
  });

  it('equals OpenSSL on random keys (0..200 bytes) and messages split into random parts', () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 6 }),
      (key, parts) => {
        expect(hmacSha1(key, ...parts).toString('hex')).toBe(openssl(key, parts));
      },
    ), { numRuns: 3000 });
  });

  it('a key buffer changed in place after use is prepared again', () => {
    const key = Buffer.alloc(20, 1);
    const data = Buffer.from('binding update');
    const before = hmacSha1(key, data).toString('hex');
    key[0] = 2;
    const after = hmacSha1(key, data).toString('hex');
    expect(after).not.toBe(before);
    expect(after).toBe(openssl(key, [data]));
  });
});
