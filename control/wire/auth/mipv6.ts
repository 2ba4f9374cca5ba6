/**
 * RFC 4285 §5.1, the MN-HA Mobility Message Authentication option
 * (option type 9, subtype 1), signed and checked on encoded MH bytes:
 *
 *   Authenticator = First(96, HMAC_SHA1(MN-HA key, Mobility Data))
 *   Mobility Data = care-of address | home address | MH Data
 *   MH Data       = the MH from its first byte up to and including the
 *                   Mobility SPI field of this option, with the MH
 *                   Checksum field taken as zero.
 *
 * The option MUST be the last option of the message when it is the only
 * authentication option (§5.1); an MN-AAA option (subtype 2, §5.2) may come
 * after it. Padding that follows is not covered and is allowed. SPIs 0–255
 * are reserved (§5). A home agent answers a failed check with BA status 146
 * (MIPV6-AUTH-FAIL, §8).
 *
 * The option is found with the MH codec's optionLocations(), which walks
 * the options after each message type's fixed part (one table, in mh/).
 * After signing, the MH checksum must be (re)computed: encodeSignalling6
 * does that.
 */
import { sharedAddrBytes } from '../../dataplane/layout.js';
import { DecodeError, EncodeError } from '../buffer.js';
import { AuthSubtype, MH_CHECKSUM_OFFSET, OptionType } from '../mh/constants.js';
import { type OptionLocation, optionLocations } from '../mh/messages.js';
import { authenticatorsEqual, hmacSha1Key } from './crypto.js';
import type { HmacSha1Key } from './sha1.js';

/** 96 bits (RFC 4285 §5.1). */
export const MN_HA_AUTHENTICATOR_LENGTH = 12;
/** SPIs up to this one are reserved (RFC 4285 §5). */
export const RESERVED_SPI_MAX = 255;
/** Type, Length, Subtype, then the 4-byte SPI: the authentication data starts 7 bytes into the option. */
const SPI_AT = 3;
const DATA_AT = 7;

export interface MnHaSecurity {
  /** The mobile node's care-of address (IPv6; an IPv4 care-of address is used as its 4 bytes). */
  careOf: string;
  /** The mobile node's home address. */
  home: string;
}

export interface MnHaSigner extends MnHaSecurity {
  /** As bytes, or prepared once by a holder of many (sha1.ts). */
  key: Uint8Array | HmacSha1Key;
  spi: number;
}

export interface MnHaVerifier extends MnHaSecurity {
  /** The key of a mobility security association, or undefined if the SPI names none. */
  keyFor(spi: number): Uint8Array | HmacSha1Key | undefined;
}

export type MnHaVerdict =
  | { verdict: 'ok'; spi: number }
  | { verdict: 'no-auth-option' }
  | { verdict: 'not-last'; spi: number; offset: number }
  | { verdict: 'spi-unknown'; spi: number }
  | { verdict: 'mismatch'; spi: number }
  | { verdict: 'malformed'; error: DecodeError };

interface Located {
  option: OptionLocation;
  spi: number;
  /** Options other than padding and other authentication options after it. */
  last: boolean;
}

/** The MN-HA option (the last one if there were several) and whether it ends the message. */
function locate(mh: Buffer): Located | undefined {
  const options = optionLocations(mh);
  let found: number | undefined;
  options.forEach((o, i) => {
    if (o.code !== OptionType.mobilityMessageAuthentication) return;
    if (o.length < DATA_AT) throw new DecodeError('mip6.auth.length', o.offset + 1, o.length - 2, 'shorter than subtype and SPI');
    if (mh[o.offset + 2] === AuthSubtype.mnHa) found = i;
  });
  if (found === undefined) return undefined;
  const option = options[found]!;
  const last = options.slice(found + 1).every((o) => o.code === OptionType.mobilityMessageAuthentication && mh[o.offset + 2] !== AuthSubtype.mnHa);
  return { option, spi: mh.readUInt32BE(option.offset + SPI_AT), last };
}

function addressBytes(a: string, field: string): Buffer {
  try {
    return sharedAddrBytes(a);
  } catch {
    throw new EncodeError(field, a, 'not an IP address');
  }
}

const ZERO_CHECKSUM = new Uint8Array(2);

/** First(96, HMAC_SHA1(key, care-of | home | MH up to the SPI, checksum zero)). */
export function mnHaAuthenticator(key: Uint8Array | HmacSha1Key, s: MnHaSecurity, mh: Buffer, spiEnd: number): Buffer {
  const out = Buffer.allocUnsafe(MN_HA_AUTHENTICATOR_LENGTH);
  writeMnHaAuthenticator(hmacSha1Key(key), addressBytes(s.careOf, 'careOf'), addressBytes(s.home, 'home'), mh, 0, spiEnd, out, 0);
  return out;
}

/**
 * The same authenticator, of the MH at buf[mhAt..] whose SPI ends at
 * spiEnd (both offsets in buf), written into out at outAt: with no views or
 * copies made (BU prediction's, control/ha/prediction.ts).
 */
export function writeMnHaAuthenticator(key: HmacSha1Key, careOf: Uint8Array, home: Uint8Array, buf: Uint8Array, mhAt: number, spiEnd: number, out: Uint8Array, outAt: number): void {
  key.begin().add(careOf).add(home).add(buf, mhAt, mhAt + MH_CHECKSUM_OFFSET).add(ZERO_CHECKSUM).add(buf, mhAt + MH_CHECKSUM_OFFSET + 2, spiEnd)
    .end(out, outAt, MN_HA_AUTHENTICATOR_LENGTH);
}

/**
 * Fills in the authenticator of the MN-HA option of an encoded MH, in
 * place, and returns the same buffer. The option must already be there,
 * last, with this SPI and room for 96 bits.
 */
export function signMnHa(mh: Buffer, s: MnHaSigner): Buffer {
  if (!Number.isInteger(s.spi) || s.spi <= RESERVED_SPI_MAX || s.spi > 0xffffffff) throw new EncodeError('mip6.auth.mobility_spi', s.spi, 'SPIs 0–255 are reserved');
  let at: Located | undefined;
  try {
    at = locate(mh);
  } catch (err) {
    if (err instanceof DecodeError) throw new EncodeError(err.field, err.value, err.message);
    throw err;
  }
  if (!at) throw new EncodeError('mip6.auth', undefined, 'the MH has no MN-HA authentication option');
  if (!at.last) throw new EncodeError('mip6.auth', at.option.offset, 'the MN-HA authentication option must be the last option (RFC 4285 §5.1)');
  if (at.spi !== s.spi) throw new EncodeError('mip6.auth.mobility_spi', at.spi, `the option carries another SPI than ${s.spi}`);
  if (at.option.length - DATA_AT !== MN_HA_AUTHENTICATOR_LENGTH) throw new EncodeError('mip6.auth.auth_data', at.option.length - DATA_AT, `needs ${MN_HA_AUTHENTICATOR_LENGTH} bytes`);
  const dataAt = at.option.offset + DATA_AT;
  mnHaAuthenticator(s.key, s, mh, dataAt).copy(mh, dataAt);
  return mh;
}

/** Checks the MN-HA option of a received MH (constant-time comparison). */
export function verifyMnHa(mh: Buffer, v: MnHaVerifier): MnHaVerdict {
  let at: Located | undefined;
  try {
    at = locate(mh);
  } catch (err) {
    if (err instanceof DecodeError) return { verdict: 'malformed', error: err };
    throw err;
  }
  if (!at) return { verdict: 'no-auth-option' };
  const { option, spi } = at;
  if (!at.last) return { verdict: 'not-last', spi, offset: option.offset };
  const key = spi > RESERVED_SPI_MAX ? v.keyFor(spi) : undefined;
  if (!key) return { verdict: 'spi-unknown', spi };
  const dataAt = option.offset + DATA_AT;
  const received = mh.subarray(dataAt, option.offset + option.length);
  const expected = mnHaAuthenticator(key, v, mh, dataAt);
  return authenticatorsEqual(received, expected) ? { verdict: 'ok', spi } : { verdict: 'mismatch', spi };
}
