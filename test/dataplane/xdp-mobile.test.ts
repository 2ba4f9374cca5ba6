/**
 * The same XDP program in the mobile role (at a mobile node or mobile
 * router): a packet FROM a home address is encapsulated towards the home
 * agent; a tunnel packet from the home agent is accepted when its inner
 * DESTINATION is ours, and then delivered to the host (XDP_PASS, as
 * decapsulated) or, for a mobile network prefix, forwarded onto the LAN.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Binding } from '../../control/dataplane/dataplane.js';
import {
  ADDR, MAC, XDP_DROP, XDP_PASS, XDP_REDIRECT, buildDataPlaneLab, changed, hex, mobileTunnel, type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { FORMATS, eth, inner, innerLength, outer, receivedBy, sentBy, type Family, type Format, type InnerSpec } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const v = (family: Family) => (family === 6 ? 'v6' : 'v4') as 'v6' | 'v4';
const mobileBinding = (format: Format): Binding => ({
  id: 1, tunnel: mobileTunnel(format), homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: ['2001:db8:100::/48', '10.200.0.0/16'],
});
/** A tunnel packet from the home agent, arriving at the mobile node's visited interface. */
const fromHomeAgent = (format: Format, family: Family, spec: InnerSpec, over: Partial<Parameters<typeof receivedBy>[1]> = {}) =>
  `${eth(MAC.aMn, MAC.mn)}/${outer(receivedBy(mobileTunnel(format), over), family, innerLength(family, spec))}${inner(family, spec)}`;

const EXPR: Record<string, string> = {};
const CASES = FORMATS.flatMap((format) => ([6, 4] as const).map((family) => ({ format, family })));
for (const { format, family } of CASES) {
  // the host sends from its home address into mip0; the program runs on the far end, mip0p
  const up = { src: ADDR.home1[v(family)], dst: ADDR.cn[v(family)], tos: 0x10 };
  EXPR[`enc-in-${format}-${family}`] = `${eth(MAC.mip, MAC.mipPeer)}/${inner(family, up)}`;
  EXPR[`enc-out-${format}-${family}`] = `${eth(MAC.mn, MAC.aMn)}/${outer(sentBy(mobileTunnel(format), { tos: 0x10 }), family, innerLength(family, up))}${inner(family, { ...up, ttl: 63 })}`;
  // from the correspondent, through the home agent, to the home address: the host's, hop limit as it came
  const down = { src: ADDR.cn[v(family)], dst: ADDR.home1[v(family)], ttl: 63 };
  EXPR[`dec-in-${format}-${family}`] = fromHomeAgent(format, family, down);
  EXPR[`dec-out-${format}-${family}`] = `${eth(MAC.aMn, MAC.mn)}/${inner(family, down)}`;
  // to a host on the mobile router's LAN: forwarded there
  const lan = { src: ADDR.cn[v(family)], dst: ADDR.lanHost[v(family)], ttl: 63 };
  EXPR[`lan-in-${format}-${family}`] = fromHomeAgent(format, family, lan);
  EXPR[`lan-out-${format}-${family}`] = `${eth(MAC.mLan, MAC.lanHost)}/${inner(family, { ...lan, ttl: 62 })}`;
}
const down6 = { src: ADDR.cn.v6, dst: ADDR.home1.v6 };
EXPR['not-from-ha'] = `${eth(MAC.aMn, MAC.mn)}/${outer({ format: 'ip6', src: ADDR.careOf2.v6, dst: ADDR.careOf.v6 }, 6, innerLength(6, {}))}${inner(6, down6)}`;
EXPR['not-ours-inside'] = fromHomeAgent('ip6', 6, { src: ADDR.cn.v6, dst: ADDR.home2.v6 });
EXPR['wrong-port'] = fromHomeAgent('udp4', 6, down6, { sport: 4192 });
EXPR['from-care-of'] = `${eth(MAC.mip, MAC.mipPeer)}/${inner(6, { src: ADDR.careOf.v6, dst: ADDR.cn.v6 })}`;

beforeAll(() => {
  t = buildDataPlaneLab('dpmob');
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);

describe.each(CASES)('mobile role, format $format, inner IPv$family', ({ format, family }) => {
  beforeAll(() => t.mobile.install(mobileBinding(format)));

  it('a packet from the home address is tunnelled to the home agent', () => {
    const r = t.xdp(t.mobile, 'mip0p', frame(`enc-in-${format}-${family}`), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`enc-out-${format}-${family}`)));
    expect(r.delta).toEqual(changed({ events: { nh_learnt: 1 }, bindings: { 1: { encapPackets: 1, encapBytes: innerLength(family, {}) } } }));
  });

  it('a tunnel packet from the home agent to the home address goes up decapsulated', () => {
    const r = t.xdp(t.mobile, 'm0', frame(`dec-in-${format}-${family}`), [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(frame(`dec-out-${format}-${family}`)));
    // the FIB says "local": the stack delivers it
    expect(r.delta).toEqual(changed({ events: { stack_route: 1 }, bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });

  it('a tunnel packet to the mobile network prefix is forwarded onto the LAN', () => {
    const r = t.xdp(t.mobile, 'm0', frame(`lan-in-${format}-${family}`), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`lan-out-${format}-${family}`)));
    expect(r.delta).toEqual(changed({ bindings: { 1: { decapPackets: 1, decapBytes: innerLength(family, {}) } } }));
  });
});

describe('mobile role refuses', () => {
  it('a tunnel packet from anyone but the home agent (spoofed_outer)', () => {
    t.mobile.install(mobileBinding('ip6'));
    const r = t.xdp(t.mobile, 'm0', frame('not-from-ha'), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { spoofed_outer: 1 } }));
  });

  it('a tunnel packet whose inner destination is not ours (unknown_inner_source: the binding\'s key address)', () => {
    t.mobile.install(mobileBinding('ip6'));
    const r = t.xdp(t.mobile, 'm0', frame('not-ours-inside'), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { unknown_inner_source: 1 } }));
  });

  it('a UDP tunnel packet from the home agent\'s address but another port (spoofed_outer)', () => {
    t.mobile.install(mobileBinding('udp4'));
    const r = t.xdp(t.mobile, 'm0', frame('wrong-port'), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { spoofed_outer: 1 } }));
  });

  it('to tunnel what is not from a home address: it passes untouched', () => {
    t.mobile.install(mobileBinding('ip6'));
    const input = frame('from-care-of');
    const r = t.xdp(t.mobile, 'mip0p', input, [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({}));
  });
});
