/**
 * Agent Advertisements (ICMP Router Advertisement + Mobility Agent
 * Advertisement extension): exact bytes, tshark's icmp.mip fields, scapy's
 * ICMP checksum, errors naming the field, fast-check round trips and fuzzing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import {
  AgentAdvFlag, NO_AGENT_FLAGS, RouterAdvertisementCode, decodeAgentAdvertisement, encodeAgentAdvertisement,
  makeAgentAdvertisement, mobilityAgentExtension, type AgentAdvExtension, type AgentAdvertisement,
} from '../../control/wire/mipv4/index.js';
import { corrupt } from '../helpers/corrupt.js';
import { icmp4Frame } from '../helpers/ipv4-frame.js';
import { scapy } from '../helpers/scapy.js';
import { field, tshark, type TsharkLayers } from '../helpers/tshark.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const adv = makeAgentAdvertisement({
  code: RouterAdvertisementCode.mobilityOnly,
  lifetime: 1800,
  routers: [{ address: '10.1.0.1', preference: 0 }, { address: '10.1.0.2', preference: -(2 ** 31) }],
  sequence: 7,
  registrationLifetime: 600,
  flags: { homeAgent: true, foreignAgent: true, reverseTunneling: true, udpTunneling: true, ipv6: true },
  careOfAddresses: ['192.0.2.1', '192.0.2.2'],
  prefixLengths: [24, 16],
});

// RFC 1256 §3 router advertisement, RFC 5944 §2.1.1 (flags H F T U and A = 0x2000|0x1000|0x0100|0x0080|0x0010), §2.1.2
const BODY = `
  02 02 0708  0a010001 00000000  0a010002 80000000
  10 0e 0007 0258 3190 c0000201 c0000202
  13 02 18 10`;

describe('agent advertisement: bytes', () => {
  it('encodes the router advertisement, mobility agent and prefix-lengths extensions as RFC 1256 and RFC 5944 §2.1 draw them', () => {
    const buf = encodeAgentAdvertisement(adv);
    expect(buf.subarray(0, 2).toString('hex')).toBe('0910');
    expect(buf.subarray(4).toString('hex')).toBe(hex(BODY).toString('hex'));
    expect(decodeAgentAdvertisement(buf)).toEqual(adv);
  });

  it('computes the ICMP checksum as scapy does, and reports a wrong one without refusing the message', () => {
    const body = hex(BODY);
    const { s } = scapy({ s: `ICMP(type=9, code=16, unused=0x${body.subarray(0, 4).toString('hex')})/Raw(bytes.fromhex('${body.subarray(4).toString('hex')}'))` });
    const ours = encodeAgentAdvertisement(adv);
    expect(ours.toString('hex')).toBe(s!.toString('hex'));
    const bad = Buffer.from(ours);
    bad[2]! ^= 0x01;
    expect(decodeAgentAdvertisement(bad)).toEqual({ ...adv, checksumOk: false });
  });

  it('places the dual-stack A flag in the first reserved bit, 0x0010, after I (0x0020)', () => {
    expect(AgentAdvFlag.ipv6).toBe(0x0010);
    expect(AgentAdvFlag.regionalRegistration).toBe(0x0020);
    const withI = makeAgentAdvertisement({ lifetime: 0, sequence: 0, registrationLifetime: 0, flags: { regionalRegistration: true } });
    expect(encodeAgentAdvertisement(withI).readUInt16BE(8 + 6)).toBe(0x0020);
  });

  it('keeps one-byte pads and unknown extensions in order; unknown 0–127 are marked must-reject', () => {
    const buf = Buffer.concat([encodeAgentAdvertisement(adv), hex('00 18 02 abcd 00 c8 01 ff')]); // pad, challenge (24), pad, 200
    buf.writeUInt16BE(0, 2);
    const m = decodeAgentAdvertisement(buf);
    expect(m.checksumOk).toBe(false);
    expect(m.extensions.slice(2)).toEqual([
      { type: 'pad' },
      { type: 'unknown', extType: 24, mustReject: true, data: hex('abcd') },
      { type: 'pad' },
      { type: 'unknown', extType: 200, mustReject: false, data: hex('ff') },
    ]);
    const again = encodeAgentAdvertisement(m);
    expect(again.subarray(4).equals(buf.subarray(4))).toBe(true);
    expect(decodeAgentAdvertisement(again).checksumOk).toBe(true);
  });

  it('decodes a router advertisement of no routers with only the mobility extension', () => {
    const m = makeAgentAdvertisement({ lifetime: 9000, sequence: 0xffff, registrationLifetime: 0xffff, flags: { homeAgent: true } });
    const buf = encodeAgentAdvertisement(m);
    expect(buf.length).toBe(8 + 8);
    expect(mobilityAgentExtension(decodeAgentAdvertisement(buf))).toEqual({
      type: 'mobilityAgent', sequence: 0xffff, registrationLifetime: 0xffff, flags: { ...NO_AGENT_FLAGS, homeAgent: true }, careOfAddresses: [],
    });
  });

  it.each([
    ['an echo request', '0800f7ff00000000', 'ICMP type'],
    ['an address entry size of 3', '0900000001030708', 'address entry size'],
    ['a router list cut short', '09000000020207080a010001', 'preference level 0'],
    ['a mobility extension of length 7', '0900000000020708 1007 000702583190 00', 'mobility agent extension length'],
    ['a mobility extension running past the end', '0900000000020708 100a 000702583190', 'extension 16 data'],
    ['a prefix length of 33', '0900000001020708 0a010001 00000000 1301 21', 'prefix length 0'],
  ])('refuses %s with a DecodeError naming the field', (_name, bytes, fieldName) => {
    const buf = hex(bytes);
    expect(() => decodeAgentAdvertisement(buf)).toThrow(DecodeError);
    try {
      decodeAgentAdvertisement(buf);
    } catch (e) {
      expect((e as DecodeError).field).toBe(fieldName);
    }
  });

  it.each([
    ['63 care-of addresses', { ...adv, extensions: [{ ...mobilityAgentExtension(adv)!, careOfAddresses: Array(63).fill('192.0.2.1') }] }, 'extensions[0].careOfAddresses'],
    ['a preference beyond 32 bits', { ...adv, routers: [{ address: '10.0.0.1', preference: 2 ** 31 }] }, 'routers[0].preference'],
    ['a sequence number over 16 bits', { ...adv, extensions: [{ ...mobilityAgentExtension(adv)!, sequence: 65536 }] }, 'extensions[0].sequence'],
    ['an IPv6 care-of address', { ...adv, extensions: [{ ...mobilityAgentExtension(adv)!, careOfAddresses: ['2001:db8::1'] }] }, 'extensions[0].careOfAddresses[0]'],
  ] as [string, AgentAdvertisement, string][])('refuses to encode %s with an EncodeError naming the field', (_name, m, fieldName) => {
    expect(() => encodeAgentAdvertisement(m)).toThrow(EncodeError);
    try {
      encodeAgentAdvertisement(m);
    } catch (e) {
      expect((e as EncodeError).field).toBe(fieldName);
    }
  });
});

describe('agent advertisement: tshark dissects our encodings', () => {
  const all = makeAgentAdvertisement({
    lifetime: 60, sequence: 1, registrationLifetime: 30,
    flags: { registrationRequired: true, busy: true, minimalEncapsulation: true, gre: true, reservedR: true, revocation: true, regionalRegistration: true },
    careOfAddresses: ['198.51.100.1'],
  });
  const [a, b] = tshark([icmp4Frame('10.1.0.1', '224.0.0.1', encodeAgentAdvertisement(adv)), icmp4Frame('10.1.0.1', '224.0.0.1', encodeAgentAdvertisement(all))]);
  const one = (l: TsharkLayers | undefined, f: string): string | undefined => field(l ?? {}, f)[0];
  const flags = (l: TsharkLayers | undefined): string[] => ['r', 'b', 'h', 'f', 'm', 'g', 'v', 'rt', 'u', 'x'].map((f) => one(l, `icmp.mip.${f}`) ?? '?');

  it('sees the router advertisement: type, code, good checksum, routers and preferences', () => {
    expect([one(a, 'icmp.type'), one(a, 'icmp.code'), one(a, 'icmp.checksum.status')]).toEqual(['9', '16', '1']);
    expect([one(a, 'icmp.num_addrs'), one(a, 'icmp.addr_entry_size'), one(a, 'icmp.lifetime')]).toEqual(['2', '2', '1800']);
    expect(field(a!, 'icmp.router_address')).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(field(a!, 'icmp.pref_level')).toEqual(['0', '-2147483648']);
  });

  it('sees the mobility agent extension: sequence, registration lifetime, each flag, care-of addresses', () => {
    expect(field(a!, 'icmp.mip.type')).toEqual(['16', '19']);
    expect(field(a!, 'icmp.mip.length')).toEqual(['14', '2']);
    expect([one(a, 'icmp.mip.seq'), one(a, 'icmp.mip.life'), one(a, 'icmp.mip.flags')]).toEqual(['7', '600', '0x3190']);
    expect(flags(a)).toEqual(['0', '0', '1', '1', '0', '0', '0', '1', '1', '0']);
    // tshark 4.0 knows no I flag: I (0x20) and our A (0x10) are both inside its "reserved" (0x3f)
    expect(one(a, 'icmp.mip.reserved')).toBe('0x0010');
    expect(field(a!, 'icmp.mip.coa')).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(field(a!, 'icmp.mip.prefixlength')).toEqual(['24', '16']);
    expect(flags(b)).toEqual(['1', '1', '0', '0', '1', '1', '1', '0', '0', '1']);
    expect(one(b, 'icmp.mip.reserved')).toBe('0x0020');
  });
});

/* ---- properties ---- */

const flagRecord = fc.record(Object.fromEntries(Object.keys(AgentAdvFlag).map((k) => [k, fc.boolean()])) as Record<keyof typeof AgentAdvFlag, fc.Arbitrary<boolean>>);
const ext: fc.Arbitrary<AgentAdvExtension> = fc.oneof(
  fc.record({
    type: fc.constant('mobilityAgent' as const), sequence: fc.integer({ min: 0, max: 0xffff }), registrationLifetime: fc.integer({ min: 0, max: 0xffff }),
    flags: flagRecord, careOfAddresses: fc.array(fc.ipV4(), { maxLength: 62 }),
  }),
  fc.record({ type: fc.constant('prefixLengths' as const), prefixLengths: fc.array(fc.integer({ min: 0, max: 32 }), { maxLength: 255 }) }),
  fc.constant({ type: 'pad' as const }),
  fc.integer({ min: 1, max: 255 }).filter((t) => t !== 16 && t !== 19).chain((t) => fc.record({
    type: fc.constant('unknown' as const), extType: fc.constant(t), mustReject: fc.constant(t < 128),
    data: fc.uint8Array({ maxLength: 255 }).map((d) => Buffer.from(d)),
  })),
);
const message: fc.Arbitrary<AgentAdvertisement> = fc.record({
  type: fc.constant('agentAdvertisement' as const),
  code: fc.integer({ min: 0, max: 255 }),
  lifetime: fc.integer({ min: 0, max: 0xffff }),
  routers: fc.array(fc.record({ address: fc.ipV4(), preference: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }), { maxLength: 8 }),
  extensions: fc.array(ext, { maxLength: 5 }),
  checksumOk: fc.constant(true),
});

describe('agent advertisement: properties', () => {
  it('decode(encode(m)) equals m, with a good checksum, for every extension kind', () => {
    fc.assert(fc.property(message, (m) => {
      expect(decodeAgentAdvertisement(encodeAgentAdvertisement(m))).toEqual(m);
    }), { numRuns: 1000 });
  });

  const onlyDecodeErrors = (b: Buffer): void => {
    try {
      decodeAgentAdvertisement(b);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  };

  it('random and mutated bytes only ever throw DecodeError, quickly', () => {
    const t0 = performance.now();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyDecodeErrors(Buffer.from([9, ...b]))), { numRuns: 5000 });
    fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (m, flips, cut) => {
      const b = Buffer.from(encodeAgentAdvertisement(m));
      for (const [i, v] of flips) b[i % b.length] = v;
      onlyDecodeErrors(b.subarray(0, b.length - (cut % 4)));
    }), { numRuns: 3000 });
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('agent advertisement: encoder input', () => {
  it('any field replaced by junk gives an EncodeError (or a valid encoding), never another error', () => {
    fc.assert(fc.property(message, fc.anything({ withBigInt: true, withNullPrototype: true }), fc.nat(), (m, junk, pick) => {
      try {
        decodeAgentAdvertisement(encodeAgentAdvertisement(corrupt(m, junk, pick)));
      } catch (e) {
        if (!(e instanceof EncodeError)) throw e;
      }
    }), { numRuns: 3000 });
  });
});
