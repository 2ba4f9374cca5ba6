/**
 * The TC programs (BPF_PROG_TEST_RUN on an __sk_buff): egress tunnels what
 * the host itself sends to a home address; ingress tunnels what XDP handed
 * up because the next hop had no neighbour yet. Both grow the packet with
 * bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC) — room is opened between the
 * Ethernet header and the inner IP header, the Ethernet addresses stay as
 * they were — write the outer headers, and leave through
 * bpf_redirect_neigh(), which returns TC_ACT_REDIRECT and lets the kernel
 * fill in the MACs on the way out. A test run does not transmit, so what is
 * checked is the verdict and the frame as the program left it: exact bytes
 * against scapy, with the input's MACs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Binding } from '../../control/dataplane/dataplane.js';
import { Btf } from '../../control/dataplane/btf.js';
import { defaultObject } from '../../control/dataplane/dataplane.js';
import { libbpf } from '../../control/dataplane/libbpf.js';
import {
  ADDR, MAC, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, anchorTunnel, buildDataPlaneLab, changed, hex, mobileTunnel,
  type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { FORMATS, eth, inner, innerLength, outer, sentBy, type Family, type Format } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const v = (family: Family) => (family === 6 ? 'v6' : 'v4') as 'v6' | 'v4';
const binding1 = (tunnel: Binding['tunnel']): Binding => ({ id: 1, tunnel, homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: [] });
// What the host hands to the device: its own MACs for the first hop, which the redirect replaces.
const HOST = eth(MAC.aCn, MAC.cn);

const EXPR: Record<string, string> = {};
const CASES = FORMATS.flatMap((format) => ([6, 4] as const).map((family) => ({ format, family })));
for (const { format, family } of CASES) {
  const spec = { src: ADDR.anchorCn[v(family)], dst: ADDR.home1[v(family)], tos: 0x48 };
  EXPR[`eg-in-${format}-${family}`] = `${HOST}/${inner(family, spec)}`;
  EXPR[`eg-out-${format}-${family}`] = `${HOST}/${outer(sentBy(anchorTunnel(format), { tos: 0x48 }), family, innerLength(family, spec))}${inner(family, spec)}`;
}
// TC ingress forwards: the hop limit goes down by one (short IPv4 packets included).
const fwd6 = { src: ADDR.cn.v6, dst: ADDR.home1.v6 };
const fwd4 = { src: ADDR.cn.v4, dst: ADDR.home1.v4, payload: 0 };
EXPR['in6'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, fwd6)}`;
EXPR['in6-out'] = `${eth(MAC.cn, MAC.aCn)}/${outer(sentBy(anchorTunnel('udp4')), 6, innerLength(6, fwd6))}${inner(6, { ...fwd6, ttl: 63 })}`;
EXPR['in4'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, fwd4)}`;
EXPR['in4-out'] = `${eth(MAC.cn, MAC.aCn)}/${outer(sentBy(anchorTunnel('ip6')), 4, innerLength(4, fwd4))}${inner(4, { ...fwd4, ttl: 63 })}`;
EXPR['in-ttl1'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, { ...fwd6, ttl: 1 })}`;
EXPR['eg-ttl1'] = `${HOST}/${inner(6, { src: ADDR.anchorCn.v6, dst: ADDR.home1.v6, ttl: 1 })}`;
EXPR['eg-ttl1-out'] = `${HOST}/${outer(sentBy(anchorTunnel('ip6')), 6, innerLength(6, {}))}${inner(6, { src: ADDR.anchorCn.v6, dst: ADDR.home1.v6, ttl: 1 })}`;
EXPR['no-neigh-out'] = `${HOST}/${outer({ format: 'ip6', src: ADDR.anchor.v6, dst: '2001:db8:f::9', tos: 0x48 }, 6, innerLength(6, {}))}${inner(6, { src: ADDR.anchorCn.v6, dst: ADDR.home1.v6, tos: 0x48 })}`;
EXPR['big'] = `${HOST}/${inner(6, { src: ADDR.anchorCn.v6, dst: ADDR.home1.v6, payload: 1300 })}`;
EXPR['not-ours'] = `${HOST}/${inner(6, { src: ADDR.anchorCn.v6, dst: ADDR.cn.v6 })}`;
EXPR['arp'] = `Ether(src='${MAC.aCn}', dst='ff:ff:ff:ff:ff:ff')/ARP(psrc='${ADDR.anchorCn.v4}', pdst='${ADDR.cn.v4}', hwsrc='${MAC.aCn}')`;
// The mobile node's own packet from its home address, egress at the mobile side.
const mob = { src: ADDR.home1.v4, dst: ADDR.cn.v4 };
EXPR['mob'] = `${eth(MAC.mip, MAC.mipPeer)}/${inner(4, mob)}`;
EXPR['mob-out'] = `${eth(MAC.mip, MAC.mipPeer)}/${outer(sentBy(mobileTunnel('udp4-tlv')), 4, innerLength(4, mob))}${inner(4, mob)}`;

beforeAll(() => {
  t = buildDataPlaneLab('dptc');
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);

describe.each(CASES)('TC egress, format $format, inner IPv$family', ({ format, family }) => {
  it('the host\'s own packet to a home address is tunnelled and redirected (redirect_neigh)', () => {
    t.anchor.install(binding1(anchorTunnel(format)));
    const input = frame(`eg-in-${format}-${family}`);
    const r = t.tc(t.anchor, input, [1]);
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`eg-out-${format}-${family}`)));
    expect(r.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: input.length - 14 } } }));
  });
});

describe('TC ingress (packets XDP handed up for want of a neighbour)', () => {
  it.each([
    { name: 'in6', format: 'udp4' as Format, what: 'IPv6 in UDP' },
    { name: 'in4', format: 'ip6' as Format, what: 'a 28-byte IPv4 packet in IPv6' },
  ])('forwards $what with the hop limit decremented', ({ name, format }) => {
    t.anchor.install(binding1(anchorTunnel(format)));
    const input = frame(name);
    const r = t.tc(t.anchor, input, [1], 'tc-ingress');
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`${name}-out`)));
    expect(r.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: input.length - 14 } } }));
  });

  it('a short packet off the wire loses its Ethernet padding before it enters the tunnel', () => {
    // 28-byte IPv4 packet padded to the 60-byte Ethernet minimum, as a NIC delivers it
    t.anchor.install(binding1(anchorTunnel('ip6')));
    const padded = Buffer.concat([frame('in4'), Buffer.alloc(60 - frame('in4').length)]);
    const r = t.tc(t.anchor, padded, [1], 'tc-ingress');
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('in4-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: 28 } } }));
  });

  it('leaves a packet whose hop limit expires to the stack, untouched', () => {
    t.anchor.install(binding1(anchorTunnel('ip6')));
    const input = frame('in-ttl1');
    const r = t.tc(t.anchor, input, [1], 'tc-ingress');
    expect(r.verdict).toBe(TC_ACT_OK);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({}));
  });
});

describe('TC egress, other outcomes', () => {
  it('hop limit 1 on the host\'s own packet is no reason to stop it (it is not forwarded)', () => {
    t.anchor.install(binding1(anchorTunnel('ip6')));
    const r = t.tc(t.anchor, frame('eg-ttl1'), [1]);
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('eg-ttl1-out')));
  });

  it('no neighbour for the remote end yet: tunnelled all the same, redirect_neigh resolves it', () => {
    t.anchor.install(binding1({ format: 'ip6', local: ADDR.anchor.v6, remote: '2001:db8:f::9' }));
    const r = t.tc(t.anchor, frame('eg-in-ip6-6'), [1]);
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('no-neigh-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: 80 } } }));
  });

  it('no route to the remote end: dropped (no_route)', () => {
    t.anchor.install(binding1({ format: 'ip6', local: ADDR.anchor.v6, remote: '2001:db8:dead::1' }));
    const r = t.tc(t.anchor, frame('eg-in-ip6-6'), [1]);
    expect(r.verdict).toBe(TC_ACT_SHOT);
    expect(r.delta).toEqual(changed({ drops: { no_route: 1 } }));
  });

  it('over the tunnel MTU: dropped (too_big_local; the host\'s stack learns from its own MTU, not from us)', () => {
    t.anchor.install(binding1(anchorTunnel('ip6', 1280)));
    const r = t.tc(t.anchor, frame('big'), [1]);
    expect(r.verdict).toBe(TC_ACT_SHOT);
    expect(r.delta).toEqual(changed({ drops: { too_big_local: 1 } }));
  });

  it.each(['not-ours', 'arp'])('%s: left alone', (name) => {
    t.anchor.install(binding1(anchorTunnel('ip6')));
    const input = frame(name);
    const r = t.tc(t.anchor, input, [1]);
    expect(r.verdict).toBe(TC_ACT_OK);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({}));
  });

  it('a GSO packet cannot carry a per-segment TLV length: dropped (gso_tlv)', () => {
    // DataPlane.testRun passes no context; set gso_size through an __sk_buff context here
    t.anchor.install(binding1(anchorTunnel('udp4-tlv')));
    const sk = new Btf(defaultObject).struct('__sk_buff');
    const at = (name: string) => sk.fields.find((x) => x.name === name)!.offset;
    const ctx = Buffer.alloc(sk.size);
    ctx.writeUInt32LE(t.ifindex(t.anchor, 'a-cn'), at('ifindex'));
    ctx.writeUInt32LE(2, at('gso_segs'));
    ctx.writeUInt32LE(1000, at('gso_size'));
    const input = frame('eg-in-udp4-tlv-6');
    const before = t.anchor.drops().gso_tlv!;
    const out = Buffer.alloc(input.length + 512);
    const r = t.within(t.anchor, () => libbpf.testRun(t.anchor.programFd('tc'), {
      data_in: input, data_size_in: input.length, data_out: out, data_size_out: out.length, ctx_in: ctx, ctx_size_in: ctx.length, repeat: 1,
    }));
    expect(r.retval).toBe(TC_ACT_SHOT);
    expect(t.anchor.drops().gso_tlv! - before).toBe(1n);
  });

  it('mobile role: the mobile node\'s own packet from its home address goes to the home agent', () => {
    t.mobile.install({ id: 1, tunnel: mobileTunnel('udp4-tlv'), homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: [] });
    const r = t.tc(t.mobile, frame('mob'), [1]);
    expect(r.verdict).toBe(TC_ACT_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('mob-out')));
    expect(r.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: innerLength(4, mob) } } }));
  });
});
