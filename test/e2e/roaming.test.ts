/**
 * The mobile node roams for real: our mobile node daemon (its own data plane
 * in its namespace) and our home agent daemon (the anchor's data plane),
 * talking over the lab's links. The node moves through an IPv6-only
 * network, public IPv4, IPv4 behind a NAT, and the home link as IPv4-only,
 * IPv6-only and dual stack, while a correspondent holds a TCP session open
 * to each home address: both must survive every move. After each move the
 * test checks the binding cache, both data planes' entries, and pings; the
 * home link is captured throughout, for who announced the home addresses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomeAgentDaemon } from '../../control/ha/daemon.js';
import { buildRoamingLab, NAT_PORT, roamingAddr as a, type NetworkName, type RoamingLab } from '../../control/lab/roaming-lab.js';
import { openTcpSession, ping, type TcpSession } from '../../control/lab/traffic.js';
import { MobileNodeDaemon } from '../../control/mn/daemon.js';
import { readCapture } from '../../control/wire/pcap.js';
import { field, LINKTYPE_ETHERNET, LINKTYPE_RAW, tshark } from '../helpers/tshark.js';

let t: RoamingLab;
let ha: HomeAgentDaemon;
let mn: MobileNodeDaemon;
const log: string[] = [];
const sessions: TcpSession[] = [];
const dir = mkdtempSync(join(tmpdir(), 'roaming-'));
const capture = join(dir, 'signalling.pcap');
const homeLinkCapture = join(dir, 'home-link.pcap');
let homeLinkDumpcap: ChildProcess | undefined;

beforeAll(async () => {
  t = buildRoamingLab('rme');
  // the home link's ARP and ICMPv6, as a home host's interface sees them (dumpcap says so on stderr once it captures)
  const dumpcap = homeLinkDumpcap = spawn('ip', ['netns', 'exec', t.ns.home, 'dumpcap', '-P', '-i', 'br0', '-f', 'arp or icmp6', '-w', homeLinkCapture], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  dumpcap.stderr!.on('data', (d: Buffer) => { said += d.toString(); });
  for (const end = Date.now() + 5000; !said.includes('Capturing on') && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  if (!said.includes('Capturing on')) throw new Error(`dumpcap did not start: ${said}`);
  ha = new HomeAgentDaemon(t.haConfig, t.anchor, { capture, log: (e) => log.push(`ha: ${e}`) });
  t.lab.within(t.ns.anchor, () => ha.start());
  mn = new MobileNodeDaemon(t.mnConfig, t.mobile, { netns: t.ns.mn, log: (e) => log.push(`mn: ${e}`) });
});
afterAll(async () => {
  homeLinkDumpcap?.kill();
  for (const s of sessions.splice(0)) await s.stop();
  mn?.stop();
  ha?.stop();
  t?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function settle(kind: string): Promise<void> {
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if (mn.node.where.kind === kind && !mn.node.awaitingAck && (kind === 'home') === (mn.node.registration === null)) return;
  }
  throw new Error(`not settled as ${kind}:\n${log.join('\n')}`);
}

async function move(network: NetworkName, kind: string): Promise<void> {
  t.moveTo(network);
  mn.moved();
  await settle(kind);
}

/** The MAC a home-link host has for the node's IPv4 home address (its ARP cache). */
const homeHostSees = (address: string): string | undefined =>
  (JSON.parse(t.lab.exec(t.ns.home, `ip -j neigh show ${address} dev br0`)) as { lladdr?: string }[])[0]?.lladdr;
const macOf = (ns: string, ifname: string): string => (JSON.parse(t.lab.exec(ns, `ip -j link show dev ${ifname}`)) as { address: string }[])[0]!.address;

const expectPings = async () => {
  expect(await ping(t.ns.cn, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
  expect(await ping(t.ns.cn, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
};

describe('a mobile node roaming with TCP sessions open to both home addresses', () => {
  it('registers from the IPv6-only network: ip6 tunnel at both ends', async () => {
    t.moveTo('v6');
    mn.start();
    await settle('away6');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: '2001:db8:f::2', natDetected: false, ipv4HomeAddress: a.mnHome.v4 });
    for (const home of [a.mnHome.v6, a.mnHome.v4]) {
      expect(t.anchor.lookupEntry(home)).toMatchObject({ format: 'ip6', local: a.ha.v6, remote: '2001:db8:f::2' });
      expect(t.mobile.lookupEntry(home)).toMatchObject({ format: 'ip6', local: '2001:db8:f::2', remote: a.ha.v6 });
    }
    await expectPings();
    // the node's own applications use its home addresses: its pings go out through the tunnel, not from the care-of address
    const decapBefore = t.anchor.bindingCounters(1).decapPackets;
    expect(await ping(t.ns.mn, a.cn.v6)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.mn, a.cn.v4)).toEqual({ sent: 3, received: 3 });
    expect(t.anchor.bindingCounters(1).decapPackets - decapBefore).toBe(6n);
    // the home agent answers on the home link for the away node (proxy ARP/ND in its data plane)
    expect(await ping(t.ns.home, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
    expect(await ping(t.ns.home, a.mnHome.v6)).toEqual({ sent: 3, received: 3 });
    for (const address of [a.mnHome.v4, a.mnHome.v6]) expect(homeHostSees(address)).toBe(macOf(t.ns.anchor, 'a-home'));
    sessions.push(await openTcpSession(t.ns.mn, a.mnHome.v6, t.ns.cn, 7001), await openTcpSession(t.ns.mn, a.mnHome.v4, t.ns.cn, 7002));
    await new Promise((r) => setTimeout(r, 300));
  });

  it('moves to public IPv4: UDP BU, no NAT, IP-in-IP', async () => {
    await move('v4', 'away4');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: '198.51.100.2', natDetected: false, binding: { homeAddresses: [a.mnHome.v6, a.mnHome.v4] } });
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip4', local: a.ha.v4, remote: '198.51.100.2' });
    expect(t.mobile.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'ip4', local: '198.51.100.2', remote: a.ha.v4 });
    expect(t.anchor.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'ip4', local: a.ha.v4, remote: '198.51.100.2' });
    expect(t.mobile.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip4', local: '198.51.100.2', remote: a.ha.v4 });
    await expectPings();
  });

  it('moves behind the NAT: NAT detected, UDP tunnel to the NAT\'s address and port', async () => {
    await move('nat', 'away4');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: '10.0.0.2', natDetected: true });
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'udp4', local: a.ha.v4, remote: a.natOutside, localPort: 4191, remotePort: NAT_PORT });
    expect(t.mobile.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'udp4', local: '10.0.0.2', remote: a.ha.v4, localPort: 4191, remotePort: 4191 });
    expect(mn.node.registration).toMatchObject({ natDetected: true });
    await expectPings();
  });

  it('comes home to an IPv4-only home link: IPv6 tunnelled in IPv4 to the IPv4 home address', async () => {
    await move('home4', 'home4');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: a.mnHome.v4, natDetected: false, binding: { homeAddresses: [a.mnHome.v6] } });
    expect(t.mobile.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'ip4', local: a.mnHome.v4, remote: a.ha.v4 });
    expect(t.mobile.lookupEntry(a.mnHome.v4)).toBeNull();
    expect(t.anchor.lookupEntry(a.mnHome.v6)).toMatchObject({ format: 'ip4', local: a.ha.v4, remote: a.mnHome.v4 });
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toBeNull();
    await expectPings();
  });

  it('on an IPv6-only home link: IPv4 tunnelled in IPv6 to the IPv6 home address', async () => {
    await move('home6', 'home6');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: a.mnHome.v6, binding: { homeAddresses: [a.mnHome.v4] } });
    expect(t.mobile.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip6', local: a.mnHome.v6, remote: a.ha.v6 });
    expect(t.mobile.lookupEntry(a.mnHome.v6)).toBeNull();
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip6', local: a.ha.v6, remote: a.mnHome.v6 });
    expect(t.anchor.lookupEntry(a.mnHome.v6)).toBeNull();
    await expectPings();
  });

  it('on an IPv6-only home link that hands out another address: the node puts its home address there too', async () => {
    await move('home6other', 'home6');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: a.mnHome.v6, binding: { homeAddresses: [a.mnHome.v4] } });
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip6', local: a.ha.v6, remote: a.mnHome.v6 });
    expect(t.lab.exec(t.ns.mn, 'ip -6 -br addr show dev home0 scope global')).toContain(`${a.mnHome.v6}/64`);
    await expectPings();
  });

  it('at home in both families: deregistered, nothing tunnelled, traffic native', async () => {
    await move('home', 'home');
    expect(ha.homeAgent.binding('mn@example.net')).toBeUndefined();
    expect(t.anchor.bindingIds()).toEqual([]);
    expect(t.mobile.bindingIds()).toEqual([]);
    await expectPings();
    // the node told the home link it is back (unsolicited NA, gratuitous ARP): no proxy answers remain cached
    for (const address of [a.mnHome.v4, a.mnHome.v6]) expect(homeHostSees(address)).toBe(macOf(t.ns.mn, 'home0'));
    expect(await ping(t.ns.home, a.mnHome.v4)).toEqual({ sent: 3, received: 3 });
  });

  it('leaves home again, and both TCP sessions have come through every move intact', async () => {
    await move('v6', 'away6');
    expect(ha.homeAgent.binding('mn@example.net')).toMatchObject({ careOf: '2001:db8:f::2', binding: { homeAddresses: [a.mnHome.v6, a.mnHome.v4] } });
    expect(t.anchor.lookupEntry(a.mnHome.v4)).toMatchObject({ format: 'ip6', local: a.ha.v6, remote: '2001:db8:f::2' });
    await expectPings();
    // and the home agent told it the node has gone (gratuitous ARP, unsolicited NA from the anchor)
    for (const address of [a.mnHome.v4, a.mnHome.v6]) expect(homeHostSees(address)).toBe(macOf(t.ns.anchor, 'a-home'));
    const results = await Promise.all(sessions.splice(0).map((s) => s.stop()));
    for (const r of results) {
      expect(r).toMatchObject({ ok: true });
      expect(r.echoed).toBeGreaterThan(20);
      expect(r.longestGapMs).toBeLessThan(5000); // a move costs a retransmission or three (~1.7 s here), not a stall
    }
  });

  it('every BA, as tshark reads the home agent\'s capture: accepted, the node\'s lifetime and IPv4 home address, the NAT detection option only behind the NAT, signed with its SPI', () => {
    const packets = tshark(readCapture(readFileSync(capture)).map((f) => f.data), { linktype: LINKTYPE_RAW, decodeAs: ['udp.port==4191,ipv6'] });
    const described = packets.filter((p) => field(p, 'mip6.mhtype').includes('6')).map((p) => ({
      to: field(p, 'ip.dst')[0] ?? field(p, 'ipv6.dst')[0],
      status: field(p, 'mip6.ba.status'), lifetime: field(p, 'mip6.ba.lifetime'), natRefresh: field(p, 'mip6.natd.refresh_t'), natForced: field(p, 'mip6.natd.f_flag'),
      ipv4Ack: [...field(p, 'mip6.ipv4aa.sts'), ...field(p, 'mip6.ipv4ha.ha'), ...field(p, 'mip6.ipv4ha.preflen')], nai: field(p, 'mip6.mnid.identifier'),
      spi: field(p, 'mip6.auth.mobility_spi'),
    }));
    // one BA per move (a BA sent again, its BU retransmitted on a busy machine, is the same BA)
    const bas = described.filter((d, i) => i === 0 || JSON.stringify(d) !== JSON.stringify(described[i - 1]));
    const spi = [String(t.haConfig.mobileNodes[0]!.spi)];
    const accepted = (to: string, lifetime = '150', natRefresh: string[] = [], ipv4Ack = ['0', a.mnHome.v4, '32']) =>
      ({ to, status: ['0'], lifetime: [lifetime], natRefresh, natForced: natRefresh.map(() => '0'), ipv4Ack, nai: ['mn@example.net'], spi });
    expect(bas).toEqual([
      accepted('2001:db8:f::2'), // IPv6-only: to the care-of address (with a type 2 routing header)
      accepted('198.51.100.2'), // public IPv4: in UDP to it
      accepted(a.natOutside, '150', ['20']), // behind the NAT: to the NAT's address, with the refresh time
      accepted(a.mnHome.v4), // IPv4-wise at home: to the IPv4 home address
      accepted(a.mnHome.v6), // IPv6-wise at home: to the IPv6 home address, no routing header
      accepted(a.mnHome.v6, '0', [], []), // at home: deregistered
      accepted('2001:db8:f::2'),
    ]);
  });

  it('announced each home address on the home link, and only on a change of who answers for it: the anchor when it starts, the node when it is back', async () => {
    const dumpcap = homeLinkDumpcap!;
    dumpcap.kill('SIGINT');
    if (dumpcap.exitCode === null) await once(dumpcap, 'exit');
    const frames = readCapture(readFileSync(homeLinkCapture)).map((f) => f.data);
    const anchor = macOf(t.ns.anchor, 'a-home'), node = macOf(t.ns.mn, 'home0');
    const who = (mac: string) => (mac === anchor ? 'anchor' : mac === node ? 'node' : mac);
    const announced: Record<string, string[]> = { [a.mnHome.v4]: [], [a.mnHome.v6]: [] };
    for (const p of tshark(frames, { linktype: LINKTYPE_ETHERNET })) {
      const [source] = field(p, 'eth.src');
      if (field(p, 'arp.opcode')[0] === '1' && field(p, 'arp.src.proto_ipv4')[0] === field(p, 'arp.dst.proto_ipv4')[0]) { // a gratuitous ARP (RFC 5227 §3)
        expect({ to: field(p, 'eth.dst'), sender: field(p, 'arp.src.hw_mac'), target: field(p, 'arp.dst.hw_mac') })
          .toEqual({ to: ['ff:ff:ff:ff:ff:ff'], sender: [source], target: ['00:00:00:00:00:00'] });
        announced[field(p, 'arp.src.proto_ipv4')[0]!]?.push(who(source!));
      } else if (field(p, 'icmpv6.type')[0] === '136' && field(p, 'ipv6.dst')[0] === 'ff02::1') { // an unsolicited Neighbor Advertisement (RFC 4861 §7.2.6)
        expect({ hopLimit: field(p, 'ipv6.hlim'), flags: ['r', 's', 'o'].map((f) => field(p, `icmpv6.nd.na.flag.${f}`)[0]), linkLayer: field(p, 'icmpv6.opt.linkaddr') })
          .toEqual({ hopLimit: ['255'], flags: ['0', '0', '1'], linkLayer: [source] });
        announced[field(p, 'icmpv6.nd.na.target_address')[0]!]?.push(who(source!));
      }
    }
    const changes = (list: string[]) => list.filter((x, i) => i === 0 || x !== list[i - 1]);
    // IPv4: the anchor at the first registration (not again on the moves away), the node IPv4-wise at home, the anchor once it
    // tunnels the address to the node IPv6-wise at home, the node at home, the anchor when it leaves again
    expect(changes(announced[a.mnHome.v4]!)).toEqual(['anchor', 'node', 'anchor', 'node', 'anchor']);
    // IPv6: proxied from the first registration until the node is IPv6-wise at home (its IPv6 tunnelled to its IPv4 home address meanwhile)
    expect(changes(announced[a.mnHome.v6]!)).toEqual(['anchor', 'node', 'anchor']);
    expect(announced[a.mnHome.v4]!.filter((x) => x === 'anchor')).toHaveLength(3); // once each time it starts answering
  });
});
