/**
 * Mobile IPv4 authentication extensions (RFC 5944 §3.5): HMAC-MD5 known
 * answers (RFC 2202 / RFC 2104), authenticators computed independently in
 * Python over a Registration Request, tshark's view of the signed message,
 * every verdict, and tampering with any signed byte.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import { hmacMd5, keyedMd5PrefixSuffix } from '../../control/wire/auth/crypto.js';
import { type Mip4Verifier, mip4Authenticator, signMip4, verifyMip4 } from '../../control/wire/auth/mipv4.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark } from '../helpers/tshark.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const repeat = (byte: number, n: number) => Buffer.alloc(n, byte);

// RFC 2202 §2, test cases 1–7 for HMAC-MD5 (1–3 are also RFC 2104's appendix)
const MD5_VECTORS: { key: Buffer; data: Buffer; digest: string }[] = [
  { key: repeat(0x0b, 16), data: Buffer.from('Hi There'), digest: '9294727a3638bb1c13f48ef8158bfc9d' },
  { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), digest: '750c783e6ab0b503eaa86e310a5db738' },
  { key: repeat(0xaa, 16), data: repeat(0xdd, 50), digest: '56be34521d144c88dbb8c733f0e8b3f6' },
  { key: hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), data: repeat(0xcd, 50), digest: '697eaf0aca3a3aea3a75164746ffaa79' },
  { key: repeat(0x0c, 16), data: Buffer.from('Test With Truncation'), digest: '56461ef2342edc00f9bab995690efd4c' },
  { key: repeat(0xaa, 80), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), digest: '6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd' },
  { key: repeat(0xaa, 80), data: Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'), digest: '6f630fad67cda0ee1fb1f562db3aa53e' },
];

describe('HMAC-MD5 (RFC 2202, RFC 2104)', () => {
  it('gives the RFC digests, directly and as the Mobile IPv4 authenticator', () => {
    for (const v of MD5_VECTORS) {
      expect(hmacMd5(v.key, v.data).toString('hex')).toBe(v.digest);
      expect(mip4Authenticator(v.key, v.data, 'hmac-md5').toString('hex')).toBe(v.digest);
    }
  });
});

const KEY = hex('f00dfeedf00dfeedf00dfeedf00dfeed');
const FA_KEY = hex('0123456789abcdef');
const SPI = 0x100;

const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const ext = (type: number, data: Buffer) => Buffer.concat([Buffer.from([type, data.length]), data]);
const authExt = (type: number, spi: number, n = 16) => ext(type, Buffer.concat([u32(spi), Buffer.alloc(n)]));
const nai = ext(131, Buffer.from('mn@example.net'));
// Registration Request: type 1, T flag, lifetime 1800, home 10.0.0.5, HA 10.0.0.1, CoA 192.0.2.1, identification
const RRQ = hex('01020708' + '0a000005' + '0a000001' + 'c0000201' + 'e6f0a1b200000001');
// Registration Reply: type 3, code 0, lifetime 1800, home, HA, identification
const RRP = hex('03000708' + '0a000005' + '0a000001' + 'e6f0a1b200000001');
const request = (...exts: Buffer[]) => Buffer.concat([RRQ, ...exts]);

const verifier = (over: Partial<Mip4Verifier> = {}): Mip4Verifier => ({ keyFor: (spi) => (spi === SPI ? { key: KEY } : undefined), ...over });

describe('a Registration Request signed here, checked against Python and tshark', () => {
  const msg = request(nai, authExt(32, SPI));
  const signedLength = 24 + nai.length + 6;
  let py: Record<string, Buffer>;
  beforeAll(() => {
    const signed = `bytes.fromhex('${msg.subarray(0, signedLength).toString('hex')}')`;
    py = scapy({
      hmac: `__import__('hmac').new(bytes.fromhex('${KEY.toString('hex')}'), ${signed}, 'md5').digest()`,
      prefixSuffix: `__import__('hashlib').md5(bytes.fromhex('${KEY.toString('hex')}') + ${signed} + bytes.fromhex('${KEY.toString('hex')}')).digest()`,
    });
  });

  it('HMAC-MD5 over the fixed part, the NAI extension and Type, Length, SPI (RFC 5944 §3.5.1)', () => {
    const m = signMip4(Buffer.from(msg), { key: KEY, spi: SPI });
    expect(m.subarray(signedLength)).toEqual(py.hmac);
    expect(m.subarray(0, signedLength)).toEqual(msg.subarray(0, signedLength));
    expect(verifyMip4(m, verifier())).toEqual({ verdict: 'ok', spi: SPI });
  });

  it('keyed MD5 prefix+suffix when asked', () => {
    const m = signMip4(Buffer.from(msg), { key: KEY, spi: SPI, mode: 'prefix-suffix-md5' });
    expect(m.subarray(signedLength)).toEqual(py.prefixSuffix);
    expect(keyedMd5PrefixSuffix(KEY, msg.subarray(0, signedLength))).toEqual(py.prefixSuffix);
    expect(verifyMip4(m, verifier({ keyFor: () => ({ key: KEY, mode: 'prefix-suffix-md5' }) }))).toEqual({ verdict: 'ok', spi: SPI });
    expect(verifyMip4(m, verifier())).toEqual({ verdict: 'mismatch', spi: SPI }); // checked as HMAC-MD5
  });

  it('tshark finds the SPI and authenticator where we put them', () => {
    const m = signMip4(Buffer.from(msg), { key: KEY, spi: SPI });
    const { packet } = scapy({ packet: `IP(src='192.0.2.1', dst='10.0.0.1')/UDP(sport=434, dport=434)/Raw(bytes.fromhex('${m.toString('hex')}'))` });
    const [layers] = tshark([packet!], { linktype: 101 });
    expect(field(layers!, 'mip.type')).toEqual(['1']);
    expect(field(layers!, 'mip.ext.type')).toEqual(['131', '32']);
    expect(field(layers!, 'mip.nai')).toEqual(['mn@example.net']);
    expect(Number(field(layers!, 'mip.auth.spi')[0])).toBe(SPI);
    expect(field(layers!, 'mip.auth.auth')[0]!.replaceAll(':', '')).toBe(py.hmac!.toString('hex'));
  });
});

describe('verdicts', () => {
  const signed = () => signMip4(request(nai, authExt(32, SPI)), { key: KEY, spi: SPI });

  it('ok for a Reply too', () => {
    const reply = signMip4(Buffer.concat([RRP, authExt(32, SPI)]), { key: KEY, spi: SPI });
    expect(reply.subarray(26)).toEqual(hmacMd5(KEY, reply.subarray(0, 26)));
    expect(verifyMip4(reply, verifier())).toEqual({ verdict: 'ok', spi: SPI });
  });

  it('no-auth-extension, spi-unknown, mismatch, malformed', () => {
    expect(verifyMip4(request(nai), verifier())).toEqual({ verdict: 'no-auth-extension' });
    expect(verifyMip4(signed(), verifier({ keyFor: () => undefined }))).toEqual({ verdict: 'spi-unknown', spi: SPI });
    expect(verifyMip4(signed(), verifier({ keyFor: () => ({ key: FA_KEY }) }))).toEqual({ verdict: 'mismatch', spi: SPI });
    expect(verifyMip4(request(nai, authExt(32, SPI, 12)), verifier())).toEqual({ verdict: 'mismatch', spi: SPI });
    const truncated = verifyMip4(signed().subarray(0, 50), verifier());
    expect(truncated.verdict).toBe('malformed');
    expect(truncated.verdict === 'malformed' && truncated.error).toBeInstanceOf(DecodeError);
    expect(verifyMip4(Buffer.from([2, 0, 0]), verifier()).verdict).toBe('malformed');
  });

  it('an MN-FA extension after the MN-HA one covers it (RFC 5944 §3.5.1: all prior extensions)', () => {
    const m = request(nai, authExt(32, SPI), authExt(33, 0x200));
    signMip4(m, { key: KEY, spi: SPI });
    signMip4(m, { key: FA_KEY, spi: 0x200, extension: 'mnFaAuth' });
    const fa: Mip4Verifier = { keyFor: (spi) => (spi === 0x200 ? { key: FA_KEY } : undefined), extension: 'mnFaAuth' };
    expect(verifyMip4(m, verifier())).toEqual({ verdict: 'ok', spi: SPI });
    expect(verifyMip4(m, fa)).toEqual({ verdict: 'ok', spi: 0x200 });
    m[m.length - 30]! ^= 1; // inside the MN-HA authenticator
    expect(verifyMip4(m, verifier())).toEqual({ verdict: 'mismatch', spi: SPI });
    expect(verifyMip4(m, fa)).toEqual({ verdict: 'mismatch', spi: 0x200 });
  });

  it('sign refuses another SPI, a wrong-size authenticator, a missing extension', () => {
    expect(() => signMip4(request(authExt(32, SPI)), { key: KEY, spi: SPI + 1 })).toThrow(/another SPI/);
    expect(() => signMip4(request(authExt(32, SPI, 20)), { key: KEY, spi: SPI })).toThrow(EncodeError);
    expect(() => signMip4(request(nai), { key: KEY, spi: SPI })).toThrow(/no such extension/);
  });

  it('every signed byte and every authenticator byte counts', () => {
    const m = signed();
    for (let i = 0; i < m.length; i++) {
      const t = Buffer.from(m);
      t[i]! ^= 0x10;
      expect(verifyMip4(t, verifier()).verdict, `byte ${i}`).not.toBe('ok');
    }
  });
});

describe('properties', () => {
  it('sign then verify is ok, in both modes; random bytes give a verdict, never an exception', () => {
    const arb = fc.record({
      key: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
      spi: fc.integer({ min: 0, max: 0xffffffff }),
      nai: fc.stringMatching(/^[a-z0-9.@-]{1,60}$/),
      mode: fc.constantFrom('hmac-md5' as const, 'prefix-suffix-md5' as const),
    });
    fc.assert(fc.property(arb, (a) => {
      const m = signMip4(request(ext(131, Buffer.from(a.nai)), authExt(32, a.spi)), a);
      expect(verifyMip4(m, { keyFor: (spi) => (spi === a.spi ? { key: a.key, mode: a.mode } : undefined) })).toEqual({ verdict: 'ok', spi: a.spi });
    }), { numRuns: 200 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      expect(['ok', 'no-auth-extension', 'spi-unknown', 'mismatch', 'malformed']).toContain(verifyMip4(Buffer.from(b), verifier()).verdict);
    }), { numRuns: 1000 });
  });
});
