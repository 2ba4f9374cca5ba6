/**
 * Signalling leaves the kernel path whole and replies go back: a Binding
 * Update behind a Home Address option (which this kernel would drop with an
 * ICMPv6 parameter problem) and one inside UDP through a NAT reach the
 * anchor's control plane with their outer addresses, ports and interface;
 * a Binding Acknowledgement with a type 2 routing header, and one inside
 * UDP, reach the mobile node's. Packets are built by scapy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addr, buildTunnelLab, DSMIP_PORT, NAT_PORT, type TunnelLab } from '../../control/lab/tunnel-lab.js';
import { SignallingChannel, unwrapSignal, type SignalPacket } from '../../control/signalling/channel.js';
import { ifIndex } from '../../control/sys/libc.js';
import { scapy } from '../helpers/scapy.js';
import { decodeMobilityHeader } from '../../control/wire/mh/index.js';
import type { DataPlane } from '../../control/dataplane/dataplane.js';

let t: TunnelLab;
let channel: SignallingChannel;
const atAnchor: SignalPacket[] = [];
const atMobile: Record<'mn' | 'mnn', SignalPacket[]> = { mn: [], mnn: [] };

beforeAll(() => {
  t = buildTunnelLab('sig');
  channel = t.lab.within(t.ns.anchor, () => new SignallingChannel(t.anchor, (p) => atAnchor.push(p)));
  for (const node of [t.mn, t.mnn]) node.dataPlane.onSignal((f) => atMobile[node.name].push(unwrapSignal(f)));
});
afterAll(() => {
  channel?.close();
  t?.destroy();
});

async function next(queue: SignalPacket[], ms = 3000): Promise<SignalPacket> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const p = queue.shift();
    if (p) return p;
  }
  throw new Error('no signalling packet arrived');
}

/** Sends a scapy-built layer-3 packet from namespace ns. */
function sendFrom(ns: string, expr: string): void {
  t.lab.exec(ns, `/usr/bin/python3 -c "from scapy.all import *; from scapy.layers.inet6 import *; send(${expr}, verbose=0)"`);
}

function icmp6ParamProblems(): number {
  const out = t.lab.exec(t.ns.anchor, 'nstat -az Icmp6OutParmProblems Ip6InHdrErrors');
  return [...out.matchAll(/\s(\d+)\s/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const ha6 = addr.anchorVisited.v6;
const bu = 'MIP6MH_BU(seq=7, flags=0b1100000, mhtime=30)'; // A and H flags; 30 x 4 s
const ba = `MIP6MH_BA(status=0, seq=7, mhtime=30)`;

describe('signalling to the anchor', () => {
  it('a BU behind a Home Address option arrives whole, with its interface, and the kernel never sees it', async () => {
    const expr = `IPv6(src='${addr.mnCareOf.v6}', dst='${ha6}')/IPv6ExtHdrDestOpt(options=[HAO(hoa='${addr.mnHome.v6}')])/${bu}`;
    const { packet } = scapy({ packet: expr });
    const kernelErrors = icmp6ParamProblems();
    sendFrom(t.mn.ns, expr);
    const got = await next(atAnchor);
    expect(got).toMatchObject({ transport: 'ipv6', outer: { src: addr.mnCareOf.v6, dst: ha6 } });
    expect(got.ifindex).toBe(t.lab.within(t.ns.anchor, () => ifIndex('a-mn')));
    expect(got.ipv6.toString('hex')).toBe(packet.toString('hex'));
    expect(got.signalling).toMatchObject({ homeAddressOption: addr.mnHome.v6, mhChecksumOk: true });
    expect(decodeMobilityHeader(got.signalling.mh)).toMatchObject({ type: 'bindingUpdate', sequence: 7, lifetime: 120, flags: { a: true, h: true, l: false } });
    expect(icmp6ParamProblems()).toBe(kernelErrors);
    expect(t.anchor.events().signal).toBeGreaterThanOrEqual(1n);
  });

  it('a BU inside UDP through the NAT arrives with the NAT-mapped address and port', async () => {
    const inner = `IPv6(src='${addr.mnnHome.v6}', dst='${ha6}')/${bu}`;
    const { packet } = scapy({ packet: inner });
    sendFrom(t.mnn.ns, `IP(src='${addr.mnnCareOf.v4}', dst='${addr.anchorNat.v4}')/UDP(sport=${DSMIP_PORT}, dport=${DSMIP_PORT})/${inner}`);
    const got = await next(atAnchor);
    expect(got).toMatchObject({
      transport: 'udp4',
      outer: { src: addr.natOutside.v4, srcPort: NAT_PORT, dst: addr.anchorNat.v4, dstPort: DSMIP_PORT, tlv: false },
    });
    expect(got.ifindex).toBe(t.lab.within(t.ns.anchor, () => ifIndex('a-nat')));
    expect(got.ipv6.toString('hex')).toBe(packet.toString('hex'));
    expect(got.signalling.mhChecksumOk).toBe(true);
  });

  it('an MH to an address that is not an endpoint is not taken', async () => {
    const before = t.anchor.events().signal!;
    sendFrom(t.ns.cn, `IPv6(src='${addr.cn.v6}', dst='${addr.anchorCn.v6}')/${bu}`);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.anchor.events().signal).toBe(before);
    expect(atAnchor).toEqual([]);
  });
});

describe('replies to the mobile node', () => {
  const expectAt = async (node: 'mn' | 'mnn', dp: DataPlane, bytes: Buffer, outer: object) => {
    const got = await next(atMobile[node]);
    expect(got).toMatchObject({ outer });
    expect(got.ipv6.toString('hex')).toBe(bytes.toString('hex'));
    expect(decodeMobilityHeader(got.signalling.mh)).toMatchObject({ type: 'bindingAcknowledgement', status: 0, sequence: 7 });
    expect(dp.events().signal).toBeGreaterThanOrEqual(1n);
  };

  it('a BA with a type 2 routing header leaves the anchor and reaches the mobile node whole', async () => {
    const { packet } = scapy({
      packet: `IPv6(src='${ha6}', dst='${addr.mnCareOf.v6}')/IPv6ExtHdrRouting(type=2, segleft=1, addresses=['${addr.mnHome.v6}'])/${ba}`,
    });
    channel.sendIpv6(packet);
    await expectAt('mn', t.mn.dataPlane, packet, { src: ha6, dst: addr.mnCareOf.v6 });
  });

  it.each([false, true])('a BA inside UDP (TLV header: %s) crosses the NAT back to the mobile node', async (tlv) => {
    const { packet } = scapy({ packet: `IPv6(src='${ha6}', dst='${addr.mnnHome.v6}')/${ba}` });
    channel.sendUdp4(packet, { src: addr.anchorNat.v4, srcPort: DSMIP_PORT, dst: addr.natOutside.v4, dstPort: NAT_PORT, tlv });
    await expectAt('mnn', t.mnn.dataPlane, packet, {
      src: addr.anchorNat.v4, srcPort: DSMIP_PORT, dst: addr.mnnCareOf.v4, dstPort: DSMIP_PORT, tlv,
    });
  });

  it('replies sent together all leave; one the kernel refuses is returned, the ones after it still go', async () => {
    const toMn = (seq: number) => scapy({ packet: `IPv6(src='${ha6}', dst='${addr.mnCareOf.v6}')/IPv6ExtHdrRouting(type=2, segleft=1, addresses=['${addr.mnHome.v6}'])/MIP6MH_BA(status=0, seq=${seq}, mhtime=30)` }).packet;
    const nowhere = scapy({ packet: `IPv6(src='${ha6}', dst='2001:db8:dead::1')/${ba}` }).packet; // no route to it from the anchor
    const { packet: toMnn } = scapy({ packet: `IPv6(src='${ha6}', dst='${addr.mnnHome.v6}')/${ba}` });
    const first = toMn(7);
    const last = toMn(8);
    const refused = channel.sendTogether(() => {
      channel.sendIpv6(first);
      channel.sendIpv6(nowhere);
      channel.sendUdp4(toMnn, { src: addr.anchorNat.v4, srcPort: DSMIP_PORT, dst: addr.natOutside.v4, dstPort: NAT_PORT });
      channel.sendIpv6(last);
    });
    expect(refused).toHaveLength(1);
    expect(refused[0]!.packet).toBe(nowhere);
    expect(refused[0]!.error.message).toMatch(/errno 101/); // ENETUNREACH
    await expectAt('mn', t.mn.dataPlane, first, { src: ha6, dst: addr.mnCareOf.v6 });
    const after = await next(atMobile.mn);
    expect(after.ipv6.toString('hex')).toBe(last.toString('hex'));
    await expectAt('mnn', t.mnn.dataPlane, toMnn, { src: addr.anchorNat.v4, dst: addr.mnnCareOf.v4 });
  });
});
