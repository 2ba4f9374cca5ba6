/**
 * End to end: real pings and TCP between network namespaces, through the
 * anchor's data plane and a mobile node running the same data plane in the
 * mobile role, in every tunnel format, directly and through a NAT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addr, buildTunnelLab, NAT_PORT, type TunnelLab } from '../../control/lab/tunnel-lab.js';
import { ping, tcpEcho } from '../../control/lab/traffic.js';
import type { BindingCounters } from '../../control/dataplane/layout.js';

const TCP_BYTES = 256 * 1024;
const families = ['v6', 'v4'] as const;

let t: TunnelLab;
beforeAll(() => { t = buildTunnelLab('e2e'); });
afterAll(() => t?.destroy());

const grew = (before: BindingCounters, after: BindingCounters) => ({
  encap: after.encapPackets - before.encapPackets,
  decap: after.decapPackets - before.decapPackets,
});

/** The drop counters that moved, by how much. */
function dropsMoved(before: Record<string, bigint>, after: Record<string, bigint>): Record<string, bigint> {
  return Object.fromEntries(Object.entries(after).filter(([k, v]) => v !== before[k]).map(([k, v]) => [k, v - (before[k] ?? 0n)]));
}

describe.each(['ip6', 'ip4', 'udp4', 'udp4-tlv'] as const)('format %s, mobile node on a visited link', (format) => {
  beforeAll(() => {
    t.useFormat(t.mn, format);
    // forget the path MTU learnt through the previous format's tunnel
    t.lab.exec(t.ns.cn, 'ip route flush cache && ip -6 route flush cache');
  });

  it.each(families)('the correspondent pings and talks TCP to the IP%s home address', async (family) => {
    const home = t.mn.home[family];
    const anchorDrops = t.anchor.drops();
    const mnDrops = t.mn.dataPlane.drops();
    const atAnchor = t.anchor.bindingCounters(t.mn.bindingId);
    const atMn = t.mn.dataPlane.bindingCounters(t.mn.bindingId);

    expect(await ping(t.ns.cn, home)).toEqual({ sent: 3, received: 3 });
    expect(await tcpEcho(t.mn.ns, home, t.ns.cn, TCP_BYTES)).toEqual({ ok: true, sent: TCP_BYTES, received: TCP_BYTES });

    // every packet crossed the tunnel both ways, counted on both ends
    const anchorGrew = grew(atAnchor, t.anchor.bindingCounters(t.mn.bindingId));
    const mnGrew = grew(atMn, t.mn.dataPlane.bindingCounters(t.mn.bindingId));
    expect(anchorGrew.encap).toBeGreaterThan(TCP_BYTES / 1500);
    expect(anchorGrew.decap).toBeGreaterThan(TCP_BYTES / 1500);
    expect(mnGrew.decap).toBe(anchorGrew.encap);
    expect(mnGrew.encap).toBe(anchorGrew.decap);
    expect(dropsMoved(anchorDrops, t.anchor.drops())).toEqual({});
    expect(dropsMoved(mnDrops, t.mn.dataPlane.drops())).toEqual({});
  });

  it.each(families)('the anchor host itself reaches the IP%s home address (TC egress)', async (family) => {
    const before = t.anchor.bindingCounters(t.mn.bindingId);
    expect(await ping(t.ns.anchor, t.mn.home[family])).toEqual({ sent: 3, received: 3 });
    expect(grew(before, t.anchor.bindingCounters(t.mn.bindingId)).encap).toBe(3n);
  });

  it.each(families)('a too-big IP%s packet gets an ICMP error carrying the tunnel MTU', async (family) => {
    const overhead = { ip6: 40, ip4: 20, udp4: 28, 'udp4-tlv': 32 }[format];
    const before = t.anchor.drops().too_big!;
    const size = family === 'v4' ? 1472 : 1452; // a 1500-byte packet
    const out = t.lab.exec(t.ns.cn, `ping -n -c 1 -W 1 -M do -s ${size} ${t.mn.home[family]} 2>&1 || true`);
    const mtu = 1500 - overhead;
    expect(out).toMatch(family === 'v4' ? new RegExp(`mtu = ${mtu}`) : new RegExp(`mtu=${mtu}`));
    expect(t.anchor.drops().too_big! - before).toBe(1n);
    // the correspondent learnt the path MTU, and a packet that fits now gets through
    expect(t.lab.exec(t.ns.cn, `ip route get ${t.mn.home[family]}`)).toMatch(new RegExp(`mtu ${mtu}`));
    expect(await ping(t.ns.cn, t.mn.home[family], 1)).toEqual({ sent: 1, received: 1 });
  });
});

describe.each(['udp4', 'udp4-tlv'] as const)('format %s, mobile node behind a masquerading NAT', (format) => {
  beforeAll(() => t.useFormat(t.mnn, format));

  it.each(families)('IP%s traffic flows both ways through the NAT-mapped port', async (family) => {
    const home = t.mnn.home[family];
    const cn = addr.cn[family];
    // the mobile node speaks first: that opens the NAT mapping (in real life its Binding Update does)
    expect(await ping(t.mnn.ns, cn)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.cn, home)).toEqual({ sent: 3, received: 3 });
    expect(await tcpEcho(t.mnn.ns, home, t.ns.cn, TCP_BYTES)).toEqual({ ok: true, sent: TCP_BYTES, received: TCP_BYTES });
    expect(await tcpEcho(t.ns.cn, cn, t.mnn.ns, TCP_BYTES, 7778)).toEqual({ ok: true, sent: TCP_BYTES, received: TCP_BYTES });
    const entry = t.anchor.lookupEntry(home);
    expect(entry).toMatchObject({ format, remote: addr.natOutside.v4, remotePort: NAT_PORT, localPort: 4191 });
  });
});

describe('reverse tunnel checks on real traffic', () => {
  beforeAll(() => {
    t.useFormat(t.mn, 'udp4');
    t.useFormat(t.mnn, 'udp4');
  });

  /** Sends a scapy-built tunnel packet from namespace ns; returns what the anchor decapsulated and dropped. */
  function sendAndCount(ns: string, packet: string): { decapsulated: bigint; dropped: Record<string, bigint> } {
    const drops = t.anchor.drops();
    const counters = t.anchor.bindingCounters(t.mn.bindingId);
    t.lab.exec(ns, `/usr/bin/python3 -c "from scapy.all import *; send(${packet}, verbose=0)"`);
    return { decapsulated: grew(counters, t.anchor.bindingCounters(t.mn.bindingId)).decap, dropped: dropsMoved(drops, t.anchor.drops()) };
  }

  const udp = (sport: number) => `IP(src='${addr.mnCareOf.v4}', dst='${addr.anchorVisited.v4}')/UDP(sport=${sport}, dport=4191)`;
  const echo = (src: string) => `IPv6(src='${src}', dst='${addr.cn.v6}')/ICMPv6EchoRequest()`;

  it.each([
    ['the registered endpoint, right port', udp(4191), addr.mnHome.v6, {}],
    ['the registered endpoint, wrong UDP source port', udp(5555), addr.mnHome.v6, { spoofed_outer: 1n }],
    ["another mobile node's home address as inner source", udp(4191), addr.mnnHome.v6, { spoofed_outer: 1n }],
    ['an inner source that is no home address', udp(4191), '2001:db8:9::9', { unknown_inner_source: 1n }],
    ['IPv6-in-IPv4 when the binding is UDP', `IP(src='${addr.mnCareOf.v4}', dst='${addr.anchorVisited.v4}', proto=41)`, addr.mnHome.v6, { format_mismatch: 1n }],
  ] as [string, string, string, Record<string, bigint>][])('from %s', (_what, outer, innerSrc, dropped) => {
    const accepted = Object.keys(dropped).length === 0;
    expect(sendAndCount(t.mn.ns, `${outer}/${echo(innerSrc)}`)).toEqual({ decapsulated: accepted ? 1n : 0n, dropped });
  });
});
