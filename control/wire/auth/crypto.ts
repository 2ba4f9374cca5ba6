/**
 * The keyed hashes the mobility protocols use, as thin wrappers over
 * node:crypto, and the one comparison every verifier goes through.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA1 (RFC 2104) over the concatenated parts. */
export function hmacSha1(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha1', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** First(96, HMAC_SHA1(key, data)): the RFC 4285 §5.1 authenticator. */
export function hmacSha1_96(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  return hmacSha1(key, ...parts).subarray(0, 12);
}

/** HMAC-MD5 (RFC 2104): the Mobile IPv4 default (RFC 5944 §3.5.1). */
export function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('md5', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Keyed MD5 in "prefix+suffix" mode, MD5(key | data | key): the default of
 * RFC 2002 §3.5.1, still found in Mobile IPv4 peers that predate HMAC-MD5.
 */
export function keyedMd5PrefixSuffix(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHash('md5').update(key);
  for (const p of parts) h.update(p);
  return h.update(key).digest();
}

/**
 * Constant-time comparison of two authenticators. Their lengths are not
 * secret (the wire format fixes them), so unequal lengths return early.
 */
export function authenticatorsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
