/**
 * Mobile IPv4 registration messages: exact bytes against the RFC layouts
 * (written out by hand here), tshark's "mip" dissector on our encodings,
 * scapy-built messages decoded by us, errors naming the field, and
 * fast-check round trips and fuzzing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAddr } from '../../control/dataplane/layout.js';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import {
  MIP4_PORT, Mip4ExtType, ReplyCode, UdpTunnelEncapsulation, Ipv6PrefixReplyCode, LIFETIME_INFINITE,
  authenticatedLength, decodeMip4, encodeMip4, findExtension, makeRegistrationReply, makeRegistrationRequest,
  mustRejectExtension, NO_REQUEST_FLAGS, type Mip4Extension, type Mip4Message, type RegistrationRequest,
} from '../../control/wire/mipv4/index.js';
import { corrupt } from '../helpers/corrupt.js';
import { udp4Frame } from '../helpers/ipv4-frame.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark, type TsharkLayers } from '../helpers/tshark.js';

process.env.TZ = 'UTC'; // tshark prints the Identification as an NTP timestamp in local time

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const AUTH_A = Buffer.alloc(16, 0xaa);
const AUTH_B = Buffer.alloc(16, 0xbb);
/** 2024-04-04T07:22:40Z as an NTP timestamp (seconds since 1900 in the high 32 bits). */
const IDENT = 0xe9b8d3c0_00000000n;

const request = makeRegistrationRequest({
  flags: { simultaneousBindings: true, gre: true, reverseTunneling: true },
  lifetime: 1800,
  homeAddress: '10.1.0.5',
  homeAgent: '10.1.0.1',
  careOfAddress: '192.0.2.7',
  identification: IDENT,
  extensions: [
    { type: 'nai', nai: 'mn1@example.net' },
    { type: 'udpTunnelRequest', subType: 0, force: true, faRegistrationRequired: false, encapsulation: UdpTunnelEncapsulation.ipInIp },
    { type: 'ipv6PrefixRequest', prefixLength: 64, prefix: '2001:db8:1::' },
    { type: 'ipv6TunnelingMode' },
    { type: 'mnHaAuth', spi: 256, authenticator: AUTH_A },
  ],
});

// RFC 5944 §3.3, RFC 2794, RFC 3519 §3.1, RFC 5454 §2.1/§2.3, RFC 5944 §3.5.2, field by field
const REQUEST_BYTES = hex(`
  01 8a 0708  0a010005  0a010001  c0000207  e9b8d3c0 00000000
  83 0f ${Buffer.from('mn1@example.net').toString('hex')}
  90 06 00 00 80 04 0000
  98 12 01 40 20010db8000100000000000000000000
  98 02 03 00
  20 14 00000100 ${AUTH_A.toString('hex')}`);

const reply = makeRegistrationReply({
  code: ReplyCode.accepted,
  lifetime: 1800,
  homeAddress: '10.1.0.5',
  homeAgent: '10.1.0.1',
  identification: IDENT + 1n,
  extensions: [
    { type: 'udpTunnelReply', subType: 0, code: 0, forced: true, keepaliveInterval: 110 },
    { type: 'ipv6PrefixReply', code: Ipv6PrefixReplyCode.acceptedTunnelToCareOfAddress, prefixLength: 64, prefix: '2001:db8:1::' },
    { type: 'mnHaAuth', spi: 256, authenticator: AUTH_B },
  ],
});

// RFC 5944 §3.4, RFC 3519 §3.2, RFC 5454 §2.2
const REPLY_BYTES = hex(`
  03 00 0708  0a010005  0a010001  e9b8d3c0 00000001
  2c 06 00 00 8000 006e
  98 13 02 01 40 20010db8000100000000000000000000
  20 14 00000100 ${AUTH_B.toString('hex')}`);

describe('Mobile IPv4 registration: bytes', () => {
  it('encodes a Registration Request field by field as RFC 5944 §3.3 and the extension RFCs draw it', () => {
    expect(encodeMip4(request).toString('hex')).toBe(REQUEST_BYTES.toString('hex'));
    expect(decodeMip4(REQUEST_BYTES)).toEqual(request);
  });

  it('encodes a Registration Reply field by field as RFC 5944 §3.4 draws it', () => {
    expect(encodeMip4(reply).toString('hex')).toBe(REPLY_BYTES.toString('hex'));
    expect(decodeMip4(REPLY_BYTES)).toEqual(reply);
  });

  it('reports where the MN-HA authenticated region ends: after the SPI (RFC 5944 §3.5.1)', () => {
    const end = authenticatedLength(request)!;
    expect(end).toBe(24 + 17 + 8 + 20 + 4 + 6);
    expect(REQUEST_BYTES.subarray(end - 6, end).toString('hex')).toBe('201400000100');
    expect(REQUEST_BYTES.subarray(end).equals(AUTH_A)).toBe(true);
    expect(authenticatedLength(reply)).toBe(20 + 8 + 21 + 6);
    expect(authenticatedLength(reply, 'faHaAuth')).toBeUndefined();
  });

  it('gives MN-FA and FA-HA regions their own ends, each covering everything before it', () => {
    const m = { ...request, extensions: [...request.extensions, { type: 'mnFaAuth', spi: 7, authenticator: Buffer.alloc(4, 1) }, { type: 'faHaAuth', spi: 9, authenticator: Buffer.alloc(16, 2) }] } as RegistrationRequest;
    const buf = encodeMip4(m);
    expect(authenticatedLength(m, 'mnFaAuth')).toBe(REQUEST_BYTES.length + 6);
    expect(authenticatedLength(m, 'faHaAuth')).toBe(REQUEST_BYTES.length + 10 + 6);
    expect(buf.readUInt32BE(REQUEST_BYTES.length + 10 + 2)).toBe(9);
  });

  it('finds extensions by kind', () => {
    expect(findExtension(request, 'nai')?.nai).toBe('mn1@example.net');
    expect(findExtension(reply, 'ipv6PrefixReply')?.code).toBe(1);
    expect(findExtension(reply, 'nai')).toBeUndefined();
  });

  it('skips and reports an unknown skippable extension (128–255)', () => {
    const buf = Buffer.concat([REPLY_BYTES.subarray(0, 20), hex('c8 03 010203'), REPLY_BYTES.subarray(20)]);
    const m = decodeMip4(buf);
    expect(m.extensions[0]).toEqual({ type: 'unknown', extType: 200, mustReject: false, data: hex('010203') });
    expect(m.extensions.slice(1)).toEqual(reply.extensions);
    expect(mustRejectExtension(m)).toBeUndefined();
    expect(authenticatedLength(m)).toBe(authenticatedLength(reply)! + 5);
  });

  it('flags an unknown non-skippable extension (0–127) as must-reject, taking the rest of the message', () => {
    const buf = Buffer.concat([REQUEST_BYTES.subarray(0, 24), hex('24 01 0016 00000100 abcd')]); // 36: RFC 3012 long format
    const m = decodeMip4(buf);
    expect(m.extensions).toEqual([{ type: 'unknown', extType: 36, mustReject: true, data: hex('01 0016 00000100 abcd') }]);
    expect(mustRejectExtension(m)).toBe(36);
    expect(encodeMip4(m).equals(buf)).toBe(true);
  });

  it('keeps an unknown dual-stack sub-type as an unknown skippable extension', () => {
    const buf = Buffer.concat([REPLY_BYTES.subarray(0, 20), hex('98 03 09 aabb')]);
    expect(decodeMip4(buf).extensions).toEqual([{ type: 'unknown', extType: 152, mustReject: false, data: hex('09aabb') }]);
    expect(encodeMip4(decodeMip4(buf)).equals(buf)).toBe(true);
  });

  it('reads the reserved r and x request bits and writes them as given', () => {
    const buf = Buffer.from(REQUEST_BYTES.subarray(0, 24));
    buf[1] = 0x05;
    const m = decodeMip4(buf) as RegistrationRequest;
    expect(m.flags).toEqual({ ...NO_REQUEST_FLAGS, reservedR: true, reservedX: true });
    expect(encodeMip4(m).equals(buf)).toBe(true);
  });

  it.each([
    ['an empty buffer', '', 'message type'],
    ['a Tunnel Data message (type 4)', '04000000', 'message type'],
    ['a request cut in the care-of address', REQUEST_BYTES.subarray(0, 14).toString('hex'), 'care-of address'],
    ['a reply cut in the identification', REPLY_BYTES.subarray(0, 19).toString('hex'), 'identification'],
    ['an extension running past the end', `${REPLY_BYTES.subarray(0, 20).toString('hex')}8310616263`, 'extension 131 data'],
    ['an extension with no length', `${REPLY_BYTES.subarray(0, 20).toString('hex')}83`, 'extension length'],
    ['a UDP Tunnel Request of length 5', `${REPLY_BYTES.subarray(0, 20).toString('hex')}9005000080040000`.slice(0, -2), 'extension 144 length'],
    ['an authentication extension shorter than its SPI', `${REPLY_BYTES.subarray(0, 20).toString('hex')}2003000001`, 'extension 32 length'],
    ['an IPv6 prefix length of 129', `${REPLY_BYTES.subarray(0, 20).toString('hex')}98120181${'00'.repeat(16)}`, 'IPv6 prefix length'],
    ['a prefix request of the reply\'s length', `${REPLY_BYTES.subarray(0, 20).toString('hex')}981301${'00'.repeat(18)}`, 'dual stack extension length'],
    ['an NAI that is not UTF-8', `${REPLY_BYTES.subarray(0, 20).toString('hex')}8302c328`, 'NAI'],
  ])('refuses %s with a DecodeError naming the field', (_name, bytes, fieldName) => {
    const buf = hex(bytes);
    expect(() => decodeMip4(buf)).toThrow(DecodeError);
    try {
      decodeMip4(buf);
    } catch (e) {
      expect((e as DecodeError).field).toBe(fieldName);
    }
  });

  it.each([
    ['a lifetime over 16 bits', { ...request, lifetime: 0x10000 }, 'lifetime'],
    ['a home address that is IPv6', { ...request, homeAddress: '2001:db8::1' }, 'homeAddress'],
    ['an identification over 64 bits', { ...request, identification: 1n << 64n }, 'identification'],
    ['an SPI over 32 bits', { ...request, extensions: [{ type: 'mnHaAuth', spi: 2 ** 32, authenticator: AUTH_A }] }, 'extensions[0].spi'],
    ['a prefix length of 129', { ...request, extensions: [{ type: 'ipv6PrefixRequest', prefixLength: 129, prefix: '::' }] }, 'extensions[0].prefixLength'],
    ['an NAI of 256 bytes', { ...request, extensions: [{ type: 'nai', nai: 'a'.repeat(256) }] }, 'extensions[0].nai'],
    ['an unknown non-skippable extension before another', { ...request, extensions: [{ type: 'unknown', extType: 40, mustReject: true, data: Buffer.alloc(2) }, { type: 'ipv6TunnelingMode' }] }, 'extensions[0]'],
    ['an "unknown" extension of a known type', { ...request, extensions: [{ type: 'unknown', extType: 131, mustReject: false, data: Buffer.alloc(2) }] }, 'extensions[0].extType'],
    ['a mustReject that contradicts the type', { ...request, extensions: [{ type: 'unknown', extType: 200, mustReject: true, data: Buffer.alloc(2) }] }, 'extensions[0].mustReject'],
  ] as [string, Mip4Message, string][])('refuses to encode %s with an EncodeError naming the field', (_name, m, fieldName) => {
    expect(() => encodeMip4(m)).toThrow(EncodeError);
    try {
      encodeMip4(m);
    } catch (e) {
      expect((e as EncodeError).field).toBe(fieldName);
    }
  });
});

/** The names tshark gives the extensions of a message, in order. */
function extensionNames(layers: TsharkLayers): string[] {
  const exts = (layers['mip'] as Record<string, unknown>)['Extensions'] as Record<string, unknown>;
  return Object.entries(exts).flatMap(([k, v]) => (Array.isArray(v) ? v.map(() => k) : [k]));
}

describe('Mobile IPv4 registration: tshark dissects our encodings', () => {
  const withFa = makeRegistrationRequest({
    ...request,
    flags: { broadcast: true, decapsulationByMobileNode: true, minimalEncapsulation: true },
    lifetime: LIFETIME_INFINITE,
    extensions: [
      { type: 'mnHaAuth', spi: 0x1234, authenticator: AUTH_A },
      { type: 'mnFaAuth', spi: 0x5678, authenticator: AUTH_B },
      { type: 'udpTunnelRequest', subType: 0, force: false, faRegistrationRequired: true, encapsulation: UdpTunnelEncapsulation.gre },
      { type: 'faHaAuth', spi: 0x9abc, authenticator: Buffer.alloc(16, 0xcc) },
    ],
  });
  const denied = makeRegistrationReply({ ...reply, code: ReplyCode.haUdpEncapsulationUnavailable, lifetime: 0, extensions: [
    { type: 'udpTunnelReply', subType: 0, code: 64, forced: false, keepaliveInterval: 0 },
    { type: 'ipv6PrefixReply', code: Ipv6PrefixReplyCode.administrativelyProhibited, prefixLength: 0, prefix: '::' },
  ] });
  const [rrq, rrp, fa, deny] = tshark([request, reply, withFa, denied].map((m, i) =>
    udp4Frame(i % 2 ? '10.1.0.1' : '192.0.2.7', i % 2 ? '192.0.2.7' : '10.1.0.1', MIP4_PORT, MIP4_PORT, encodeMip4(m))));
  const one = (l: TsharkLayers | undefined, f: string): string | undefined => field(l ?? {}, f)[0];

  it('sees the request header: type, every flag, lifetime, addresses, identification', () => {
    expect(one(rrq, 'mip.type')).toBe('1');
    expect(one(rrq, 'mip.flags')).toBe('0x8a');
    expect(['s', 'b', 'd', 'm', 'g', 'v', 't', 'x'].map((f) => one(rrq, `mip.${f}`))).toEqual(['1', '0', '0', '0', '1', '0', '1', '0']);
    expect(['b', 'd', 'm', 's', 'g', 't'].map((f) => one(fa, `mip.${f}`))).toEqual(['1', '1', '1', '0', '0', '0']);
    expect(one(rrq, 'mip.life')).toBe('1800');
    expect(one(fa, 'mip.life')).toBe('65535');
    expect([one(rrq, 'mip.homeaddr'), one(rrq, 'mip.haaddr'), one(rrq, 'mip.coa')]).toEqual(['10.1.0.5', '10.1.0.1', '192.0.2.7']);
    expect(one(rrq, 'mip.ident')).toBe('Apr  4, 2024 07:22:40.000000000 UTC');
  });

  it('sees the request extensions: NAI, UDP tunnel request, two Dual Stack (152) extensions, MN-HA', () => {
    expect(extensionNames(rrq!)).toEqual([
      'Extension: Mobile Node NAI Extension', 'Extension: UDP Tunnel Request Extension',
      'Extension: Dual Stack (DSMIPv4) Extension', 'Extension: Dual Stack (DSMIPv4) Extension',
      'Extension: Mobile-Home Authentication Extension',
    ]);
    expect(field(rrq!, 'mip.ext.type')).toEqual(['131', '144', '152', '152', '32']);
    expect(field(rrq!, 'mip.ext.len')).toEqual(['15', '6', '18', '2', '20']);
    expect(one(rrq, 'mip.nai')).toBe('mn1@example.net');
    expect([one(rrq, 'mip.ext.utrq.subtype'), one(rrq, 'mip.ext.utrq.f'), one(rrq, 'mip.ext.utrq.r'), one(rrq, 'mip.ext.utrq.encaptype')]).toEqual(['0', '1', '0', '4']);
    // tshark 4.0 names type 152 but does not dissect its sub-types: the raw value is sub-type, prefix length, prefix
    expect(field(rrq!, 'mip.extension')).toEqual(['01:40:20:01:0d:b8:00:01' + ':00'.repeat(10), '03:00']);
    expect(one(rrq, 'mip.auth.spi')).toBe('0x00000100');
    expect(one(rrq, 'mip.auth.auth')).toBe(Array(16).fill('aa').join(':'));
  });

  it('sees all three authentication extensions and the R flag of a tunnel request', () => {
    expect(field(fa!, 'mip.ext.type')).toEqual(['32', '33', '144', '34']);
    expect(field(fa!, 'mip.auth.spi')).toEqual(['0x00001234', '0x00005678', '0x00009abc']);
    expect([one(fa, 'mip.ext.utrq.f'), one(fa, 'mip.ext.utrq.r'), one(fa, 'mip.ext.utrq.encaptype')]).toEqual(['0', '1', '47']);
  });

  it('sees the reply: code, lifetime, UDP tunnel reply, Dual Stack prefix reply, MN-HA', () => {
    expect([one(rrp, 'mip.type'), one(rrp, 'mip.code'), one(rrp, 'mip.life')]).toEqual(['3', '0', '1800']);
    expect(one(rrp, 'mip.ident')).toBe('Apr  4, 2024 07:22:40.000000000 UTC'); // + 2^-32 s
    expect(field(rrp!, 'mip.ext.type')).toEqual(['44', '152', '32']);
    expect([one(rrp, 'mip.ext.utrp.code'), one(rrp, 'mip.ext.utrp.f'), one(rrp, 'mip.ext.utrp.keepalive')]).toEqual(['0', '1', '110']);
    expect(one(rrp, 'mip.extension')).toBe('02:01:40:20:01:0d:b8:00:01' + ':00'.repeat(10));
    expect([one(deny, 'mip.code'), one(deny, 'mip.life'), one(deny, 'mip.ext.utrp.code'), one(deny, 'mip.ext.utrp.f')]).toEqual(['142', '0', '64', '0']);
  });
});

describe('Mobile IPv4 registration: scapy-built messages', () => {
  const built = scapy({
    rrq: `UDP(sport=434, dport=434)/MobileIP(type=1)/MobileIPRRQ(flags=0x8a, lifetime=1800, homeaddr='10.1.0.5', haaddr='10.1.0.1', coaddr='192.0.2.7', id=${IDENT})`,
    rrp: `UDP(sport=434, dport=434)/MobileIP(type=3)/MobileIPRRP(code=133, lifetime=0, homeaddr='10.1.0.9', haaddr='10.1.0.1', id=12345)/Raw(bytes.fromhex('2014000001000102030405060708090a0b0c0d0e0f10'))`,
  });

  it('decodes scapy\'s request to the expected values, and its fixed part is our bytes', () => {
    const payload = built.rrq.subarray(8);
    expect(decodeMip4(payload)).toEqual({ ...request, extensions: [] });
    expect(encodeMip4({ ...request, extensions: [] }).equals(payload)).toBe(true);
  });

  it('decodes scapy\'s reply with a raw MN-HA extension, and re-encodes it byte for byte', () => {
    const payload = built.rrp.subarray(8);
    const m = decodeMip4(payload);
    expect(m).toEqual(makeRegistrationReply({
      code: ReplyCode.haIdentificationMismatch, lifetime: 0, homeAddress: '10.1.0.9', homeAgent: '10.1.0.1', identification: 12345n,
      extensions: [{ type: 'mnHaAuth', spi: 256, authenticator: hex('0102030405060708090a0b0c0d0e0f10') }],
    }));
    expect(authenticatedLength(m)).toBe(26);
    expect(encodeMip4(m).equals(payload)).toBe(true);
  });
});

/* ---- properties ---- */

const addr4 = fc.ipV4();
const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatAddr(Buffer.from(b), 6));
const buf = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });

const extension: fc.Arbitrary<Mip4Extension> = fc.oneof(
  fc.record({ type: fc.constantFrom('mnHaAuth', 'mnFaAuth', 'faHaAuth'), spi: fc.integer({ min: 0, max: 2 ** 32 - 1 }), authenticator: buf(40) }),
  fc.record({ type: fc.constant('nai'), nai: fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => Buffer.byteLength(s) <= 255) }),
  fc.record({ type: fc.constant('udpTunnelRequest'), subType: u8, force: fc.boolean(), faRegistrationRequired: fc.boolean(), encapsulation: u8 }),
  fc.record({ type: fc.constant('udpTunnelReply'), subType: u8, code: u8, forced: fc.boolean(), keepaliveInterval: u16 }),
  fc.record({ type: fc.constant('ipv6PrefixRequest'), prefixLength: fc.integer({ min: 0, max: 128 }), prefix: addr6 }),
  fc.record({ type: fc.constant('ipv6PrefixReply'), code: u8, prefixLength: fc.integer({ min: 0, max: 128 }), prefix: addr6 }),
  fc.constant({ type: 'ipv6TunnelingMode' as const }),
  fc.record({
    type: fc.constant('unknown'),
    extType: fc.integer({ min: 128, max: 255 }).filter((t) => t !== Mip4ExtType.nai && t !== Mip4ExtType.udpTunnelRequest && t !== Mip4ExtType.dualStack),
    mustReject: fc.constant(false),
    data: buf(40),
  }),
  fc.record({ // a Dual Stack extension of a sub-type RFC 5454 does not define
    type: fc.constant('unknown'), extType: fc.constant(Mip4ExtType.dualStack), mustReject: fc.constant(false),
    data: fc.tuple(fc.integer({ min: 0, max: 255 }).filter((s) => s < 1 || s > 3), buf(30)).map(([s, d]) => Buffer.concat([Buffer.from([s]), d])),
  }),
);

const nonSkippableTail = fc.option(fc.record({
  type: fc.constant('unknown' as const),
  extType: fc.integer({ min: 0, max: 127 }).filter((t) => ![32, 33, 34, 44].includes(t)),
  mustReject: fc.constant(true),
  data: buf(30),
}), { nil: undefined });

const extensions = fc.tuple(fc.array(extension, { maxLength: 6 }), nonSkippableTail).map(([l, t]) => (t ? [...l, t] : l));
const ident = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const message: fc.Arbitrary<Mip4Message> = fc.oneof(
  fc.record({
    type: fc.constant('registrationRequest' as const),
    flags: fc.record({
      simultaneousBindings: fc.boolean(), broadcast: fc.boolean(), decapsulationByMobileNode: fc.boolean(), minimalEncapsulation: fc.boolean(),
      gre: fc.boolean(), reservedR: fc.boolean(), reverseTunneling: fc.boolean(), reservedX: fc.boolean(),
    }),
    lifetime: u16, homeAddress: addr4, homeAgent: addr4, careOfAddress: addr4, identification: ident, extensions,
  }),
  fc.record({
    type: fc.constant('registrationReply' as const),
    code: u8, lifetime: u16, homeAddress: addr4, homeAgent: addr4, identification: ident, extensions,
  }),
);

describe('Mobile IPv4 registration: properties', () => {
  it('decode(encode(m)) equals m for every message and extension kind', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeMip4(encodeMip4(m))).toEqual(m);
    }), { numRuns: 2000 });
  });

  it('the authenticated region ends right after the MN-HA SPI, wherever the extension is', () => {
    fc.assert(fc.property(message, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (m, pos, spi) => {
      const list = m.extensions.filter((e) => e.type !== 'mnHaAuth' && !(e.type === 'unknown' && e.mustReject));
      const at = Math.min(pos, list.length);
      const withAuth = { ...m, extensions: [...list.slice(0, at), { type: 'mnHaAuth' as const, spi, authenticator: AUTH_A }, ...list.slice(at)] };
      const bytes = encodeMip4(withAuth);
      const end = authenticatedLength(decodeMip4(bytes))!;
      expect(bytes[end - 6]).toBe(Mip4ExtType.mnHaAuth);
      expect(bytes.readUInt32BE(end - 4)).toBe(spi);
      expect(bytes.subarray(end, end + 16).equals(AUTH_A)).toBe(true);
    }), { numRuns: 500 });
  });

  const onlyDecodeErrors = (bytes: Uint8Array): void => {
    const b = Buffer.from(bytes);
    try {
      const m = decodeMip4(b);
      expect(encodeMip4(m).length).toBe(b.length); // whatever decodes is length-faithful
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  };

  it('random bytes only ever throw DecodeError, quickly', () => {
    const t0 = performance.now();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), onlyDecodeErrors), { numRuns: 5000 });
    fc.assert(fc.property(fc.constantFrom(1, 3), fc.uint8Array({ maxLength: 120 }), (t, rest) => onlyDecodeErrors(Buffer.from([t, ...rest]))), { numRuns: 5000 });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('mutated valid messages only ever throw DecodeError, quickly', () => {
    const t0 = performance.now();
    fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), u8), { minLength: 1, maxLength: 4 }), fc.nat(), (m, flips, cut) => {
      const b = Buffer.from(encodeMip4(m));
      for (const [i, v] of flips) b[i % b.length] = v;
      onlyDecodeErrors(b.subarray(0, b.length - (cut % 4)));
    }), { numRuns: 3000 });
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('Mobile IPv4 registration: encoder input', () => {
  it('any field replaced by junk gives an EncodeError (or a valid encoding), never another error', () => {
    fc.assert(fc.property(message, fc.anything({ withBigInt: true, withNullPrototype: true }), fc.nat(), (m, junk, pick) => {
      try {
        decodeMip4(encodeMip4(corrupt(m, junk, pick)));
      } catch (e) {
        if (!(e instanceof EncodeError)) throw e;
      }
    }), { numRuns: 3000 });
  });
});
