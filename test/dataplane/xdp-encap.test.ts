/**
 * XDP encapsulation at the anchor (role anchor: the binding is chosen by the
 * inner DESTINATION), run with BPF_PROG_TEST_RUN in a namespace whose FIB
 * and neighbours are fixed (test/helpers/dataplane-lab.ts).
 *
 * For every tunnel format and inner family the output frame must be,
 * byte for byte, what scapy builds for that tunnel; tshark then dissects our
 * output as a second, independent reading. Also: longest-prefix match over
 * prefixes, next-hop learning and its cache, and what happens without a
 * neighbour, without a route, and with an expiring hop limit.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { Binding } from '../../control/dataplane/dataplane.js';
import {
  ADDR, MAC, XDP_DROP, XDP_PASS, XDP_REDIRECT, anchorTunnel, buildDataPlaneLab, changed, hex, type DataPlaneLab, named } from '../helpers/dataplane-lab.js';
import { FORMATS, eth, inner, innerLength, outer, sentBy, type Family, type Format } from '../helpers/frames.js';
import { scapy } from '../helpers/scapy.js';
import { LINKTYPE_RAW, field, protocols, tshark } from '../helpers/tshark.js';

let t: DataPlaneLab;
let f: Record<string, Buffer>;

const GOOD = '1'; // tshark's checksum status: 0 bad, 1 good, 2 unverified
const v = (family: Family) => (family === 6 ? 'v6' : 'v4') as 'v6' | 'v4';
const TOS = 0xb9; // DSCP 46 (EF) with ECT(1): copied to the outer header whole
const binding1 = (format: Format, mtu?: number): Binding => ({
  id: 1, tunnel: anchorTunnel(format, mtu), homeAddresses: [ADDR.home1.v6, ADDR.home1.v4], prefixes: [],
});
/** The MAC of the tunnel's next hop: the NAT sits behind the gateway. */
const nextHopMac = (format: Format) => (format === 'udp4' || format === 'udp4-tlv' ? MAC.gw : MAC.mn);

/* ---- every frame, built by scapy in one go ---- */

const EXPR: Record<string, string> = {};
const CASES = FORMATS.flatMap((format) => ([6, 4] as const).map((family) => ({ format, family })));
for (const { format, family } of CASES) {
  const spec = { src: ADDR.cn[v(family)], dst: ADDR.home1[v(family)], tos: TOS };
  EXPR[`in-${format}-${family}`] = `${eth(MAC.cn, MAC.aCn)}/${inner(family, spec)}`;
  EXPR[`out-${format}-${family}`] = `${eth(MAC.aMn, nextHopMac(format))}/`
    + `${outer(sentBy(anchorTunnel(format), { tos: TOS }), family, innerLength(family, spec))}${inner(family, { ...spec, ttl: 63 })}`;
}
// An IPv4 packet shorter than an IPv6 header (20 + 8 bytes, no payload).
EXPR['in-small4'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, payload: 0 })}`;
EXPR['out-small4'] = `${eth(MAC.aMn, MAC.mn)}/${outer(sentBy(anchorTunnel('ip4')), 4, 28)}${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, payload: 0, ttl: 63 })}`;

// Prefixes: binding 2 holds the /48 and /16, binding 3 the longer /64 and /24
// inside them, binding 4 a /64 and /24 around binding 1's home addresses.
const b2: Binding = { id: 2, tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: ADDR.careOf2.v6 }, homeAddresses: [], prefixes: ['2001:db8:100::/48', '10.200.0.0/16'] };
const b3: Binding = { id: 3, tunnel: { format: 'ip4', local: ADDR.anchor.v4, remote: ADDR.careOf.v4 }, homeAddresses: [], prefixes: ['2001:db8:100:5::/64', '10.200.5.0/24'] };
const b4: Binding = { id: 4, tunnel: { format: 'ip4', local: ADDR.anchor.v4, remote: ADDR.careOf2.v4 }, homeAddresses: [], prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] };
const LPM = [
  { dst: '2001:db8:100:6::1', family: 6, by: b2, why: 'only the /48 covers it' },
  { dst: '2001:db8:100:5::1', family: 6, by: b3, why: 'the /64 is longer than the /48' },
  { dst: '10.200.9.9', family: 4, by: b2, why: 'only the /16 covers it' },
  { dst: '10.200.5.9', family: 4, by: b3, why: 'the /24 is longer than the /16' },
  { dst: ADDR.home1.v6, family: 6, by: null, why: 'an exact home address beats any prefix' },
  { dst: ADDR.home1.v4, family: 4, by: null, why: 'an exact home address beats any prefix' },
] as const;
LPM.forEach(({ dst, family, by }, i) => {
  const spec = { src: ADDR.cn[v(family)], dst };
  const tunnel = by?.tunnel ?? anchorTunnel('ip6');
  const mac = by === b2 ? MAC.mn2 : MAC.mn;
  EXPR[`lpm-in-${i}`] = `${eth(MAC.cn, MAC.aCn)}/${inner(family, spec)}`;
  EXPR[`lpm-out-${i}`] = `${eth(MAC.aMn, mac)}/${outer(sentBy(tunnel), family, innerLength(family, spec))}${inner(family, { ...spec, ttl: 63 })}`;
});

// Next hops and hop limits.
EXPR['nh-out-newmac'] = `${eth(MAC.aMn, '02:b0:00:00:0f:99')}/${outer(sentBy(anchorTunnel('ip6')), 6, innerLength(6, {}))}${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6, ttl: 63 })}`;
EXPR['plain6'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6 })}`;
EXPR['plain6-out'] = `${eth(MAC.aMn, MAC.mn)}/${outer(sentBy(anchorTunnel('ip6')), 6, innerLength(6, {}))}${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6, ttl: 63 })}`;
EXPR['ttl1-6'] = `${eth(MAC.cn, MAC.aCn)}/${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6, ttl: 1 })}`;
EXPR['ttl1-4'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, ttl: 1 })}`;
EXPR['ttl0-4'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, ttl: 0 })}`;
EXPR['ttl2-4'] = `${eth(MAC.cn, MAC.aCn)}/${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, ttl: 2 })}`;
EXPR['ttl2-4-out'] = `${eth(MAC.aMn, MAC.mn)}/${outer(sentBy(anchorTunnel('ip6')), 4, innerLength(4, {}))}${inner(4, { src: ADDR.cn.v4, dst: ADDR.home1.v4, ttl: 1 })}`;

// The same packet into another tunnel of binding 1: IPv4 to mobile node 2's care-of address.
const TUNNEL_B = { format: 'ip4' as const, local: ADDR.anchor.v4, remote: ADDR.careOf2.v4 };
EXPR['plain6-out-b'] = `${eth(MAC.aMn, MAC.mn2)}/${outer(sentBy(TUNNEL_B), 6, innerLength(6, {}))}${inner(6, { src: ADDR.cn.v6, dst: ADDR.home1.v6, ttl: 63 })}`;

beforeAll(() => {
  t = buildDataPlaneLab('dpenc');
  f = scapy(EXPR);
});
afterAll(() => t?.destroy());

const frame = (name: string): Buffer => named(f, name);

describe.each(CASES)('format $format, inner IPv$family', ({ format, family }) => {
  beforeEach(() => t.anchor.install(binding1(format))); // a fresh entry: its next hop is learnt on the first packet

  it('is encapsulated towards the binding\'s remote end, byte for byte as scapy builds it', () => {
    const input = frame(`in-${format}-${family}`);
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`out-${format}-${family}`)));
    expect(r.delta).toEqual(changed({
      events: { nh_learnt: 1 },
      bindings: { 1: { encapPackets: 1, encapBytes: input.length - 14 } },
    }));
  });

  it('tshark reads our output as the tunnel we meant', () => {
    const r = t.xdp(t.anchor, 'a-cn', frame(`in-${format}-${family}`), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    const udp = format === 'udp4' || format === 'udp4-tlv';
    const [p] = tshark([r.frame], {
      decodeAs: format === 'udp4' ? [`udp.port==4191,${family === 6 ? 'ipv6' : 'ip'}`] : [],
      prefs: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'],
    });
    const tun = anchorTunnel(format);
    const innerSrc = ADDR.cn[v(family)], innerDst = ADDR.home1[v(family)];
    const innerProto = family === 6 ? 'ipv6' : 'ip';
    expect(field(p!, 'eth.src')).toEqual([MAC.aMn]);
    expect(field(p!, 'eth.dst')).toEqual([nextHopMac(format)]);

    if (format === 'ip6') {
      expect(field(p!, 'ipv6.src')[0]).toBe(tun.local);
      expect(field(p!, 'ipv6.dst')[0]).toBe(tun.remote);
      expect(field(p!, 'ipv6.nxt')[0]).toBe(family === 6 ? '41' : '4');
      expect(field(p!, 'ipv6.hlim')[0]).toBe('64');
      expect(Number(field(p!, 'ipv6.tclass')[0])).toBe(TOS);
      expect(Number(field(p!, 'ipv6.flow')[0])).toBe(0);
    } else {
      expect(field(p!, 'ip.src')[0]).toBe(tun.local);
      expect(field(p!, 'ip.dst')[0]).toBe(tun.remote);
      expect(field(p!, 'ip.proto')[0]).toBe(udp ? '17' : family === 6 ? '41' : '4');
      expect(field(p!, 'ip.ttl')[0]).toBe('64');
      expect(field(p!, 'ip.flags.df')[0]).toBe('1');
      expect(Number(field(p!, 'ip.id')[0])).toBe(0);
      expect(Number(field(p!, 'ip.dsfield')[0])).toBe(TOS);
      expect(field(p!, 'ip.checksum.status')[0]).toBe(GOOD);
    }
    if (tun.format === 'udp4' || tun.format === 'udp4-tlv') {
      expect(field(p!, 'udp.srcport')[0]).toBe(String(tun.localPort));
      expect(field(p!, 'udp.dstport')[0]).toBe(String(tun.remotePort));
      expect(Number(field(p!, 'udp.checksum')[0])).toBe(0);
      expect(field(p!, 'udp.length')[0]).toBe(String(8 + (format === 'udp4-tlv' ? 4 : 0) + innerLength(family, {})));
    }

    // the inner packet, dissected where it sits (for TLV: after the 4 bytes tshark does not know)
    let q = p!;
    if (format === 'udp4-tlv') {
      expect(protocols(p!)).toBe('eth:ethertype:ip:udp:data');
      const tlv = r.frame.subarray(14 + 20 + 8, 14 + 20 + 8 + 4);
      expect(hex(tlv)).toBe(hex(Buffer.from([family === 6 ? 2 : 1, innerLength(family, {}) & 0xff, 0, 0])));
      q = tshark([r.frame.subarray(14 + 20 + 8 + 4)], { linktype: LINKTYPE_RAW, prefs: ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'] })[0]!;
    } else {
      const outerProtos = format === 'ip6' ? 'ipv6' : format === 'ip4' ? 'ip' : 'ip:udp';
      expect(protocols(p!)).toBe(`eth:ethertype:${outerProtos}:${innerProto}:udp:data`);
    }
    const at = (name: string) => field(q!, name).at(-1);
    expect(at(`${innerProto}.src`)).toBe(innerSrc);
    expect(at(`${innerProto}.dst`)).toBe(innerDst);
    expect(at(family === 6 ? 'ipv6.hlim' : 'ip.ttl')).toBe('63');
    if (family === 4) expect(at('ip.checksum.status')).toBe(GOOD);
    expect(at('udp.srcport')).toBe('5000');
    expect(at('udp.dstport')).toBe('6000');
    expect(at('udp.checksum.status')).toBe(GOOD); // the inner packet is untouched but for its hop limit
  });
});

it('an IPv4 packet shorter than an IPv6 header is encapsulated too', () => {
  t.anchor.install(binding1('ip4'));
  const r = t.xdp(t.anchor, 'a-cn', frame('in-small4'), [1]);
  expect(r.verdict).toBe(XDP_REDIRECT);
  expect(hex(r.frame)).toBe(hex(frame('out-small4')));
  expect(r.delta).toEqual(changed({ events: { nh_learnt: 1 }, bindings: { 1: { encapPackets: 1, encapBytes: 28 } } }));
});

describe('prefixes: the longest match wins', () => {
  const learnt = new Set<number>(); // bindings whose next hop a case before learnt
  beforeAll(() => {
    t.anchor.install(binding1('ip6'));
    for (const b of [b2, b3, b4]) t.anchor.install(b);
  });
  afterAll(() => {
    for (const b of [b2, b3, b4]) t.anchor.remove(b.id);
  });

  it.each(LPM.map((c, i) => ({ ...c, i, id: c.by?.id ?? 1 })))('to $dst: binding $id ($why)', ({ i, id }) => {
    const input = frame(`lpm-in-${i}`);
    const r = t.xdp(t.anchor, 'a-cn', input, [1, 2, 3, 4]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame(`lpm-out-${i}`)));
    // a binding's first packet learns its tunnel's next hop, which its other addresses and prefixes share
    expect(r.delta).toEqual(changed({ ...(learnt.has(id) ? {} : { events: { nh_learnt: 1 } }), bindings: { [id]: { encapPackets: 1, encapBytes: input.length - 14 } } }));
    learnt.add(id);
  });
});

describe('next hop', () => {
  it('is learnt from the FIB on first use, kept in the binding\'s tunnel, and forgotten by flushNexthops()', () => {
    t.anchor.install(binding1('ip6'));
    expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).toBeNull();

    const first = t.xdp(t.anchor, 'a-cn', frame('plain6'), [1]);
    expect(first.verdict).toBe(XDP_REDIRECT);
    expect(hex(first.frame)).toBe(hex(frame('plain6-out')));
    expect(first.delta.events).toEqual({ nh_learnt: 1 });
    expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).toEqual({ ifindex: t.ifindex(t.anchor, 'a-mn'), mtu: 1500, smac: MAC.aMn, dmac: MAC.mn });
    // the binding's one tunnel: its IPv4 home address has the next hop too
    expect(t.anchor.lookupEntry(ADDR.home1.v4)?.nexthop).toEqual(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop);

    const second = t.xdp(t.anchor, 'a-cn', frame('plain6'), [1]);
    expect(hex(second.frame)).toBe(hex(frame('plain6-out')));
    expect(second.delta).toEqual(changed({ bindings: { 1: { encapPackets: 1, encapBytes: 80 } } }));

    // the neighbour changes: the cache still holds the old MAC until flushed
    try {
      t.exec(t.ns.anchor, `ip neigh replace ${ADDR.careOf.v6} lladdr 02:b0:00:00:0f:99 dev a-mn nud permanent`);
      expect(hex(t.xdp(t.anchor, 'a-cn', frame('plain6')).frame)).toBe(hex(frame('plain6-out')));
      t.anchor.flushNexthops();
      expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).toBeNull();
      const relearnt = t.xdp(t.anchor, 'a-cn', frame('plain6'), [1]);
      expect(hex(relearnt.frame)).toBe(hex(frame('nh-out-newmac')));
      expect(relearnt.delta.events).toEqual({ nh_learnt: 1 });
      expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop?.dmac).toBe('02:b0:00:00:0f:99');
    } finally {
      t.exec(t.ns.anchor, `ip neigh replace ${ADDR.careOf.v6} lladdr ${MAC.mn} dev a-mn nud permanent`);
      t.anchor.flushNexthops();
    }
  });

  it('without a neighbour entry the packet goes up untouched for TC to tunnel (stack_no_neigh)', () => {
    t.anchor.install({ ...binding1('ip6'), tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: '2001:db8:f::9' } });
    const input = frame('plain6');
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({ events: { stack_no_neigh: 1 } }));
    expect(t.anchor.lookupEntry(ADDR.home1.v6)?.nexthop).toBeNull();
  });

  it('without a route to the remote end the packet is dropped (no_route)', () => {
    t.anchor.install({ ...binding1('ip6'), tunnel: { format: 'ip6', local: ADDR.anchor.v6, remote: '2001:db8:dead::1' } });
    const r = t.xdp(t.anchor, 'a-cn', frame('plain6'), [1]);
    expect(r.verdict).toBe(XDP_DROP);
    expect(r.delta).toEqual(changed({ drops: { no_route: 1 } }));
  });
});

describe('a tunnel rewritten while packets read it', () => {
  it('every packet leaves in one whole tunnel or the other while another process flips it as fast as it can', async () => {
    const a = binding1('ip6');
    t.anchor.install(a);
    const busy = () => t.anchor.events().tunnel_busy!;
    const busyBefore = busy();
    const flipper = spawn(process.execPath, ['--import', 'tsx', '-e', `
      import('${new URL('../../control/dataplane/dataplane.ts', import.meta.url).pathname}').then(({ DataPlane }) => {
        const dp = DataPlane.open({ instance: '${t.anchor.options.instance}', role: 'anchor' });
        const tunnels = [${JSON.stringify(TUNNEL_B)}, ${JSON.stringify(a.tunnel)}];
        const end = Date.now() + 1500;
        let flips = 0;
        for (; Date.now() < end; flips++) dp.install({ ...${JSON.stringify(a)}, tunnel: tunnels[flips % 2] });
        dp.close();
        console.log('flips', flips);
      });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    flipper.stdout.on('data', (d) => (output += d));
    const seen = new Map<string, number>();
    const input = frame('plain6');
    const ingressIfindex = t.ifindex(t.anchor, 'a-cn');
    for (const deadline = Date.now() + 10_000; !output && Date.now() < deadline;) {
      t.within(t.anchor, () => {
        for (let i = 0; i < 200; i++) {
          const r = t.anchor.testRun('xdp', input, { ingressIfindex });
          const key = `${r.verdict} ${r.frame.toString('hex')}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      });
      await new Promise((r) => setImmediate(r)); // let the child's output in
    }
    expect(output).toMatch(/^flips \d+/);
    expect(Number(output.split(' ')[1])).toBeGreaterThan(1000);
    const whole = [`${XDP_REDIRECT} ${hex(frame('plain6-out'))}`, `${XDP_REDIRECT} ${hex(frame('plain6-out-b'))}`];
    const untouched = `${XDP_PASS} ${hex(input)}`; // its slot busy at every try: no binding for it, counted
    expect([...seen].filter(([k]) => !whole.includes(k) && k !== untouched).map(([k, n]) => `${n}x ${k}`)).toEqual([]); // nothing torn, nothing dropped
    expect(whole.every((k) => (seen.get(k) ?? 0) > 0)).toBe(true);
    expect(BigInt(seen.get(untouched) ?? 0)).toBe(busy() - busyBefore);
    const packets = [...seen.values()].reduce((a, b) => a + b, 0);
    console.log(`${packets} packets, ${seen.get(untouched) ?? 0} with the slot busy, ${output.trim()}`);
  }, 20_000);
});

describe('hop limit', () => {
  beforeAll(() => t.anchor.install(binding1('ip6')));

  it.each(['ttl1-6', 'ttl1-4', 'ttl0-4'])('%s: expiring here, handed to the stack untouched (stack_ttl)', (name) => {
    const input = frame(name);
    const r = t.xdp(t.anchor, 'a-cn', input, [1]);
    expect(r.verdict).toBe(XDP_PASS);
    expect(hex(r.frame)).toBe(hex(input));
    expect(r.delta).toEqual(changed({ events: { stack_ttl: 1 } }));
  });

  it('TTL 2 leaves with TTL 1 (the IPv4 checksum updated to match)', () => {
    const r = t.xdp(t.anchor, 'a-cn', frame('ttl2-4'), [1]);
    expect(r.verdict).toBe(XDP_REDIRECT);
    expect(hex(r.frame)).toBe(hex(frame('ttl2-4-out')));
  });
});
