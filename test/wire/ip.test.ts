/**
 * IPv6, Destination Options, type 2 routing, IPv4 and UDP headers: scapy
 * builds them, we decode them to the values scapy was given, and our
 * encoding of those values is byte-for-byte scapy's. Then errors that name
 * the field, round trips, and random bytes that may only raise DecodeError.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatAddr } from '../../control/dataplane/layout.js';
import { type Codec, DecodeError, EncodeError, decode, encode } from '../../control/wire/buffer.js';
import { type Ipv4Header, type UdpHeader, ipv4Header, udpHeader } from '../../control/wire/ip/ipv4.js';
import {
  type DestOption, type DestOptsHeader, type Ipv6Header, type RoutingHeader2,
  destOptsHeader, ipv6Header, optionAction, routingHeader2,
} from '../../control/wire/ip/ipv6.js';
import { scapy } from '../helpers/scapy.js';

const INET = "__import__('scapy.layers.inet', fromlist=['*'])";
const INET6 = "__import__('scapy.layers.inet6', fromlist=['*'])";
const COA = '2001:db8:c0a::1';
const HA = '2001:db8:a::1';
const HOA = '2001:db8:b::5';

function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
  throw new Error('no DecodeError');
}

function encodeError(f: () => unknown): EncodeError {
  try {
    f();
  } catch (err) {
    if (err instanceof EncodeError) return err;
    throw err;
  }
  throw new Error('no EncodeError');
}

describe('headers built by scapy', () => {
  let s: Record<string, Buffer>;
  beforeAll(() => {
    s = scapy({
      ipv6: `IPv6(src='${COA}', dst='${HA}', tc=0xb8, fl=0xabcde, hlim=33, nh=135, plen=1234)`,
      hao: `IPv6ExtHdrDestOpt(nh=135, options=[HAO(hoa='${HOA}')])`,
      unknownWithPad1: `IPv6ExtHdrDestOpt(nh=59, options=[${INET6}.Pad1(), ${INET6}.HBHOptUnknown(otype=0x3e, optdata=b'abc'), ${INET6}.HBHOptUnknown(otype=0x8a, optdata=b''), HAO(hoa='${HOA}'), ${INET6}.HBHOptUnknown(otype=0x4b, optdata=b'\\x01\\x02')])`,
      unknown: `IPv6ExtHdrDestOpt(nh=59, options=[${INET6}.HBHOptUnknown(otype=0x3e, optdata=b'abc'), ${INET6}.HBHOptUnknown(otype=0x8a, optdata=b''), HAO(hoa='${HOA}'), ${INET6}.HBHOptUnknown(otype=0x4b, optdata=b'\\x01\\x02')])`,
      rh2: `IPv6ExtHdrRouting(type=2, segleft=1, addresses=['${HOA}'], nh=135)`,
      rh2done: `IPv6ExtHdrRouting(type=2, segleft=0, addresses=['${HOA}'], nh=59)`,
      ipv4: `IP(src='192.0.2.1', dst='198.51.100.7', ttl=17, id=0x1234, flags='DF', tos=0xb8, len=1000, proto=17, options=[${INET}.IPOption_RR(routers=['10.0.0.1', '10.0.0.2'])])`,
      ipv4frag: "IP(src='10.1.2.3', dst='10.3.2.1', flags='MF+evil', frag=185, id=65535, ttl=255, proto=47, len=60)",
      udp: 'UDP(sport=4191, dport=434, len=300, chksum=0xbeef)',
    });
  });

  it('IPv6 fixed header', () => {
    const want: Ipv6Header = { trafficClass: 0xb8, flowLabel: 0xabcde, payloadLength: 1234, nextHeader: 135, hopLimit: 33, src: COA, dst: HA };
    expect(decode(ipv6Header, s.ipv6!)).toEqual(want);
    expect(encode(ipv6Header, want)).toEqual(s.ipv6);
  });

  it('Destination Options with a Home Address option: PadN(2) puts it at 8n+6', () => {
    const want: DestOptsHeader = { nextHeader: 135, options: [{ type: 'homeAddress', address: HOA }] };
    expect(s.hao!.length).toBe(24);
    expect(decode(destOptsHeader, s.hao!)).toEqual(want);
    expect(encode(destOptsHeader, want)).toEqual(s.hao);
  });

  it('Destination Options: Pad1 and PadN skipped, unknown options reported with their action bits', () => {
    const want: DestOptsHeader = {
      nextHeader: 59,
      options: [
        { type: 'unknown', optionType: 0x3e, data: Buffer.from('abc'), action: 'skip', mayChange: true },
        { type: 'unknown', optionType: 0x8a, data: Buffer.alloc(0), action: 'discard-icmp', mayChange: false },
        { type: 'homeAddress', address: HOA },
        { type: 'unknown', optionType: 0x4b, data: Buffer.from([1, 2]), action: 'discard', mayChange: false },
      ],
    };
    expect(decode(destOptsHeader, s.unknownWithPad1!)).toEqual(want);
    expect(decode(destOptsHeader, s.unknown!)).toEqual(want);
    expect(encode(destOptsHeader, want)).toEqual(s.unknown);
    expect(optionAction(0xc9)).toBe('discard-icmp-unless-multicast'); // the HAO's own type
  });

  it('type 2 routing header, one segment left and none', () => {
    const want: RoutingHeader2 = { nextHeader: 135, segmentsLeft: 1, homeAddress: HOA };
    expect(decode(routingHeader2, s.rh2!)).toEqual(want);
    expect(encode(routingHeader2, want)).toEqual(s.rh2);
    const done: RoutingHeader2 = { nextHeader: 59, segmentsLeft: 0, homeAddress: HOA };
    expect(decode(routingHeader2, s.rh2done!)).toEqual(done);
    expect(encode(routingHeader2, done)).toEqual(s.rh2done);
  });

  it('IPv4 header with options and DF, checksum verified', () => {
    const want: Ipv4Header = {
      tos: 0xb8, totalLength: 1000, identification: 0x1234, reservedFlag: false, dontFragment: true, moreFragments: false,
      fragmentOffset: 0, ttl: 17, protocol: 17, src: '192.0.2.1', dst: '198.51.100.7',
      options: Buffer.from('070b040a0000010a00000200', 'hex'), // record route, 2 slots, end of options
    };
    expect(decode(ipv4Header, s.ipv4!)).toEqual({ ...want, checksum: s.ipv4!.readUInt16BE(10), checksumOk: true });
    expect(encode(ipv4Header, want)).toEqual(s.ipv4);
  });

  it('IPv4 header with MF, the reserved bit and a fragment offset', () => {
    const want: Ipv4Header = {
      tos: 0, totalLength: 60, identification: 65535, reservedFlag: true, dontFragment: false, moreFragments: true,
      fragmentOffset: 185, ttl: 255, protocol: 47, src: '10.1.2.3', dst: '10.3.2.1', options: Buffer.alloc(0),
    };
    expect(decode(ipv4Header, s.ipv4frag!)).toEqual({ ...want, checksum: s.ipv4frag!.readUInt16BE(10), checksumOk: true });
    expect(encode(ipv4Header, want)).toEqual(s.ipv4frag);
  });

  it('reports a wrong IPv4 header checksum instead of throwing', () => {
    const bad = Buffer.from(s.ipv4frag!);
    bad.writeUInt16BE(bad.readUInt16BE(10) ^ 0x0100, 10);
    expect(decode(ipv4Header, bad)).toMatchObject({ checksum: bad.readUInt16BE(10), checksumOk: false, fragmentOffset: 185 });
  });

  it('UDP header', () => {
    const want: UdpHeader = { srcPort: 4191, dstPort: 434, length: 300, checksum: 0xbeef };
    expect(decode(udpHeader, s.udp!)).toEqual(want);
    expect(encode(udpHeader, want)).toEqual(s.udp);
  });
});

describe('errors name the field, the offset and the value', () => {
  const v6 = encode(ipv6Header, { trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: 59, hopLimit: 64, src: COA, dst: HA });

  it('IPv6 version', () => {
    const b = Buffer.from(v6);
    b[0] = 0x45;
    expect(decodeError(() => decode(ipv6Header, b))).toMatchObject({ field: 'ipv6.version', offset: 0, value: 4 });
  });

  it('truncated headers', () => {
    expect(decodeError(() => decode(ipv6Header, v6.subarray(0, 39)))).toMatchObject({ field: 'ipv6.dst', offset: 24 });
    expect(decodeError(() => decode(udpHeader, Buffer.from('105f105f0008ff', 'hex')))).toMatchObject({ field: 'udp.checksum', offset: 6 });
  });

  it('Home Address option of the wrong length', () => {
    const b = encode(destOptsHeader, { nextHeader: 135, options: [{ type: 'homeAddress', address: HOA }] });
    b[7] = 15;
    expect(decodeError(() => decode(destOptsHeader, b))).toMatchObject({ field: 'ipv6.opt.length', offset: 7, value: 15 });
  });

  it('an option running past its header', () => {
    const b = Buffer.from('3b00010500000000', 'hex'); // PadN claiming 5 bytes, 4 left
    expect(decodeError(() => decode(destOptsHeader, b))).toMatchObject({ field: 'ipv6.opt.data', offset: 4 });
  });

  it('routing header type, length and segments left', () => {
    const rh = encode(routingHeader2, { nextHeader: 135, segmentsLeft: 1, homeAddress: HOA });
    const type0 = Buffer.from(rh); type0[2] = 0;
    expect(decodeError(() => decode(routingHeader2, type0))).toMatchObject({ field: 'ipv6.routing.type', offset: 2, value: 0 });
    const seg2 = Buffer.from(rh); seg2[3] = 2;
    expect(decodeError(() => decode(routingHeader2, seg2))).toMatchObject({ field: 'ipv6.routing.segleft', offset: 3, value: 2 });
    const len4 = Buffer.from(rh); len4[1] = 4;
    expect(decodeError(() => decode(routingHeader2, len4))).toMatchObject({ field: 'ipv6.routing.len', offset: 1, value: 4 });
  });

  it('IPv4 header length and total length', () => {
    const h = encode(ipv4Header, { tos: 0, totalLength: 20, identification: 0, reservedFlag: false, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 1, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2', options: Buffer.alloc(0) });
    const ihl4 = Buffer.from(h); ihl4[0] = 0x44;
    expect(decodeError(() => decode(ipv4Header, ihl4))).toMatchObject({ field: 'ip.hdr_len', offset: 0, value: 16 });
    const short = Buffer.from(h); short.writeUInt16BE(19, 2);
    expect(decodeError(() => decode(ipv4Header, short))).toMatchObject({ field: 'ip.len', offset: 2, value: 19 });
    const ihl6 = Buffer.from(h); ihl6[0] = 0x46; ihl6.writeUInt16BE(24, 2); // claims 4 bytes of options that are not there
    expect(decodeError(() => decode(ipv4Header, ihl6))).toMatchObject({ field: 'ip.options', offset: 20 });
  });

  it('encoders refuse what they cannot write, naming the field', () => {
    const base: Ipv6Header = { trafficClass: 0, flowLabel: 0, payloadLength: 0, nextHeader: 59, hopLimit: 64, src: COA, dst: HA };
    expect(encodeError(() => encode(ipv6Header, { ...base, flowLabel: 1 << 20 }))).toMatchObject({ field: 'ipv6.flow' });
    expect(encodeError(() => encode(ipv6Header, { ...base, src: '192.0.2.1' }))).toMatchObject({ field: 'ipv6.src' });
    expect(encodeError(() => encode(routingHeader2, { nextHeader: 135, segmentsLeft: 2 as 1, homeAddress: HOA }))).toMatchObject({ field: 'ipv6.routing.segleft' });
    expect(encodeError(() => encode(destOptsHeader, { nextHeader: 59, options: [{ type: 'unknown', optionType: 1, data: Buffer.alloc(2), action: 'skip', mayChange: false }] }))).toMatchObject({ field: 'ipv6.dstopts.option[0].type' });
    expect(encodeError(() => encode(udpHeader, { srcPort: 70000, dstPort: 1, length: 8, checksum: 0 }))).toMatchObject({ field: 'udp.srcport' });
    const v4: Ipv4Header = { tos: 0, totalLength: 20, identification: 0, reservedFlag: false, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 1, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2', options: Buffer.alloc(3) };
    expect(encodeError(() => encode(ipv4Header, v4))).toMatchObject({ field: 'ip.options' });
    expect(encodeError(() => encode(ipv4Header, { ...v4, options: Buffer.alloc(0), fragmentOffset: 8192 }))).toMatchObject({ field: 'ip.frag_offset' });
  });
});

const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatAddr(Buffer.from(b), 6));
const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatAddr(Buffer.from(b), 4));
const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });

const arbIpv6: fc.Arbitrary<Ipv6Header> = fc.record({ trafficClass: u(8), flowLabel: u(20), payloadLength: u(16), nextHeader: u(8), hopLimit: u(8), src: addr6, dst: addr6 });
const arbOption: fc.Arbitrary<DestOption> = fc.oneof(
  addr6.map((address): DestOption => ({ type: 'homeAddress', address })),
  fc.tuple(u(8).filter((t) => t !== 0 && t !== 1 && t !== 201), fc.uint8Array({ maxLength: 24 })).map(([optionType, data]): DestOption => ({
    type: 'unknown', optionType, data: Buffer.from(data), action: optionAction(optionType), mayChange: (optionType & 0x20) !== 0,
  })),
);
const arbDestOpts: fc.Arbitrary<DestOptsHeader> = fc.record({ nextHeader: u(8), options: fc.array(arbOption, { maxLength: 6 }) });
const arbRh2: fc.Arbitrary<RoutingHeader2> = fc.record({ nextHeader: u(8), segmentsLeft: fc.constantFrom(0 as const, 1 as const), homeAddress: addr6 });
const arbIpv4: fc.Arbitrary<Ipv4Header> = fc.record({
  tos: u(8), totalLength: fc.integer({ min: 60, max: 0xffff }), identification: u(16), reservedFlag: fc.boolean(), dontFragment: fc.boolean(),
  moreFragments: fc.boolean(), fragmentOffset: u(13), ttl: u(8), protocol: u(8), src: addr4, dst: addr4,
  options: fc.integer({ min: 0, max: 10 }).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n })).map((b) => Buffer.from(b)),
});
const arbUdp: fc.Arbitrary<UdpHeader> = fc.record({ srcPort: u(16), dstPort: u(16), length: fc.integer({ min: 8, max: 0xffff }), checksum: u(16) });

function roundTrips<T>(codec: Codec<T>, arb: fc.Arbitrary<T>, decoded: (v: T) => unknown = (v) => v): void {
  fc.assert(fc.property(arb, (v) => {
    expect(decode(codec, encode(codec, v))).toEqual(decoded(v));
  }), { numRuns: 300 });
}

/** Decoding random or mutated bytes may fail, but only with DecodeError, and quickly. */
function onlyDecodeErrors<T>(codec: Codec<T>, valid: fc.Arbitrary<T>): void {
  const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat()).map(([v, edits, cut]) => {
    const b = Buffer.from(encode(codec, v));
    for (const [at, byte] of edits) if (b.length) b[at % b.length] = byte;
    return b.subarray(0, cut % (b.length + 1) === 0 ? b.length : cut % (b.length + 1));
  });
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)), mutated), (bytes) => {
    const t0 = performance.now();
    try {
      decode(codec, bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
    }
    expect(performance.now() - t0).toBeLessThan(50);
  }), { numRuns: 1000 });
}

describe('properties', () => {
  it('decode(encode(header)) is the header', () => {
    roundTrips(ipv6Header, arbIpv6);
    roundTrips(destOptsHeader, arbDestOpts);
    roundTrips(routingHeader2, arbRh2);
    roundTrips(udpHeader, arbUdp);
    roundTrips(ipv4Header, arbIpv4, (v) => ({ ...v, checksum: expect.any(Number), checksumOk: true }));
  });

  it('Destination Options headers are whole 8-byte units and every Home Address option sits at 8n+6', () => {
    fc.assert(fc.property(arbDestOpts, (v) => {
      const b = encode(destOptsHeader, v);
      expect(b.length % 8).toBe(0);
      expect(b[1]).toBe(b.length / 8 - 1);
      for (let at = 2; at < b.length;) {
        if (b[at] === 0) { at += 1; continue; }
        if (b[at] === 201) expect(at % 8).toBe(6);
        at += 2 + b[at + 1]!;
      }
    }), { numRuns: 300 });
  });

  it('random and mutated bytes only ever raise DecodeError', () => {
    onlyDecodeErrors(ipv6Header, arbIpv6);
    onlyDecodeErrors(destOptsHeader, arbDestOpts);
    onlyDecodeErrors(routingHeader2, arbRh2);
    onlyDecodeErrors(ipv4Header, arbIpv4);
    onlyDecodeErrors(udpHeader, arbUdp);
  });
});
