/**
 * Whole signalling packets: a BU with a Home Address option, a BA with a
 * type 2 routing header, and the DSMIPv6 IPv4/UDP transport (with and
 * without the TLV header). scapy builds each; we decode it to the expected
 * values and re-encode it byte-exact from the same MH bytes (so the MH
 * checksum we fill in is scapy's). tshark dissects what we encode.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatAddr } from '../../control/dataplane/layout.js';
import { DecodeError, EncodeError } from '../../control/wire/buffer.js';
import { mhChecksum } from '../../control/wire/checksum.js';
import {
  type SignallingSpec6, decodeSignalling, decodeSignalling4, decodeSignalling6, decodeTunnelledSignalling6, discardReason, encodeSignalling4, encodeSignalling6, encodeTunnelled6,
} from '../../control/wire/ip/signalling.js';
import { scapy } from '../helpers/scapy.js';
import { LINKTYPE_RAW, field, protocols, tshark } from '../helpers/tshark.js';

const INET6 = "__import__('scapy.layers.inet6', fromlist=['*'])";
const COA = '2001:db8:c0a::1';
const HA = '2001:db8:a::1';
const HOA = '2001:db8:b::5';
const COA4 = '192.0.2.1';
const HA4 = '198.51.100.7';
const BU = "MIP6MH_BU(seq=42, flags='AH', mhtime=1000)";
const BA = 'MIP6MH_BA(status=0, seq=42, mhtime=1000)';

/** The MH bytes of a packet with their checksum cleared: what the MH codec hands us. */
function mhOf(packet: Buffer, at: number): Buffer {
  const mh = Buffer.from(packet.subarray(at));
  mh.writeUInt16BE(0, 4);
  return mh;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('nothing thrown');
}

describe('packets built by scapy', () => {
  let s: Record<string, Buffer>;
  beforeAll(() => {
    s = scapy({
      buHao: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}')])/${BU}`,
      baRh2: `IPv6(src='${HA}', dst='${COA}')/IPv6ExtHdrRouting(type=2, segleft=1, addresses=['${HOA}'])/${BA}`,
      plain: `IPv6(src='${HOA}', dst='${HA}', tc=0x20, fl=12345, hlim=255)/${BU}`,
      udp4: `IP(src='${COA4}', dst='${HA4}', flags='DF', id=0)/UDP(sport=4191, dport=4191)/IPv6(src='${HOA}', dst='${HA}')/${BU}`,
      udp4Tlv: `IP(src='${COA4}', dst='${HA4}', flags='DF', id=0)/UDP(sport=4191, dport=4191)/TLV(type=2, len=56)/IPv6(src='${HOA}', dst='${HA}')/${BU}`,
      udp4NoCsum: `IP(src='${COA4}', dst='${HA4}', flags='DF', id=0)/UDP(sport=4191, dport=4191, chksum=0)/IPv6(src='${HOA}', dst='${HA}')/${BU}`,
      hbhAndUnknown: `IPv6(src='${COA}', dst='${HA}')/${INET6}.IPv6ExtHdrHopByHop(options=[${INET6}.RouterAlert()])/IPv6ExtHdrDestOpt(options=[${INET6}.HBHOptUnknown(otype=0x1e, optdata=b'xy'), HAO(hoa='${HOA}')])/${BU}`,
      rh0done: `IPv6(src='${HA}', dst='${COA}')/IPv6ExtHdrRouting(type=0, segleft=0, addresses=['${HOA}'])/${BA}`,
      udp6: `IPv6(src='${COA}', dst='${HA}')/UDP(sport=4191, dport=4191)`,
      fragment: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrFragment()/${BU}`,
      twoHao: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}'), HAO(hoa='${HOA}')])/${BU}`,
      discardOption: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}'), ${INET6}.HBHOptUnknown(otype=0x7e, optdata=b'xy')])/${BU}`,
      icmpUnlessMulticast: `IPv6(src='${COA}', dst='${HA}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}'), ${INET6}.HBHOptUnknown(otype=0xc2, optdata=b'z')])/${BU}`,
      hbhDiscard: `IPv6(src='${COA}', dst='${HA}')/${INET6}.IPv6ExtHdrHopByHop(options=[${INET6}.HBHOptUnknown(otype=0x80, optdata=b'xy')])/IPv6ExtHdrDestOpt(options=[HAO(hoa='${HOA}')])/${BU}`,
      brrTunnelled: `IPv6(src='${HA}', dst='${COA}')/IPv6(src='${HA}', dst='${HOA}')/MIP6MH_BRR()`,
    });
  });

  it('a BU with a Home Address option: checksum over the home address, re-encoded byte-exact', () => {
    const p = decodeSignalling6(s.buHao!);
    expect(p).toEqual({
      ipv6: { trafficClass: 0, flowLabel: 0, payloadLength: 40, nextHeader: 60, hopLimit: 64, src: COA, dst: HA },
      destinationOptions: [{ nextHeader: 135, options: [{ type: 'homeAddress', address: HOA }] }],
      homeAddressOption: HOA,
      mh: s.buHao!.subarray(64),
      mhChecksumOk: true,
      pseudoSource: HOA,
      finalDestination: HA,
    });
    expect(encodeSignalling6({ src: COA, dst: HA, homeAddressOption: HOA, mh: mhOf(s.buHao!, 64) })).toEqual(s.buHao);
  });

  it('a BA with a type 2 routing header: checksum to the home address, re-encoded byte-exact', () => {
    const p = decodeSignalling6(s.baRh2!);
    expect(p).toEqual({
      ipv6: { trafficClass: 0, flowLabel: 0, payloadLength: 40, nextHeader: 43, hopLimit: 64, src: HA, dst: COA },
      destinationOptions: [],
      routingHeader2: { nextHeader: 135, segmentsLeft: 1, homeAddress: HOA },
      mh: s.baRh2!.subarray(64),
      mhChecksumOk: true,
      pseudoSource: HA,
      finalDestination: HOA,
    });
    expect(encodeSignalling6({ src: HA, dst: COA, routingHeader2: HOA, mh: mhOf(s.baRh2!, 64) })).toEqual(s.baRh2);
  });

  it('a plain MH packet keeps traffic class, flow label and hop limit', () => {
    const p = decodeSignalling6(s.plain!);
    expect(p.ipv6).toEqual({ trafficClass: 0x20, flowLabel: 12345, payloadLength: 16, nextHeader: 135, hopLimit: 255, src: HOA, dst: HA });
    expect(p).toMatchObject({ mhChecksumOk: true, pseudoSource: HOA, finalDestination: HA, destinationOptions: [] });
    expect(p.homeAddressOption).toBeUndefined();
    expect(p.routingHeader2).toBeUndefined();
    expect(encodeSignalling6({ src: HOA, dst: HA, trafficClass: 0x20, flowLabel: 12345, hopLimit: 255, mh: mhOf(s.plain!, 40) })).toEqual(s.plain);
  });

  it('skips a Hop-by-Hop header and reports unknown destination options next to the HAO', () => {
    const p = decodeSignalling6(s.hbhAndUnknown!);
    expect(p.ipv6.nextHeader).toBe(0);
    expect(p.destinationOptions).toEqual([{ nextHeader: 135, options: [{ type: 'unknown', optionType: 0x1e, data: Buffer.from('xy'), action: 'skip', mayChange: false }, { type: 'homeAddress', address: HOA }] }]);
    expect(p).toMatchObject({ homeAddressOption: HOA, pseudoSource: HOA });
    // scapy's in6_chksum only takes the HAO for the source when it is the header's sole option,
    // so here it summed over the care-of address: by RFC 6275 §6.1.1 that checksum is wrong
    expect(p.mhChecksumOk).toBe(false);
    expect(p.mh.readUInt16BE(4)).toBe(mhChecksum(COA, HA, p.mh));
  });

  it('skips a routing header of another type with no segments left', () => {
    const p = decodeSignalling6(s.rh0done!);
    expect(p.routingHeader2).toBeUndefined();
    expect(p).toMatchObject({ finalDestination: COA, mhChecksumOk: true });
  });

  it('DSMIPv6 over IPv4/UDP 4191, vanilla: decoded, and re-encoded byte-exact', () => {
    const p = decodeSignalling4(s.udp4!);
    expect(p.ipv4).toMatchObject({ src: COA4, dst: HA4, protocol: 17, dontFragment: true, ttl: 64, checksumOk: true, totalLength: s.udp4!.length });
    expect(p.udp).toEqual({ srcPort: 4191, dstPort: 4191, length: s.udp4!.length - 20, checksum: s.udp4!.readUInt16BE(26) });
    expect(p.udpChecksumOk).toBe(true);
    expect(p.tlv).toBeUndefined();
    expect(p.inner).toMatchObject({ pseudoSource: HOA, finalDestination: HA, mhChecksumOk: true, mh: s.udp4!.subarray(68) });
    const inner = encodeSignalling6({ src: HOA, dst: HA, mh: mhOf(s.udp4!, 68) });
    expect(encodeSignalling4({ src: COA4, dst: HA4, ipv6: inner })).toEqual(s.udp4);
    expect(decodeSignalling(s.udp4!)).toMatchObject({ transport: 'udp4', udpChecksumOk: true });
  });

  it('DSMIPv6 over IPv4/UDP with the TLV header (type 2, IPv6)', () => {
    const p = decodeSignalling4(s.udp4Tlv!);
    expect(p.tlv).toEqual({ type: 'ipv6', length: 56 });
    expect(p.udpChecksumOk).toBe(true);
    expect(p.inner).toMatchObject({ pseudoSource: HOA, mhChecksumOk: true, mh: s.udp4Tlv!.subarray(72) });
    const inner = encodeSignalling6({ src: HOA, dst: HA, mh: mhOf(s.udp4Tlv!, 72) });
    expect(encodeSignalling4({ src: COA4, dst: HA4, tlv: true, ipv6: inner })).toEqual(s.udp4Tlv);
  });

  it('reports a UDP checksum left out (0) as null, and wrong checksums as false', () => {
    expect(decodeSignalling4(s.udp4NoCsum!).udpChecksumOk).toBeNull();
    const badUdp = Buffer.from(s.udp4!); badUdp[30]! ^= 1; // the inner IPv6 header's flow label
    expect(decodeSignalling4(badUdp)).toMatchObject({ udpChecksumOk: false, inner: { mhChecksumOk: true } });
    const badMh = Buffer.from(s.buHao!); badMh[70]! ^= 0x80; // a byte of the BU
    expect(decodeSignalling6(badMh).mhChecksumOk).toBe(false);
    const badIp = Buffer.from(s.udp4!); badIp[8] = 1; // TTL, not covered by the UDP checksum
    expect(decodeSignalling4(badIp)).toMatchObject({ ipv4: { checksumOk: false, ttl: 1 }, udpChecksumOk: true });
  });

  it('says why a receiver must discard a packet before reading it: a wrong IPv4 header, UDP or MH checksum, a destination option whose type says discard', () => {
    const reason = (packet: Buffer, outer?: { src: string; srcPort?: number }) => {
      const p = decodeSignalling(packet);
      return p.transport === 'ipv6' ? discardReason({ signalling: p, outer })
        : discardReason({ signalling: p.inner, ipv4ChecksumOk: p.ipv4.checksumOk, udpChecksumOk: p.udpChecksumOk, outer: { src: p.ipv4.src, srcPort: p.udp.srcPort } });
    };
    expect([s.buHao!, s.udp4!, s.udp4NoCsum!].map((x) => reason(x))).toEqual([undefined, undefined, undefined]);
    expect(reason(s.hbhAndUnknown!)).not.toMatch(/destination option/); // 0x1e: skip it
    const badIp = Buffer.from(s.udp4!); badIp[12]! ^= 1; // the source address: the UDP checksum left out, nothing else would notice
    badIp.writeUInt16BE(0, 26);
    expect(reason(badIp)).toMatch(/^IPv4 packet with a wrong header checksum from \S+:4191 discarded$/);
    const badUdp = Buffer.from(s.udp4!); badUdp[30]! ^= 1;
    expect(reason(badUdp)).toBe(`UDP datagram with a wrong checksum from ${COA4}:4191 discarded`);
    const badMh = Buffer.from(s.buHao!); badMh[70]! ^= 0x80;
    expect(reason(badMh)).toBe(`MH with a wrong checksum from ${COA} discarded`);
    expect(reason(s.discardOption!)).toBe(`destination option type 0x7e unknown, and its type says discard (RFC 8200 §4.2): packet from ${COA} discarded`);
    expect(reason(s.hbhDiscard!)).toBe(`hop-by-hop option type 0x80 unknown, and its type says discard (RFC 8200 §4.2): packet from ${COA} discarded`);
  });

  it('names the first option whose unknown type says discard, and where its type byte is (an ICMP Parameter Problem\'s pointer)', () => {
    expect(decodeSignalling6(s.hbhDiscard!).refusedOption).toEqual({ header: 'hop-by-hop', optionType: 0x80, action: 'discard-icmp', at: 42 }); // right after the header's two bytes
    const behindHao = decodeSignalling6(s.discardOption!).refusedOption!;
    expect(behindHao).toMatchObject({ header: 'destination', optionType: 0x7e, action: 'discard' });
    expect([s.discardOption![behindHao.at], s.discardOption![behindHao.at + 1]]).toEqual([0x7e, 2]); // its type, then its length (2: 'xy')
    expect(decodeSignalling6(s.icmpUnlessMulticast!).refusedOption).toMatchObject({ header: 'destination', optionType: 0xc2, action: 'discard-icmp-unless-multicast' });
    for (const known of [s.buHao!, s.hbhAndUnknown!]) expect(decodeSignalling6(known).refusedOption).toBeUndefined(); // the HAO (0xc9), PadN, and 0x1e (skip)
  });

  it('a Binding Refresh Request tunnelled to the home address (IPv6 in IPv6): decoded as scapy built it, encoded byte-exact', () => {
    const { outer, inner } = decodeTunnelledSignalling6(s.brrTunnelled!);
    expect(outer).toMatchObject({ src: HA, dst: COA, nextHeader: 41, payloadLength: s.brrTunnelled!.length - 40 });
    expect(inner).toMatchObject({ ipv6: { src: HA, dst: HOA }, mhChecksumOk: true, pseudoSource: HA, finalDestination: HOA });
    const mh = mhOf(s.brrTunnelled!, 80);
    expect(encodeTunnelled6({ src: HA, dst: COA, inner: encodeSignalling6({ src: HA, dst: HOA, mh }) })).toEqual(s.brrTunnelled);
    expect(thrown(() => decodeTunnelledSignalling6(s.buHao!))).toMatchObject({ field: 'ipv6.nxt', offset: 6, value: 60 });
  });

  it('refuses what is not an MH packet, naming the field', () => {
    expect(thrown(() => decodeSignalling6(s.udp6!))).toMatchObject({ field: 'ipv6.nxt', offset: 6, value: 17 });
    expect(thrown(() => decodeSignalling6(s.fragment!))).toMatchObject({ field: 'ipv6.nxt', offset: 6, value: 44 });
    expect(thrown(() => decodeSignalling6(s.twoHao!))).toMatchObject({ field: 'ipv6.opt.mipv6.home_address', offset: 40 });
    const tcp = Buffer.from(s.udp4!); tcp[9] = 6;
    expect(thrown(() => decodeSignalling4(tcp))).toMatchObject({ field: 'ip.proto', offset: 9, value: 6 });
    const frag = Buffer.from(s.udp4!); frag[6]! |= 0x20;
    expect(thrown(() => decodeSignalling4(frag))).toMatchObject({ field: 'ip.frag_offset', offset: 6 });
    const tlv1 = Buffer.from(s.udp4Tlv!); tlv1[28] = 1;
    expect(thrown(() => decodeSignalling4(tlv1))).toMatchObject({ field: 'tlv.type', offset: 28 });
    const longMh = Buffer.from(s.plain!); longMh[41] = 2; // Header Len says 24 bytes, 16 follow
    expect(thrown(() => decodeSignalling6(longMh))).toMatchObject({ field: 'mip6.hlen', offset: 41, value: 2 });
    const shortPlen = Buffer.from(s.plain!); shortPlen.writeUInt16BE(17, 4);
    expect(thrown(() => decodeSignalling6(shortPlen))).toMatchObject({ field: 'ipv6.plen', offset: 4, value: 17 });
    expect(thrown(() => decodeSignalling(Buffer.from([0x50])))).toMatchObject({ field: 'ip.version', value: 5 });
  });

  it('refuses to encode an MH whose length is not what its Header Len says', () => {
    const mh = mhOf(s.plain!, 40);
    expect(thrown(() => encodeSignalling6({ src: HOA, dst: HA, mh: mh.subarray(0, 12) }))).toBeInstanceOf(EncodeError);
    expect(thrown(() => encodeSignalling6({ src: HOA, dst: HA, mh: Buffer.concat([mh, Buffer.alloc(8)]) }))).toMatchObject({ field: 'mip6.hlen' });
  });
});

describe('tshark dissects what we encode', () => {
  // BU: proto 59, Header Len 1, type 5, checksum, seq 7, flags A|H, lifetime 25 (100 s), PadN(2)
  const mhBu = Buffer.from('3b01050000000007c000001901020000', 'hex');
  const mhBa = Buffer.from('3b01060000000000002a0019' + '01020000', 'hex'); // BA status 0, seq 42, lifetime 25

  it('BU with HAO, BA with RH2, and the IPv4/UDP transport', () => {
    const bu = encodeSignalling6({ src: COA, dst: HA, homeAddressOption: HOA, mh: mhBu });
    const ba = encodeSignalling6({ src: HA, dst: COA, routingHeader2: HOA, mh: mhBa });
    const udp = encodeSignalling4({ src: COA4, dst: HA4, srcPort: 40000, ipv6: encodeSignalling6({ src: HOA, dst: HA, mh: mhBu }) });
    const [pBu, pBa, pUdp] = tshark([bu, ba, udp], { linktype: LINKTYPE_RAW, decodeAs: ['udp.port==4191,ipv6'], prefs: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'] });

    expect(protocols(pBu!)).toBe('raw:ipv6:ipv6.dstopts:mipv6');
    expect(field(pBu!, 'ipv6.src')).toEqual([COA]);
    expect(field(pBu!, 'ipv6.dst')).toEqual([HA]);
    expect(field(pBu!, 'ipv6.nxt')).toEqual(['60']);
    expect(field(pBu!, 'ipv6.dstopts.nxt')).toEqual(['135']);
    expect(field(pBu!, 'ipv6.dstopts.len')).toEqual(['2']);
    expect(field(pBu!, 'ipv6.opt.type')).toEqual(['0x01', '0xc9']); // PadN, then the HAO
    expect(field(pBu!, 'ipv6.opt.mipv6.home_address')).toEqual([HOA]);
    expect(field(pBu!, 'mip6.mhtype')).toEqual(['5']);
    expect(field(pBu!, 'mip6.bu.seqnr')).toEqual(['7']);
    expect(field(pBu!, 'mip6.csum')).toEqual([`0x${bu.readUInt16BE(64 + 4).toString(16).padStart(4, '0')}`]);

    expect(protocols(pBa!)).toBe('raw:ipv6:ipv6.routing:mipv6');
    expect(field(pBa!, 'ipv6.routing.type')).toEqual(['2']);
    expect(field(pBa!, 'ipv6.routing.segleft')).toEqual(['1']);
    expect(field(pBa!, 'ipv6.routing.len')).toEqual(['2']);
    expect(field(pBa!, 'ipv6.routing.mipv6.home_address')).toEqual([HOA]);
    expect(field(pBa!, 'mip6.mhtype')).toEqual(['6']);
    expect(field(pBa!, 'mip6.ba.seqnr')).toEqual(['42']);
    expect(field(pBa!, 'mip6.csum')).toEqual([`0x${ba.readUInt16BE(64 + 4).toString(16).padStart(4, '0')}`]);

    expect(protocols(pUdp!)).toBe('raw:ip:udp:ipv6:mipv6');
    expect(field(pUdp!, 'ip.src')).toEqual([COA4]);
    expect(field(pUdp!, 'ip.flags.df')).toEqual(['1']);
    expect(field(pUdp!, 'ip.checksum.status')).toEqual(['1']); // good
    expect(field(pUdp!, 'udp.srcport')).toEqual(['40000']);
    expect(field(pUdp!, 'udp.dstport')).toEqual(['4191']);
    expect(field(pUdp!, 'udp.checksum.status')).toEqual(['1']);
    expect(field(pUdp!, 'ipv6.src')).toEqual([HOA]);
    expect(field(pUdp!, 'mip6.mhtype')).toEqual(['5']);
  });
});

const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatAddr(Buffer.from(b), 6));
const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatAddr(Buffer.from(b), 4));
const mhBytes = fc.integer({ min: 0, max: 8 }).chain((hlen) => fc.uint8Array({ minLength: (hlen + 1) * 8, maxLength: (hlen + 1) * 8 }).map((b) => {
  const mh = Buffer.from(b);
  mh[1] = hlen;
  return mh;
}));
const arbSpec6: fc.Arbitrary<SignallingSpec6> = fc.record({
  src: addr6, dst: addr6, hopLimit: fc.integer({ min: 0, max: 255 }), trafficClass: fc.integer({ min: 0, max: 255 }), flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  homeAddressOption: fc.option(addr6, { nil: undefined }), routingHeader2: fc.option(addr6, { nil: undefined }), mh: mhBytes,
}, { requiredKeys: ['src', 'dst', 'mh'] });

describe('properties', () => {
  it('decode(encode(packet)) gives back the spec, with a good MH checksum, over IPv6 and IPv4/UDP', () => {
    fc.assert(fc.property(arbSpec6, addr4, addr4, fc.boolean(), (spec, src4, dst4, tlv) => {
      const packet = encodeSignalling6(spec);
      const p = decodeSignalling6(packet);
      expect(p.ipv6).toMatchObject({ src: spec.src, dst: spec.dst, hopLimit: spec.hopLimit ?? 64, trafficClass: spec.trafficClass ?? 0, flowLabel: spec.flowLabel ?? 0, payloadLength: packet.length - 40 });
      expect(p.homeAddressOption).toBe(spec.homeAddressOption);
      expect(p.routingHeader2?.homeAddress).toBe(spec.routingHeader2);
      expect(p.pseudoSource).toBe(spec.homeAddressOption ?? spec.src);
      expect(p.finalDestination).toBe(spec.routingHeader2 ?? spec.dst);
      expect(p.mh.subarray(6)).toEqual(Buffer.from(spec.mh).subarray(6));
      expect(p.mh.subarray(0, 4)).toEqual(Buffer.from(spec.mh).subarray(0, 4));
      expect(p.mhChecksumOk).toBe(true);
      if (tlv && packet.length > 255) return;
      const q = decodeSignalling4(encodeSignalling4({ src: src4, dst: dst4, tlv, ipv6: packet }));
      expect(q).toMatchObject({ ipv4: { src: src4, dst: dst4, checksumOk: true }, udpChecksumOk: true, inner: p });
      expect(q.tlv).toEqual(tlv ? { type: 'ipv6', length: packet.length } : undefined);
    }), { numRuns: 300 });
  });

  it('random and mutated packets only ever raise DecodeError, quickly', () => {
    const valid = fc.tuple(arbSpec6, addr4, addr4, fc.boolean(), fc.boolean()).map(([spec, s4, d4, udp, tlv]) => {
      const p = encodeSignalling6(spec);
      return udp && p.length <= 255 ? encodeSignalling4({ src: s4, dst: d4, tlv, ipv6: p }) : p;
    });
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat()).map(([b, edits, cut]) => {
      const out = Buffer.from(b);
      for (const [at, byte] of edits) out[at % out.length] = byte;
      const n = cut % (out.length + 1);
      return n === 0 ? out : out.subarray(0, n);
    });
    const random = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.boolean()).map(([b, v6]) => {
      const out = Buffer.from(b);
      if (out.length) out[0] = (out[0]! & 0x0f) | (v6 ? 0x60 : 0x40); // IPv4 or IPv6, to get past the version
      return out;
    });
    fc.assert(fc.property(fc.oneof(mutated, random), (bytes) => {
      const t0 = performance.now();
      try {
        decodeSignalling(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
      }
      expect(performance.now() - t0).toBeLessThan(50);
    }), { numRuns: 3000 });
  });
});
