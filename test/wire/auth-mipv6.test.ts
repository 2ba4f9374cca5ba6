/**
 * RFC 4285 MN-HA authentication: HMAC-SHA1 known answers (RFC 2202), an
 * authenticator computed independently in Python over a BU that scapy
 * built, tshark's view of a signed BU, every verdict, and that changing any
 * signed byte makes verification fail.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatAddr } from '../../control/dataplane/layout.js';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import { authenticatorsEqual, hmacSha1, hmacSha1_96 } from '../../control/wire/auth/crypto.js';
import { MN_HA_AUTHENTICATOR_LENGTH, type MnHaVerifier, signMnHa, verifyMnHa } from '../../control/wire/auth/mipv6.js';
import { decodeSignalling6, encodeSignalling6 } from '../../control/wire/ip/signalling.js';
import { scapy } from '../helpers/scapy.js';
import { LINKTYPE_RAW, field, tshark } from '../helpers/tshark.js';

const COA = '2001:db8:c0a::1';
const HA = '2001:db8:a::1';
const HOA = '2001:db8:b::5';
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const SPI = 0x1001;

const hex = (s: string) => Buffer.from(s, 'hex');
const repeat = (byte: number, n: number) => Buffer.alloc(n, byte);

// RFC 2202 §3, test cases 1–7 for HMAC-SHA-1
const SHA1_VECTORS: { key: Buffer; data: Buffer; digest: string }[] = [
  { key: repeat(0x0b, 20), data: Buffer.from('Hi There'), digest: 'b617318655057264e28bc0b6fb378c8ef146be00' },
  { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), digest: 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79' },
  { key: repeat(0xaa, 20), data: repeat(0xdd, 50), digest: '125d7342b9ac11cd91a39af48aa17b4f63f175d3' },
  { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: repeat(0xcd, 50), digest: '4c9007f4026250c6bc8414f9bf50c86c2d7235da' },
  { key: repeat(0x0c, 20), data: Buffer.from('Test With Truncation'), digest: '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04' },
  { key: repeat(0xaa, 80), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), digest: 'aa4ae5e15272d00e95705637ce8a3b55ed402112' },
  { key: repeat(0xaa, 80), data: Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'), digest: 'e8e99d0f45237d786d6bbaa7965c7808bbff1a91' },
];

describe('HMAC-SHA1 (RFC 2202)', () => {
  it('gives the RFC 2202 digests, and their first 96 bits', () => {
    for (const v of SHA1_VECTORS) {
      expect(hmacSha1(v.key, v.data).toString('hex')).toBe(v.digest);
      expect(hmacSha1_96(v.key, v.data).toString('hex')).toBe(v.digest.slice(0, 24));
    }
    // test case 5 also lists the 96-bit truncation
    expect(hmacSha1_96(repeat(0x0c, 20), Buffer.from('Test With'), Buffer.from(' Truncation')).toString('hex')).toBe('4c1a03424b55e07fe7f27be1');
  });

  it('compares authenticators in constant time, and unequal lengths as unequal', () => {
    expect(authenticatorsEqual(hex('0102'), hex('0102'))).toBe(true);
    expect(authenticatorsEqual(hex('0102'), hex('0103'))).toBe(false);
    expect(authenticatorsEqual(hex('0102'), hex('010200'))).toBe(false);
  });
});

/** A Mobility Header from raw parts: options back to back, PadN/Pad1 to 8n at the end. */
function mh(type: number, body: Buffer, options: Buffer[]): Buffer {
  let b = Buffer.concat([Buffer.from([59, 0, type, 0, 0, 0]), body, ...options]);
  const pad = (8 - (b.length % 8)) % 8;
  if (pad === 1) b = Buffer.concat([b, Buffer.from([0])]);
  else if (pad > 1) b = Buffer.concat([b, Buffer.from([1, pad - 2]), Buffer.alloc(pad - 2)]);
  b[1] = b.length / 8 - 1;
  return b;
}
const opt = (type: number, data: Buffer) => Buffer.concat([Buffer.from([type, data.length]), data]);
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const authOpt = (spi: number, subtype = 1, dataLength = MN_HA_AUTHENTICATOR_LENGTH) => opt(9, Buffer.concat([Buffer.from([subtype]), u32(spi), Buffer.alloc(dataLength)]));
const nai = (s: string) => opt(8, Buffer.concat([Buffer.from([1]), Buffer.from(s)]));
const replay = (ts: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(ts); return opt(10, b); };
const buBody = (seq: number) => Buffer.from([seq >> 8, seq & 0xff, 0xc0, 0x00, 0x00, 0xfa]);

const verifier = (over: Partial<MnHaVerifier> = {}): MnHaVerifier => ({
  careOf: COA, home: HOA, keyFor: (spi) => (spi === SPI ? KEY : undefined), ...over,
});

describe('a BU built by scapy, signed here, checked against Python', () => {
  let s: Record<string, Buffer>;
  const options = "[MIP6OptUnknown(otype=8, odata=b'\\x01mn@example.net'), MIP6OptUnknown(otype=10, odata=bytes(range(8))), MIP6OptUnknown(otype=9, odata=b'\\x01\\x00\\x00\\x10\\x01' + bytes(12))]";
  beforeAll(() => {
    const py = (mhExpr: string) => `(lambda b: (lambda i: __import__('hmac').new(bytes.fromhex('${KEY.toString('hex')}'), `
      + `__import__('socket').inet_pton(10, '${COA}') + __import__('socket').inet_pton(10, '${HOA}') + b[:4] + bytes(2) + b[6:i + 7], 'sha1').digest()[:12])`
      + `(b.index(b'\\x09\\x11\\x01\\x00\\x00\\x10\\x01')))(bytes(${mhExpr}))`;
    s = scapy({
      mh: `MIP6MH_BU(seq=42, flags='AH', mhtime=1000, options=${options})`,
      authenticator: py(`MIP6MH_BU(seq=42, flags='AH', mhtime=1000, options=${options})`),
    });
  });

  it('fills in the authenticator Python computes over care-of | home | MH up to the SPI, checksum zero', () => {
    const m = Buffer.from(s.mh!);
    expect(m.subarray(-6)).toEqual(hex('010400000000')); // scapy padded after the option: allowed
    const at = m.indexOf(hex('0911'));
    expect(signMnHa(m, { key: KEY, spi: SPI, careOf: COA, home: HOA })).toBe(m);
    expect(m.subarray(at + 7, at + 19)).toEqual(s.authenticator);
    expect(m.subarray(0, at + 7)).toEqual(s.mh!.subarray(0, at + 7));
    expect(verifyMnHa(m, verifier())).toEqual({ verdict: 'ok', spi: SPI });
  });

  it('tshark reads the signed BU: subtype, SPI, authentication data, NAI', () => {
    const m = signMnHa(Buffer.from(s.mh!), { key: KEY, spi: SPI, careOf: COA, home: HOA });
    const packet = encodeSignalling6({ src: COA, dst: HA, homeAddressOption: HOA, mh: m });
    expect(decodeSignalling6(packet).mhChecksumOk).toBe(true);
    const [layers] = tshark([packet], { linktype: LINKTYPE_RAW });
    expect(field(layers!, 'mip6.auth.subtype')).toEqual(['1']);
    expect(field(layers!, 'mip6.auth.mobility_spi')).toEqual([String(SPI)]);
    // Wireshark 4.0 (packet-mip6.c, dissect_mip6_opt_auth) shows option_len - offset bytes, offset
    // counting the type and length octets: the last 2 of the 12 authenticator bytes are left out
    expect(field(layers!, 'mip6.auth.auth_data')[0]!.replaceAll(':', '')).toBe(s.authenticator!.subarray(0, 10).toString('hex'));
    expect(field(layers!, 'mip6.mnid.identifier')).toEqual(['mn@example.net']);
  });
});

describe('verdicts', () => {
  const signed = (options: Buffer[], type = 5, body = buBody(7)) => signMnHa(mh(type, body, options), { key: KEY, spi: SPI, careOf: COA, home: HOA });

  it('ok, for a BU and for a BA (fixed parts of different lengths)', () => {
    expect(verifyMnHa(signed([nai('mn@example.net'), authOpt(SPI)]), verifier())).toEqual({ verdict: 'ok', spi: SPI });
    const ba = signed([authOpt(SPI)], 6, Buffer.from([0, 0x80, 0, 7, 0, 0xfa]));
    expect(verifyMnHa(ba, verifier())).toEqual({ verdict: 'ok', spi: SPI });
  });

  it('ok when an MN-AAA option follows the MN-HA option', () => {
    const m = signed([authOpt(SPI), authOpt(0x2000, 2)]);
    expect(verifyMnHa(m, verifier())).toEqual({ verdict: 'ok', spi: SPI });
  });

  it('no-auth-option, also when only an MN-AAA option is present', () => {
    expect(verifyMnHa(mh(5, buBody(7), [nai('mn@example.net')]), verifier())).toEqual({ verdict: 'no-auth-option' });
    expect(verifyMnHa(mh(5, buBody(7), [authOpt(SPI, 2)]), verifier())).toEqual({ verdict: 'no-auth-option' });
  });

  it('not-last when another option follows', () => {
    const m = mh(5, buBody(7), [authOpt(SPI), nai('mn@example.net')]);
    expect(verifyMnHa(m, verifier())).toEqual({ verdict: 'not-last', spi: SPI, offset: 12 });
    expect(() => signMnHa(m, { key: KEY, spi: SPI, careOf: COA, home: HOA })).toThrow(EncodeError);
  });

  it('spi-unknown, and reserved SPIs are never looked up', () => {
    expect(verifyMnHa(signed([authOpt(SPI)]), verifier({ keyFor: () => undefined }))).toEqual({ verdict: 'spi-unknown', spi: SPI });
    let asked = false;
    const reserved = mh(5, buBody(7), [authOpt(200)]);
    expect(verifyMnHa(reserved, verifier({ keyFor: () => { asked = true; return KEY; } }))).toEqual({ verdict: 'spi-unknown', spi: 200 });
    expect(asked).toBe(false);
  });

  it('mismatch: another key, another care-of or home address, a short authenticator', () => {
    const m = signed([authOpt(SPI)]);
    expect(verifyMnHa(m, verifier({ keyFor: () => Buffer.alloc(16, 1) }))).toEqual({ verdict: 'mismatch', spi: SPI });
    expect(verifyMnHa(m, verifier({ careOf: '2001:db8:c0a::2' }))).toEqual({ verdict: 'mismatch', spi: SPI });
    expect(verifyMnHa(m, verifier({ home: HA }))).toEqual({ verdict: 'mismatch', spi: SPI });
    expect(verifyMnHa(mh(5, buBody(7), [authOpt(SPI, 1, 8)]), verifier())).toEqual({ verdict: 'mismatch', spi: SPI });
  });

  it('malformed: a truncated MH or an option running past it', () => {
    const m = signed([authOpt(SPI)]);
    const v = verifyMnHa(m.subarray(0, m.length - 8), verifier());
    expect(v.verdict).toBe('malformed');
    expect(v.verdict === 'malformed' && v.error).toBeInstanceOf(DecodeError);
    const overrun = Buffer.from(m); overrun[13] = 40; // the auth option's length
    expect(verifyMnHa(overrun, verifier()).verdict).toBe('malformed');
  });

  it('sign refuses reserved SPIs, another SPI, a missing option or a wrong-size authenticator', () => {
    const m = mh(5, buBody(7), [authOpt(SPI)]);
    expect(() => signMnHa(m, { key: KEY, spi: 255, careOf: COA, home: HOA })).toThrow(EncodeError);
    expect(() => signMnHa(m, { key: KEY, spi: SPI + 1, careOf: COA, home: HOA })).toThrow(/another SPI/);
    expect(() => signMnHa(mh(5, buBody(7), []), { key: KEY, spi: SPI, careOf: COA, home: HOA })).toThrow(/no MN-HA/);
    expect(() => signMnHa(mh(5, buBody(7), [authOpt(SPI, 1, 16)]), { key: KEY, spi: SPI, careOf: COA, home: HOA })).toThrow(EncodeError);
  });

  it('every byte of the signed region and of the authenticator counts; the checksum field does not', () => {
    const m = signed([nai('mn@example.net'), replay(0xe0000000_80000000n), authOpt(SPI)]);
    const authAt = m.indexOf(hex('0911'));
    const end = authAt + 7 + MN_HA_AUTHENTICATOR_LENGTH;
    for (let i = 0; i < end; i++) {
      for (const bit of [0x01, 0x80]) {
        const t = Buffer.from(m);
        t[i]! ^= bit;
        const v = verifyMnHa(t, verifier());
        if (i === 4 || i === 5) expect(v, `checksum byte ${i}`).toEqual({ verdict: 'ok', spi: SPI });
        else expect(v.verdict, `byte ${i} bit ${bit}`).not.toBe('ok');
      }
    }
  });
});

describe('properties', () => {
  const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatAddr(Buffer.from(b), 6));
  const arb = fc.record({
    key: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
    spi: fc.integer({ min: 256, max: 0xffffffff }),
    careOf: addr6,
    home: addr6,
    seq: fc.integer({ min: 0, max: 0xffff }),
    nai: fc.string({ minLength: 1, maxLength: 40 }).map((s) => Buffer.from(s).subarray(0, 200).toString('latin1')),
  });

  it('sign then verify is ok; any other key is a mismatch', () => {
    fc.assert(fc.property(arb, fc.uint8Array({ minLength: 1, maxLength: 64 }), (a, other) => {
      const m = signMnHa(mh(5, buBody(a.seq), [nai(a.nai), authOpt(a.spi)]), a);
      expect(verifyMnHa(m, { careOf: a.careOf, home: a.home, keyFor: (spi) => (spi === a.spi ? a.key : undefined) })).toEqual({ verdict: 'ok', spi: a.spi });
      fc.pre(!Buffer.from(other).equals(a.key));
      expect(verifyMnHa(m, { careOf: a.careOf, home: a.home, keyFor: () => Buffer.from(other) })).toEqual({ verdict: 'mismatch', spi: a.spi });
    }), { numRuns: 200 });
  });

  it('never throws on random bytes: every outcome is a verdict', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      const v = verifyMnHa(Buffer.from(b), verifier());
      expect(['ok', 'no-auth-option', 'not-last', 'spi-unknown', 'mismatch', 'malformed']).toContain(v.verdict);
    }), { numRuns: 1000 });
  });
});
