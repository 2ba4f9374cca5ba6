/**
 * The keyed hashes the mobility protocols use, and the one comparison every
 * verifier goes through. HMAC-SHA1, the one on every BU and BA, keeps each
 * key's precomputed state (sha1.ts); the rest are thin wrappers over
 * node:crypto.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HmacSha1Key } from './sha1.js';

/** Prepared keys, by the key's bytes as given (a copy: a buffer changed in place is prepared again). */
const prepared = new WeakMap<Uint8Array, { bytes: Buffer; key: HmacSha1Key }>();

/** A key as the HMAC-SHA1 functions take it, prepared (once per key's bytes). */
export function hmacSha1Key(key: Uint8Array | HmacSha1Key): HmacSha1Key {
  return key instanceof HmacSha1Key ? key : preparedKey(key);
}

function preparedKey(key: Uint8Array): HmacSha1Key {
  const known = prepared.get(key);
  if (known && sameBytes(known.bytes, key)) return known.key;
  const fresh = { bytes: Buffer.from(key), key: new HmacSha1Key(key) };
  prepared.set(key, fresh);
  return fresh.key;
}

/** (Buffer.equals is a call into C++, several times slower than this on a 20-byte key.) */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** HMAC-SHA1 (RFC 2104) over the concatenated parts; the key as bytes, or prepared by its holder. */
export function hmacSha1(key: Uint8Array | HmacSha1Key, ...parts: Uint8Array[]): Buffer {
  return hmacSha1Key(key).mac(parts);
}

/** First(96, HMAC_SHA1(key, data)): the RFC 4285 §5.1 authenticator. */
export function hmacSha1_96(key: Uint8Array | HmacSha1Key, ...parts: Uint8Array[]): Buffer {
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
