/**
 * XDP decapsulation at the anchor (role anchor: a reverse-tunnelled packet
 * is accepted when its INNER SOURCE belongs to the binding whose registered
 * remote end sent it), then forwarding through the FIB: every format and
 * inner family byte for byte against scapy; delivery to the anchor itself;
 * one mobile node to another (decapsulated, then straight into the other
 * binding's tunnel); RFC 6040 ECN on the way out of the tunnel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Binding } from '../../control/dataplane/dataplane.js';
import {
  ADDR, MAC, XDP_DROP, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex, type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { FORMATS, eth, inner, innerLength, outer, receivedBy, sentBy, type Family, type Format, type InnerSpec } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const v = (family: Family) => (family === 6 ? 'v6' : 'v4') as 'v6' | 'v4';
const TOS = 0xb9; // DSCP EF, ECT(1)
const binding1 = (format: Format): Binding => ({
  id: 1, tunnel: anchorTunnel(format), homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: [],
});
/** Where binding 1's tunnel packets come from on the wire: the NAT's are relayed by the gateway. */
const senderMac = (format: Format) => (format === 'udp4' || format === 'udp4-tlv' ? MAC.gw : MAC.mn);

/** A tunnel packet of binding 1's tunnel in format, arriving at the anchor, around inner. */
const tunnelled = (format: Format, family: Family, spec: InnerSpec, outerTos = 0) =>
  `${eth(senderMac(format), MAC.aMn)}/${outer(receivedBy(anchorTunnel(format), { tos: outerTos }), family, innerLength(family, spec))}${inner(family, spec)}`;

const EXPR: Record<string, string> = {};
const CASES = FORMATS.flatMap((format) => ([6, 4] as const).map((family) => ({ format, family })));
for (const { format, family } of CASES) {
  const spec = { src: ADDR.home1[v(family)], dst: ADDR.cn[v(family)], tos: TOS };
  EXPR[`in-${format}-${family}`] = tunnelled(format, family, spec, TOS);
  EXPR[`out-${format}-${family}`] = `${eth(MAC.aCn, MAC.cn)}/${inner(family, { ...spec, ttl: 63 })}`;
}
// Addressed to the anchor itself: the stack's, as decapsulated, hop limit untouched.
for (const family of [6, 4] as const) {
  const spec = { src: ADDR.home1[v(family)], dst: ADDR.anchorCn[v(family)] };
  EXPR[`local-in-${family}`] = tunnelled('ip6', family, spec);
  EXPR[`local-out-${family}`] = `${eth(MAC.mn, MAC.aMn)}/${inner(family, spec)}`;
  // hop limit 1 on a packet to forward: decapsulated and handed up for the Time Exceeded
  const expiring = { src: ADDR.home1[v(family)], dst: ADDR.cn[v(family)], ttl: 1 };
  EXPR[`ttl1-in-${family}`] = tunnelled('ip6', family, expiring);
  EXPR[`ttl1-out-${family}`] = `${eth(MAC.mn, MAC.aMn)}/${inner(family, expiring)}`;
}

// Mobile to mobile: binding 1 (ip6 from its care-of address) to binding 2 (udp4-tlv through the NAT),
// to binding 2's home address and to an address in its mobile network prefix.
const b2: Binding = {
  id: 2, tunnel: { format: 'udp4-tlv', local: ADDR.anchor.v4, remote: ADDR.nat.v4, localPort: 4191, remotePort: 40002 },
  homeAddresses: [ADDR.home2.v6, ADDR.home2.v4], prefixes: ['2001:db8:200::/48', '10.202.0.0/16'],
};
const M2M = [
  { name: 'home-6', family: 6, dst: ADDR.home2.v6 },
  { name: 'home-4', family: 4, dst: ADDR.home2.v4 },
  { name: 'prefix-6', family: 6, dst: '2001:db8:200:7::1' },
  { name: 'prefix-4', family: 4, dst: '10.202.7.1' },
] as const;
for (const { name, family, dst } of M2M) {
  const spec = { src: ADDR.home1[v(family)], dst };
  EXPR[`m2m-in-${name}`] = tunnelled('ip6', family, spec);
  EXPR[`m2m-out-${name}`] = `${eth(MAC.aMn, MAC.gw)}/${outer(sentBy(b2.tunnel), family, innerLength(family, spec))}${inner(family, { ...spec, ttl: 63 })}`;
}

// RFC 6040 (Figure 4): outer CE marks an ECN-capable inner packet CE, outer ECT(1) makes inner ECT(0) ECT(1);
// anything else leaves the inner ECN field alone.
const ECN = [
  { name: 'CE over ECT(0), IPv4', family: 4, outerTos: 0x03, innerTos: 0xba, out: 0xbb },
  { name: 'CE over ECT(1), IPv6', family: 6, outerTos: 0x03, innerTos: 0x29, out: 0x2b },
  { name: 'CE over CE, IPv4', family: 4, outerTos: 0x03, innerTos: 0x03, out: 0x03 },
  { name: 'ECT(0) over Not-ECT, IPv6', family: 6, outerTos: 0x02, innerTos: 0x00, out: 0x00 },
  { name: 'Not-ECT over ECT(0), IPv4', family: 4, outerTos: 0x00, innerTos: 0x02, out: 0x02 },
  { name: 'ECT(1) over ECT(0), IPv4', family: 4, outerTos: 0x01, innerTos: 0xba, out: 0xb9 },
  { name: 'ECT(1) over ECT(0), IPv6', family: 6, outerTos: 0x01, innerTos: 0x2a, out: 0x29 },
  { name: 'ECT(0) over ECT(1), IPv6', family: 6, outerTos: 0x02, innerTos: 0x29, out: 0x29 },
  { name: 'ECT(1) over Not-ECT, IPv4', family: 4, outerTos: 0x01, innerTos: 0x00, out: 0x00 },
] as const;
for (const { name, family, outerTos, innerTos, out } of ECN) {
  const spec = { src: ADDR.home1[v(family)], dst: ADDR.cn[v(family)] };
  EXPR[`ecn-in-${name}`] = tunnelled('ip6', family, { ...spec, tos: innerTos }, outerTos);
  EXPR[`ecn-out-${name}`] = `${eth(MAC.aCn, MAC.cn)}/${inner(family, { ...spec, tos: out, ttl: 63 })}`;
}

// Outer headers of variable length: IPv6 extension headers (a tunnel encapsulation limit, RFC 2473 4.1.1)
// and IPv4 options before the UDP header.
EXPR['ext-in'] = `${eth(MAC.mn, MAC.aMn)}/IPv6(src='${ADDR.careOf.v6}', dst='${ADDR.anchor.v6}')/IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=4, optdata=b'\\x04')])/${inner(6, { src: ADDR.home1.v6, dst: ADDR.cn.v6 })}`;
EXPR['ext-out'] = `${eth(MAC.aCn, MAC.cn)}/${inner(6, { src: ADDR.home1.v6, dst: ADDR.cn.v6, ttl: 63 })}`;
EXPR['opts-in'] = `${eth(MAC.gw, MAC.aMn)}/IP(src='${ADDR.nat.v4}', dst='${ADDR.anchor.v4}', options=[IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_EOL()])/UDP(sport=40000, dport=4191, chksum=0)/${inner(4, { src: ADDR.home1.v4, dst: ADDR.cn.v4 })}`;
EXPR['opts-out'] = `${eth(MAC.aCn, MAC.cn)}/${inner(4, { src: ADDR.home1.v4, dst: ADDR.cn.v4, ttl: 63 })}`;

// Prefixes on the way back: the binding of an inner source is its longest match, and only that
// binding's remote end may send it. P holds the /48 and /16, Q the /64 and /24 inside them.
const P: Binding = { id: 5, tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: ADDR.careOf2.v6 }, homeAddresses: [], prefixes: ['2001:db8:100::/48', '10.200.0.0/16'] };
const Q: Binding = { id: 6, tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: ADDR.careOf.v6 }, homeAddresses: [], prefixes: ['2001:db8:100:5::/64', '10.200.5.0/24'] };
const LPM = [
  { name: 'Q /64 from Q', family: 6, src: '2001:db8:100:5::1', from: ADDR.careOf.v6, by: Q, ok: true },
  { name: 'Q /24 from Q', family: 4, src: '10.200.5.1', from: ADDR.careOf.v6, by: Q, ok: true },
  { name: 'P /48 from P', family: 6, src: '2001:db8:100:6::1', from: ADDR.careOf2.v6, by: P, ok: true },
  { name: 'Q /64 from P, whose /48 covers it too', family: 6, src: '2001:db8:100:5::1', from: ADDR.careOf2.v6, by: Q, ok: false },
  { name: 'Q /24 from P, whose /16 covers it too', family: 4, src: '10.200.5.1', from: ADDR.careOf2.v6, by: Q, ok: false },
] as const;
for (const { name, family, src, from } of LPM) {
  const spec = { src, dst: ADDR.cn[v(family)] };
  EXPR[`lpm-in-${name}`] = `${eth(MAC.mn, MAC.aMn)}/${outer({ format: 'ip6', src: from, dst: ADDR.anchor.v6 }, family, innerLength(family, spec))}${inner(family, spec)}`;
  EXPR[`lpm-out-${name}`] = `${eth(MAC.aCn, MAC.cn)}/${inner(family, { ...spec, ttl: 63 })}`;
}

// A short IPv4 packet inside (20 + 8 bytes): forwarded like any other.
EXPR['small-in'] = tunnelled('ip4', 4, { src: ADDR.home1.v4, dst: ADDR.cn.v4, payload: 0 });
EXPR['small-out'] = `${eth(MAC.aCn, MAC.cn)}/${inner(4, { src: ADDR.home1.v4, dst: ADDR.cn.v4, payload: 0, ttl: 63 })}`;

beforeAll(() => {
  t = buildDataPlaneLab('dpdec');
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);

describe.each(CASES)('format $format, inner IPv$family', ({ format, family }) => {
  it('is decapsulated and forwarded to the correspondent, byte for byte as scapy builds it', () => {
    t.anchor.install(binding1(format));
    const r = t.xdp(t.anchor, 'a-mn', frame(`in-${format}-${family}`), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`out-${format}-${family}`)));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });
});

describe('after decapsulation', () => {
  beforeAll(() => t.anchor.install(binding1('ip6')));

  it.each([6, 4] as const)('IPv%s to the anchor itself goes up to the stack as decapsulated (stack_route)', (family) => {
    const r = t.xdp(t.anchor, 'a-mn', frame(`local-in-${family}`), [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(frame(`local-out-${family}`)));
    expect(r.delta).toEqual(changed({ events: { stack_route: 1 }, bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });

  it.each([6, 4] as const)('IPv%s with hop limit 1 goes up decapsulated, for the stack to answer (stack_ttl)', (family) => {
    const r = t.xdp(t.anchor, 'a-mn', frame(`ttl1-in-${family}`), [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(frame(`ttl1-out-${family}`)));
    expect(r.delta).toEqual(changed({ events: { stack_ttl: 1 }, bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });

  it('an outer Destination Options header (tunnel encapsulation limit) is stripped with the outer header', () => {
    const r = t.xdp(t.anchor, 'a-mn', frame('ext-in'), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('ext-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: innerLength(6, {}) } } }));
  });

  it('an outer IPv4 header with options is stripped whole (UDP found after them)', () => {
    t.anchor.install(binding1('udp4'));
    const r = t.xdp(t.anchor, 'a-mn', frame('opts-in'), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('opts-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: innerLength(4, {}) } } }));
    t.anchor.install(binding1('ip6'));
  });

  it('a short IPv4 packet (shorter than an IPv6 header) is forwarded', () => {
    t.anchor.install(binding1('ip4'));
    const r = t.xdp(t.anchor, 'a-mn', frame('small-in'), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('small-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: 28 } } }));
    t.anchor.install(binding1('ip6'));
  });
});

describe('mobile node to mobile node', () => {
  beforeAll(() => {
    t.anchor.install(binding1('ip6'));
    t.anchor.install(b2);
  });
  afterAll(() => t.anchor.remove(b2.id));

  it.each(M2M.map((c, i) => ({ ...c, first: i === 0 })))('to $dst: out of binding 1\'s tunnel and straight into binding 2\'s', ({ name, family, first }) => {
    const r = t.xdp(t.anchor, 'a-mn', frame(`m2m-in-${name}`), [1, 2]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`m2m-out-${name}`)));
    const len = innerLength(family, {});
    expect(r.delta).toEqual(changed({
      ...(first ? { events: { nh_learnt: 1 } } : {}), // binding 2's tunnel learns its next hop once, for all its addresses and prefixes
      bindings: { 1: { decapPackets: 1, decapBytes: len }, 2: { encapPackets: 1, encapBytes: len } },
    }));
  });
});

describe('prefixes: an inner source belongs to its longest match', () => {
  beforeAll(() => {
    t.anchor.install(P);
    t.anchor.install(Q);
  });
  afterAll(() => {
    t.anchor.remove(P.id);
    t.anchor.remove(Q.id);
  });

  it.each(LPM)('$name', ({ name, family, by, ok }) => {
    const r = t.xdp(t.anchor, 'a-mn', frame(`lpm-in-${name}`), [P.id, Q.id]);
    if (ok) {
      expect(r.verdict).toBe(XDP_REDIRECT);
      expect(hex(r.frame)).toBe(hex(frame(`lpm-out-${name}`)));
      expect(r.delta).toEqual(changed({ bindings: { [by.id]: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
    } else {
      expect(r.verdict).toBe(XDP_DROP);
      expect(r.delta).toEqual(changed({ drops: { spoofed_outer: 1 } }));
    }
  });
});

describe('ECN (RFC 6040)', () => {
  beforeAll(() => t.anchor.install(binding1('ip6')));

  it.each(ECN)('$name', ({ name, family }) => {
    const r = t.xdp(t.anchor, 'a-mn', frame(`ecn-in-${name}`), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`ecn-out-${name}`)));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });
});
