/**
 * What the anchor's XDP program refuses, and how: every malformed, spoofed
 * or mismatched tunnel packet is dropped with exactly one drop counter
 * moved by exactly one; packets too big for their tunnel get an ICMP
 * "fragmentation needed" or ICMPv6 "packet too big" built in place (bytes
 * checked against scapy, checksums recomputed here); and what is not ours
 * passes to the kernel untouched, moving no counter at all.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layouts } from '../../control/dataplane/layout.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import { closeFd } from '../../control/sys/libc.js';
import type { Binding } from '../../control/dataplane/dataplane.js';
import {
  ADDR, DSMIP_PORT, MAC, NAT_PORT, XDP_DROP, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex,
  type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { FORMATS, eth, inner, innerLength, outer, pyBytes, receivedBy, sentBy, type Family, type Format } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const v = (family: Family) => (family === 6 ? 'v6' : 'v4') as 'v6' | 'v4';
const binding1 = (format: Format, mtu?: number): Binding => ({
  id: 1, tunnel: anchorTunnel(format, mtu), homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: [],
});
const binding2: Binding = {
  id: 2, tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: ADDR.careOf2.v6 }, homeAddresses: [ADDR.home2.v6, ADDR.home2.v4], prefixes: [],
};
const up6 = { src: ADDR.home1.v6, dst: ADDR.cn.v6 };
const up4 = { src: ADDR.home1.v4, dst: ADDR.cn.v4 };
const toAnchor6 = (src: string = ADDR.careOf.v6, dst: string = ADDR.anchor.v6) => `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${src}', dst='${dst}', hlim=64)`;
/** An outer IPv4 header to the anchor; `fields` are further scapy IP() arguments. */
const toAnchor4 = (src: string = ADDR.careOf.v4, dst: string = ADDR.anchor.v4, fields = "flags='DF'") => `${eth(MAC.mn, MAC.aMn)}/IP(src='${src}', dst='${dst}', ttl=64, ${fields})`;
const tunnelled = (format: Format, family: Family, spec: { src: string; dst: string; tos?: number }, outerTos = 0) =>
  `${eth(MAC.gw, MAC.aMn)}/${outer(receivedBy(anchorTunnel(format), { tos: outerTos }), family, innerLength(family, spec))}${inner(family, spec)}`;
const udpFromNat = (sport = NAT_PORT, dport = DSMIP_PORT, extra = '') =>
  `${eth(MAC.gw, MAC.aMn)}/IP(src='${ADDR.nat.v4}', dst='${ADDR.anchor.v4}', ttl=64, flags='DF')/UDP(sport=${sport}, dport=${dport}, chksum=0${extra})`;

/**
 * Bad tunnel packets. `format` is binding 1's format for the case; every
 * case must move exactly the named drop counter, by one.
 */
const BAD: { name: string; format: Format; expr: string; drop: string; pad?: number }[] = [
  { name: 'outer source not the binding\'s remote end (ip6)', format: 'ip6', drop: 'spoofed_outer', expr: `${toAnchor6('2001:db8:f::99')}/${inner(6, up6)}` },
  { name: 'outer source not the binding\'s remote end (ip4)', format: 'ip4', drop: 'spoofed_outer', expr: `${toAnchor4('198.51.100.99')}/${inner(4, up4)}` },
  { name: 'outer destination another of our endpoints than the binding\'s', format: 'ip6', drop: 'spoofed_outer', expr: `${toAnchor6(ADDR.careOf.v6, ADDR.anchorCn.v6)}/${inner(6, up6)}` },
  { name: 'UDP source port not the NAT\'s mapped port', format: 'udp4', drop: 'spoofed_outer', expr: `${udpFromNat(NAT_PORT + 1)}/${inner(6, up6)}` },
  { name: 'UDP destination port another endpoint port than the binding\'s', format: 'udp4', drop: 'spoofed_outer', expr: `${udpFromNat(NAT_PORT, 4192)}/${inner(6, up6)}` },
  { name: 'vanilla UDP when the binding is TLV', format: 'udp4-tlv', drop: 'format_mismatch', expr: tunnelled('udp4', 6, up6) },
  { name: 'TLV when the binding is vanilla UDP', format: 'udp4', drop: 'format_mismatch', expr: tunnelled('udp4-tlv', 4, up4) },
  { name: 'IPv4-in-IPv4 when the binding is IPv6-in-IPv6', format: 'ip6', drop: 'format_mismatch', expr: `${toAnchor4()}/${inner(4, up4)}` },
  { name: 'inner source of no binding', format: 'ip6', drop: 'unknown_inner_source', expr: `${toAnchor6()}/${inner(6, { src: '2001:db8:1::999', dst: ADDR.cn.v6 })}` },
  { name: 'inner source of another binding than the sender\'s', format: 'ip6', drop: 'spoofed_outer', expr: `${toAnchor6()}/${inner(6, { src: ADDR.home2.v6, dst: ADDR.cn.v6 })}` },
  { name: 'truncated IPv4 header', format: 'ip4', drop: 'malformed_l3', expr: `Ether(src='${MAC.mn}', dst='${MAC.aMn}', type=0x0800)/Raw(bytes(IP(src='${ADDR.careOf.v4}', dst='${ADDR.anchor.v4}', proto=4))[:12])` },
  { name: 'truncated IPv6 header', format: 'ip6', drop: 'malformed_l3', expr: `Ether(src='${MAC.mn}', dst='${MAC.aMn}', type=0x86dd)/Raw(bytes(IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}', nh=41))[:30])` },
  { name: 'IPv4 header length under 20', format: 'ip4', drop: 'malformed_l3', expr: `${toAnchor4(ADDR.careOf.v4, ADDR.anchor.v4, "flags='DF', ihl=4")}/${inner(4, up4)}` },
  { name: 'IPv4 total length beyond the frame', format: 'ip4', drop: 'malformed_l3', expr: `${toAnchor4(ADDR.careOf.v4, ADDR.anchor.v4, `flags='DF', len=${20 + innerLength(4, {}) + 1}`)}/${inner(4, up4)}` },
  { name: 'IPv6 payload length beyond the frame', format: 'ip6', drop: 'malformed_l3', expr: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}', plen=${innerLength(6, {}) + 1})/${inner(6, up6)}` },
  // 0xfff0 + 40 wraps to 24 in 16 bits: a length that "fits" any frame (found by a review)
  { name: 'IPv6 payload length that wraps 16 bits', format: 'ip6', drop: 'malformed_l3', expr: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}', plen=0xfff0)/${inner(6, up6)}` },
  { name: 'inner IPv6 payload length that wraps 16 bits', format: 'ip6', drop: 'malformed_inner', expr: `${toAnchor6()}/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.cn.v6}', plen=0xffff)/UDP(sport=5000, dport=6000)/Raw(bytes(32))` },
  { name: 'UDP length not the IP payload length', format: 'udp4', drop: 'malformed_tunnel', expr: `${udpFromNat(NAT_PORT, DSMIP_PORT, `, len=${8 + innerLength(6, {}) - 2}`)}/${inner(6, up6)}` },
  { name: 'UDP payload too short for a TLV header', format: 'udp4-tlv', drop: 'malformed_tunnel', expr: `${udpFromNat()}/Raw(b'\\x02\\x00')` },
  { name: 'unknown TLV type', format: 'udp4-tlv', drop: 'malformed_tunnel', expr: `${udpFromNat()}/TLV(type=3, len=${innerLength(6, {})})/${inner(6, up6)}` },
  { name: 'inner IPv6 longer than the frame', format: 'ip6', drop: 'malformed_inner', expr: `${toAnchor6()}/IPv6(src='${ADDR.home1.v6}', dst='${ADDR.cn.v6}', plen=${innerLength(6, {}) - 40 + 8})/UDP(sport=5000, dport=6000)/Raw(bytes(32))` },
  // 16 bytes of Ethernet padding after the outer packet: the inner length fits the frame, not the tunnel packet
  { name: 'inner IPv4 longer than the outer packet', format: 'ip4', drop: 'malformed_inner', pad: 16, expr: `${toAnchor4()}/IP(src='${ADDR.home1.v4}', dst='${ADDR.cn.v4}', len=${innerLength(4, {}) + 8})/UDP(sport=5000, dport=6000)/Raw(bytes(32))` },
  { name: 'inner IPv4 header truncated', format: 'udp4-tlv', drop: 'malformed_inner', expr: `${udpFromNat()}/TLV(type=1, len=12)/Raw(bytes(IP(src='${ADDR.home1.v4}', dst='${ADDR.cn.v4}'))[:12])` },
  { name: 'inner IPv6 announced by the TLV is IPv4', format: 'udp4-tlv', drop: 'malformed_inner', expr: `${udpFromNat()}/TLV(type=2, len=${innerLength(4, {})})/${inner(4, up4)}` },
  { name: 'first fragment of an IPv4 tunnel packet', format: 'ip4', drop: 'outer_fragment', expr: `${toAnchor4(ADDR.careOf.v4, ADDR.anchor.v4, "flags='MF', proto=4")}/Raw(bytes(${inner(4, up4)})[:40])` },
  { name: 'later fragment of an IPv4 tunnel packet', format: 'ip4', drop: 'outer_fragment', expr: `${toAnchor4(ADDR.careOf.v4, ADDR.anchor.v4, 'flags=0, proto=4, frag=5')}/Raw(bytes(40))` },
  { name: 'first fragment of a UDP tunnel packet', format: 'udp4', drop: 'outer_fragment', expr: `${eth(MAC.gw, MAC.aMn)}/IP(src='${ADDR.nat.v4}', dst='${ADDR.anchor.v4}', flags='MF')/UDP(sport=${NAT_PORT}, dport=${DSMIP_PORT}, len=800, chksum=0)/${inner(6, up6)}` },
  { name: 'outer headers longer than we strip (256 bytes of Destination Options)', format: 'ip6', drop: 'headroom', expr: `${toAnchor6()}/IPv6ExtHdrDestOpt(options=[PadN(optdata=bytes(252))])/${inner(6, up6)}` },
  { name: 'outer CE over a Not-ECT inner IPv4 packet', format: 'ip6', drop: 'ecn', expr: `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}', tc=3)/${inner(4, { ...up4, tos: 0 })}` },
  { name: 'outer CE over a Not-ECT inner IPv6 packet', format: 'udp4-tlv', drop: 'ecn', expr: tunnelled('udp4-tlv', 6, { ...up6, tos: 0xb8 }, 0x03) },
];

/** Not ours: the kernel gets these untouched, and no counter moves. */
const NOT_OURS: { name: string; expr: string }[] = [
  { name: 'ARP request', expr: `Ether(src='${MAC.cn}', dst='ff:ff:ff:ff:ff:ff')/ARP(psrc='${ADDR.cn.v4}', pdst='${ADDR.anchorCn.v4}', hwsrc='${MAC.cn}')` },
  { name: 'IPv4 to an address of no binding', expr: `${eth(MAC.cn, MAC.aCn)}/${inner(4, { src: ADDR.cn.v4, dst: '192.0.2.77' })}` },
  { name: 'IPv6 to an address of no binding', expr: `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: ADDR.cn.v6, dst: '2001:db8:c::77' })}` },
  { name: 'IPv4 UDP to our endpoint address, another port', expr: `${eth(MAC.mn, MAC.aMn)}/IP(src='${ADDR.careOf.v4}', dst='${ADDR.anchor.v4}')/UDP(sport=5353, dport=53)/Raw(b'hello')` },
  { name: 'IPv6-in-IPv6 to an address that is not an endpoint', expr: `${toAnchor6(ADDR.careOf.v6, '2001:db8:f::77')}/${inner(6, up6)}` },
  { name: 'IPv6-in-IPv4 to an address that is not an endpoint', expr: `${toAnchor4(ADDR.careOf.v4, '198.51.100.77')}/${inner(6, up6)}` },
  { name: 'UDP with a TLV to a port that is not an endpoint', expr: `${eth(MAC.gw, MAC.aMn)}/IP(src='${ADDR.nat.v4}', dst='${ADDR.anchor.v4}')/UDP(sport=${NAT_PORT}, dport=4500, chksum=0)/TLV(type=2)/${inner(6, up6)}` },
  { name: 'IPv6 fragment to our endpoint (the stack reassembles)', expr: `${toAnchor6()}/IPv6ExtHdrFragment(nh=41, m=1, id=9)/Raw(bytes(${inner(6, up6)})[:48])` },
  { name: 'IPv6 ICMP echo to our endpoint', expr: `${toAnchor6()}/ICMPv6EchoRequest(id=1, seq=1)` },
];

// Too big for the tunnel: binding 1 with a 1280-byte tunnel MTU, packets from the correspondent.
const MTU = 1280;
const overhead = (format: Format) => ({ ip6: 40, ip4: 20, udp4: 28, 'udp4-tlv': 32 })[format];
const TOO_BIG = FORMATS.flatMap((format) => ([6, 4] as const).map((family) => ({ format, family })));
const bigSpec = (family: Family, len: number, df = true) => ({ src: ADDR.cn[v(family)], dst: ADDR.home1[v(family)], payload: len - (family === 6 ? 48 : 28), df });

const EXPR: Record<string, string> = {};
for (const c of BAD) EXPR[`bad-${c.name}`] = c.expr;
for (const c of NOT_OURS) EXPR[`pass-${c.name}`] = c.expr;
for (const { format, family } of TOO_BIG) {
  const fits = MTU - overhead(format);
  EXPR[`fits-${format}-${family}`] = `${eth(MAC.cn, MAC.aCn)}/${inner(family, bigSpec(family, fits))}`;
  EXPR[`fits-out-${format}-${family}`] = `${eth(MAC.aMn, format.startsWith('udp') ? MAC.gw : MAC.mn)}/${outer(sentBy(anchorTunnel(format)), family, fits)}${inner(family, { ...bigSpec(family, fits), ttl: 63 })}`;
  EXPR[`big-${format}-${family}`] = `${eth(MAC.cn, MAC.aCn)}/${inner(family, bigSpec(family, fits + 1))}`;
}
// ICMP errors too big for the tunnel get no ICMP error back; an echo request does
EXPR['big-icmp6-error'] = `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.home1.v6}')/ICMPv6DestUnreach(code=1)/Raw(bytes(1300 - 48))`;
EXPR['big-icmp4-error'] = `${eth(MAC.cn, MAC.aCn)}/IP(src='${ADDR.cn.v4}', dst='${ADDR.home1.v4}', flags='DF')/ICMP(type=11, code=0)/Raw(bytes(1300 - 28))`;
EXPR['big-echo6'] = `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.home1.v6}')/ICMPv6EchoRequest(id=1, seq=1, data=bytes(1300 - 48))`;
EXPR['big-echo4'] = `${eth(MAC.cn, MAC.aCn)}/IP(src='${ADDR.cn.v4}', dst='${ADDR.home1.v4}', flags='DF')/ICMP(type=8, id=1, seq=1)/Raw(bytes(1300 - 28))`;
// ... nor does one from a source that names no single host, a later fragment, or an ICMPv6 error behind an extension header
const bigFrom = (family: Family, src: string) => family === 4
  ? `${eth(MAC.cn, MAC.aCn)}/IP(src='${src}', dst='${ADDR.home1.v4}', flags='DF')/UDP(sport=5000, dport=6000)/Raw(bytes(1300 - 28))`
  : `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${src}', dst='${ADDR.home1.v6}')/UDP(sport=5000, dport=6000)/Raw(bytes(1300 - 48))`;
const WITHHELD = [
  { name: 'from 0.0.0.0', family: 4, expr: bigFrom(4, '0.0.0.0') },
  { name: 'from loopback 127.0.0.1', family: 4, expr: bigFrom(4, '127.0.0.1') },
  { name: 'from multicast 224.0.0.1', family: 4, expr: bigFrom(4, '224.0.0.1') },
  { name: 'from broadcast 255.255.255.255', family: 4, expr: bigFrom(4, '255.255.255.255') },
  { name: 'from ::', family: 6, expr: bigFrom(6, '::') },
  { name: 'from ::1', family: 6, expr: bigFrom(6, '::1') },
  { name: 'from multicast ff02::1', family: 6, expr: bigFrom(6, 'ff02::1') },
  { name: 'a later IPv4 fragment', family: 4, expr: `${eth(MAC.cn, MAC.aCn)}/IP(src='${ADDR.cn.v4}', dst='${ADDR.home1.v4}', flags='DF', frag=185, proto=17)/Raw(bytes(1300 - 20))` },
  { name: 'an ICMPv6 error behind a Destination Options header', family: 6, expr: `${eth(MAC.cn, MAC.aCn)}/IPv6(src='${ADDR.cn.v6}', dst='${ADDR.home1.v6}')/IPv6ExtHdrDestOpt()/ICMPv6DestUnreach(code=1)/Raw(bytes(1300 - 56))` },
] as const;
for (const c of WITHHELD) EXPR[`withheld-${c.name}`] = c.expr;
EXPR['big-nodf'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, bigSpec(4, 1300, false))}`;
EXPR['big-small-mtu'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, bigSpec(6, 302))}`; // over a 300-byte tunnel MTU
EXPR['big-dev-mtu'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, bigSpec(6, 1461))}`; // 1461 + 40 > the device's 1500
EXPR['route-mtu-big'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, bigSpec(4, 1400 - 28 + 1))}`;
EXPR['route-mtu-small'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, bigSpec(4, 100))}`;

beforeAll(() => {
  t = buildDataPlaneLab('dperr');
  // a second IPv6 endpoint and a second UDP port, so that packets to them are ours but not binding 1's
  t.anchor.addEndpoint(ADDR.anchorCn.v6, 0, ['decap']);
  t.anchor.addEndpoint(ADDR.anchor.v4, 4192, ['decap']);
  t.anchor.install(binding2);
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);

describe('bad tunnel packets are dropped, each counted once under its reason', () => {
  it.each(BAD)('$name: $drop', ({ name, format, drop, pad }) => {
    t.anchor.install(binding1(format));
    const input = pad ? Buffer.concat([frame(`bad-${name}`), Buffer.alloc(pad)]) : frame(`bad-${name}`);
    const r = t.xdp(t.anchor, 'a-mn', input, [1, 2]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { [drop]: 1 } }));
  });
});

describe('not ours: passed to the kernel untouched', () => {
  beforeAll(() => t.anchor.install(binding1('ip6')));

  it.each(NOT_OURS)('$name', ({ name }) => {
    const input = frame(`pass-${name}`);
    const r = t.xdp(t.anchor, 'a-mn', input, [1, 2]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({}));
  });
});

/* ---- too big ---- */

/** RFC 1071 checksum over bufs (0 when a checksummed message verifies). */
function inetChecksum(...bufs: Buffer[]): number {
  const all = Buffer.concat(bufs);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += (all[i]! << 8) | (all[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The ICMP error scapy builds for an offending frame: to its sender, from the configured source, quoting it. */
function icmpExpr(offending: Buffer, family: Family, mtu: number): string {
  const pkt = offending.subarray(14);
  const quote = pkt.subarray(0, Math.min(pkt.length, 512) & ~3);
  return family === 4
    ? `${eth(MAC.aCn, MAC.cn)}/IP(src='${ADDR.anchorCn.v4}', dst='${ADDR.cn.v4}', tos=0xc0, ttl=64, id=0, flags=0)/ICMP(type=3, code=4, nexthopmtu=${mtu})/Raw(${pyBytes(quote)})`
    : `${eth(MAC.aCn, MAC.cn)}/IPv6(src='${ADDR.anchorCn.v6}', dst='${ADDR.cn.v6}', hlim=64, tc=0, fl=0)/ICMPv6PacketTooBig(mtu=${mtu})/Raw(${pyBytes(quote)})`;
}

/** Checks an ICMP error frame field by field, and that its checksums verify. */
function checkIcmp(out: Buffer, family: Family, mtu: number, quoteLen: number): void {
  if (family === 4) {
    const ip = out.subarray(14, 34), icmp = out.subarray(34);
    expect(inetChecksum(ip)).toBe(0);
    expect(inetChecksum(icmp)).toBe(0);
    expect([icmp[0], icmp[1], icmp.readUInt16BE(6)]).toEqual([3, 4, mtu]); // type 3 code 4, next-hop MTU
    expect(icmp.length - 8).toBe(quoteLen);
  } else {
    const ip6 = out.subarray(14, 54), icmp = out.subarray(54);
    const pseudo = Buffer.alloc(40);
    ip6.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(icmp.length, 32);
    pseudo[39] = 58;
    expect(inetChecksum(pseudo, icmp)).toBe(0);
    expect([icmp[0], icmp[1], icmp.readUInt32BE(4)]).toEqual([2, 0, mtu]); // packet too big, MTU
    expect(icmp.length - 8).toBe(quoteLen);
  }
}

describe('too big for the tunnel', () => {
  // The error goes back out of the interface the packet came in on. It is an
  // XDP_REDIRECT to that interface rather than XDP_TX: on a veth XDP_TX is
  // lost unless the peer runs XDP (see redirect_to() in bpf/anchor.c).
  it.each(TOO_BIG)('$format, IPv$family: a packet that just fits is tunnelled; one byte more gets an ICMP error with MTU - overhead', ({ format, family }) => {
    t.anchor.install(binding1(format, MTU));
    const fits = t.xdp(t.anchor, 'a-cn', frame(`fits-${format}-${family}`), [1]);
    expect(fits.verdict).toBe(XDP_REDIRECT);
    expect(hex(fits.frame)).toBe(hex(frame(`fits-out-${format}-${family}`)));
    expect(fits.frame.length - 14).toBe(MTU);

    const input = frame(`big-${format}-${family}`);
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    const mtu = MTU - overhead(format);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(scapy({ x: icmpExpr(input, family, mtu) }).x));
    checkIcmp(r.frame, family, mtu, 512);
    expect(r.delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1 } }));
  });

  it('the quote is the offending packet\'s first bytes, rounded down to 4 (302 bytes quote 300)', () => {
    t.anchor.install(binding1('ip6', 300));
    const input = frame('big-small-mtu');
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(scapy({ x: icmpExpr(input, 6, 260) }).x));
    checkIcmp(r.frame, 6, 260, 300);
    expect(r.delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1, nh_learnt: 1 } }));
  });

  it.each([
    { name: 'big-icmp6-error', family: 6, what: 'an ICMPv6 error is dropped, not answered (RFC 4443 2.4 e)', error: true },
    { name: 'big-icmp4-error', family: 4, what: 'an ICMP error is dropped, not answered (RFC 1122 3.2.2)', error: true },
    { name: 'big-echo6', family: 6, what: 'an ICMPv6 echo request is answered', error: false },
    { name: 'big-echo4', family: 4, what: 'an ICMP echo request is answered', error: false },
  ] as const)('$what', ({ name, family, error }) => {
    t.anchor.install(binding1('ip6', MTU));
    const input = frame(name);
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    if (error) {
      expect(r.verdict).toBe(XDP_DROP);
      expect(r.delta).toEqual(changed({ drops: { too_big: 1 }, events: { nh_learnt: 1, icmp_withheld: 1 } }));
    } else {
      expect(r.verdict).toBe(XDP_REDIRECT);
      expect(hex(r.frame)).toBe(hex(scapy({ x: icmpExpr(input, family, MTU - 40) }).x));
      expect(r.delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1, nh_learnt: 1 } }));
    }
  });

  it.each(WITHHELD)('no ICMP error answers a packet $name (icmp_withheld)', ({ name }) => {
    t.anchor.install(binding1('ip6', MTU));
    const r = t.xdp(t.anchor, 'a-cn', frame(`withheld-${name}`), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { too_big: 1 }, events: { nh_learnt: 1, icmp_withheld: 1 } }));
  });

  it('ICMP errors are rate-limited per CPU (RFC 4443 2.4 f): with the budget spent, none is sent (icmp_rate_limited)', () => {
    t.anchor.install(binding1('ip6', MTU));
    const budget = libbpf.getPinned(join(t.anchor.pinDir, 'icmp_budget'));
    try {
      // every CPU's credit spent just now (bpf_ktime_get_ns and hrtime are both CLOCK_MONOTONIC)
      const { size, fields } = layouts.icmp_budget;
      const spent = Buffer.alloc(size * cpus().length);
      for (let cpu = 0; cpu < cpus().length; cpu++) spent.writeBigUInt64LE(process.hrtime.bigint() + 60_000_000_000n, size * cpu + fields.stamp_ns!.offset);
      libbpf.update(budget, Buffer.alloc(4), spent);
      const limited = t.xdp(t.anchor, 'a-cn', frame('big-ip6-6'), [1]);
      expect(limited.verdict).toBe(XDP_DROP);
      expect(limited.delta).toEqual(changed({ drops: { too_big: 1 }, events: { nh_learnt: 1, icmp_rate_limited: 1 } }));
      libbpf.update(budget, Buffer.alloc(4), Buffer.alloc(size * cpus().length)); // stamp 0: a full budget again
      expect(t.xdp(t.anchor, 'a-cn', frame('big-ip6-6'), [1]).delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1 } })); // the next hop learnt by now
    } finally {
      closeFd(budget);
    }
  });

  it('IPv4 without DF is dropped: we do not fragment (too_big_no_df)', () => {
    t.anchor.install(binding1('ip6', MTU));
    const r = t.xdp(t.anchor, 'a-cn', frame('big-nodf'), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { too_big_no_df: 1 }, events: { nh_learnt: 1 } }));
  });

  it('with no tunnel MTU, the device\'s MTU (1500) is the limit', () => {
    t.anchor.install(binding1('ip6'));
    const input = frame('big-dev-mtu');
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(scapy({ x: icmpExpr(input, 6, 1460) }).x));
    expect(r.delta.drops).toEqual({ too_big: 1 });
  });

  it('a route MTU is the limit, before and after the next hop is learnt', () => {
    try {
      t.exec(t.ns.anchor, `ip route replace 203.0.113.0/24 via ${ADDR.gateway.v4} dev a-mn mtu lock 1400`);
      t.anchor.install(binding1('udp4'));
      const big = frame('route-mtu-big');
      const before = t.xdp(t.anchor, 'a-cn', big, [1]);
      expect(before.verdict).toBe(XDP_REDIRECT);
      expect(hex(before.frame)).toBe(hex(scapy({ x: icmpExpr(big, 4, 1400 - 28) }).x));
      expect(before.delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1 } }));

      const small = t.xdp(t.anchor, 'a-cn', frame('route-mtu-small'), [1]);
      expect(small.verdict).toBe(XDP_REDIRECT);
      expect(small.delta.events).toEqual({ nh_learnt: 1 });
      expect(t.anchor.lookupEntry(ADDR.home1.v4)?.nexthop).toEqual({ ifindex: t.ifindex(t.anchor, 'a-mn'), mtu: 1400, smac: MAC.aMn, dmac: MAC.gw });

      const after = t.xdp(t.anchor, 'a-cn', big, [1]);
      expect(after.verdict).toBe(XDP_REDIRECT);
      expect(hex(after.frame)).toBe(hex(before.frame));
      expect(after.delta).toEqual(changed({ drops: { too_big: 1 }, events: { icmp_sent: 1 } }));
    } finally {
      t.exec(t.ns.anchor, `ip route replace 203.0.113.0/24 via ${ADDR.gateway.v4} dev a-mn`);
    }
  });
});
