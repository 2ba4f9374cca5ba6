/**
 * Mobile IPv4 authentication extensions (RFC 5944 §3.5), signed and checked
 * on encoded Registration Requests and Replies. The authenticator covers
 * (§3.5.1) the fixed part of the message, all prior extensions in their
 * entirety, and the Type, Length and SPI of this extension:
 *
 *   'hmac-md5'           HMAC-MD5(key, those bytes)   (RFC 5944 §3.5.1 default)
 *   'prefix-suffix-md5'  MD5(key | those bytes | key) (keyed MD5 "prefix+suffix",
 *                        RFC 2002 §3.5.1, for older peers)
 *
 * Both give 128 bits. The extension is found with the Mobile IPv4 codec
 * (control/wire/mipv4/), whose decoding is length-faithful, so its
 * authenticatedLength() is the offset of the authenticator in the bytes.
 */
import { DecodeError, EncodeError } from '../buffer.js';
import { AUTHENTICATOR_LENGTH } from '../mipv4/constants.js';
import type { AuthExtension, AuthExtensionType } from '../mipv4/extensions.js';
import { authenticatedLength, decodeMip4, findExtension } from '../mipv4/registration.js';
import { authenticatorsEqual, hmacMd5, keyedMd5PrefixSuffix } from './crypto.js';

export type Mip4AuthMode = 'hmac-md5' | 'prefix-suffix-md5';

/** A mobility security association as the verifier looks it up by SPI. */
export interface Mip4SecurityAssociation {
  key: Uint8Array;
  mode?: Mip4AuthMode;
}

export interface Mip4Signer extends Mip4SecurityAssociation {
  spi: number;
  /** Which extension to fill: MN-HA (default), MN-FA or FA-HA. */
  extension?: AuthExtensionType;
}

export interface Mip4Verifier {
  keyFor(spi: number): Mip4SecurityAssociation | undefined;
  extension?: AuthExtensionType;
}

export type Mip4Verdict =
  | { verdict: 'ok'; spi: number }
  | { verdict: 'no-auth-extension' }
  | { verdict: 'spi-unknown'; spi: number }
  | { verdict: 'mismatch'; spi: number }
  | { verdict: 'malformed'; error: DecodeError };

/** The authenticator over `signed` (the message up to and including the SPI). */
export function mip4Authenticator(key: Uint8Array, signed: Uint8Array, mode: Mip4AuthMode = 'hmac-md5'): Buffer {
  return mode === 'hmac-md5' ? hmacMd5(key, signed) : keyedMd5PrefixSuffix(key, signed);
}

interface Located {
  ext: AuthExtension;
  /** Offset of the authenticator: the signed bytes end here. */
  signedLength: number;
}

function locate(msg: Buffer, kind: AuthExtensionType): Located | undefined {
  const m = decodeMip4(msg);
  const ext = findExtension(m, kind);
  const signedLength = authenticatedLength(m, kind);
  if (!ext || signedLength === undefined) return undefined;
  // the codec promises the offsets of the bytes received; hold it to that
  if (msg.readUInt32BE(signedLength - 4) !== ext.spi) throw new DecodeError(`${kind} SPI`, signedLength - 4, ext.spi, 'extension not where the codec placed it');
  return { ext, signedLength };
}

/**
 * Fills in the authenticator of an encoded Registration Request or Reply,
 * in place, and returns the same buffer. The extension must already be
 * there with this SPI and room for 128 bits.
 */
export function signMip4(msg: Buffer, s: Mip4Signer): Buffer {
  const kind = s.extension ?? 'mnHaAuth';
  let at: Located | undefined;
  try {
    at = locate(msg, kind);
  } catch (err) {
    if (err instanceof DecodeError) throw new EncodeError(err.field, err.value, err.message);
    throw err;
  }
  if (!at) throw new EncodeError(kind, undefined, 'the message has no such extension');
  if (at.ext.spi !== s.spi) throw new EncodeError(`${kind} SPI`, at.ext.spi, `the extension carries another SPI than ${s.spi}`);
  if (at.ext.authenticator.length !== AUTHENTICATOR_LENGTH) throw new EncodeError(`${kind} authenticator`, at.ext.authenticator.length, `needs ${AUTHENTICATOR_LENGTH} bytes`);
  mip4Authenticator(s.key, msg.subarray(0, at.signedLength), s.mode).copy(msg, at.signedLength);
  return msg;
}

/** Checks an authentication extension of a received message (constant-time comparison). */
export function verifyMip4(msg: Buffer, v: Mip4Verifier): Mip4Verdict {
  let at: Located | undefined;
  try {
    at = locate(msg, v.extension ?? 'mnHaAuth');
  } catch (err) {
    if (err instanceof DecodeError) return { verdict: 'malformed', error: err };
    throw err;
  }
  if (!at) return { verdict: 'no-auth-extension' };
  const { spi } = at.ext;
  const sa = v.keyFor(spi);
  if (!sa) return { verdict: 'spi-unknown', spi };
  const expected = mip4Authenticator(sa.key, msg.subarray(0, at.signedLength), sa.mode);
  return authenticatorsEqual(at.ext.authenticator, expected) ? { verdict: 'ok', spi } : { verdict: 'mismatch', spi };
}
