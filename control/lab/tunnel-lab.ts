/**
 * The tunnel lab: a correspondent, the anchor, and two mobile nodes (one on
 * a visited link with public IPv4 and IPv6 addresses, one behind an
 * nftables masquerade NAT), each mobile node running the same data plane in
 * the mobile role. `make demo` and the end-to-end tests run traffic here.
 *
 *   cn ──── anchor ──── mn                     (visited: 2001:db8:f::/64, 198.51.100.0/24)
 *   192.0.2.2 │  ╰───── nat ──── mnn            (NAT: 203.0.113.0/24 outside, 10.0.0.0/24 inside)
 *   2001:db8:c::2
 *             ╰── home (home link: 2001:db8:1::/64, 10.1.0.0/24)
 *
 * A mobile node keeps its home addresses on `mip0`, one end of a veth pair
 * whose other end (`mip0p`) carries the mobile-role XDP program: what the
 * host sends from a home address is encapsulated there, and the kernel sees
 * an ordinary interface with an ordinary MTU.
 */
import { DataPlane, type Binding, type Tunnel } from '../dataplane/dataplane.js';
import type { TunnelFormatName } from '../dataplane/layout.js';
import { correspondentSetup, Lab, routerSysctls, sysctls } from './netns.js';

export const addr = {
  cn: { v6: '2001:db8:c::2', v4: '192.0.2.2' },
  anchorCn: { v6: '2001:db8:c::1', v4: '192.0.2.1' },
  anchorVisited: { v6: '2001:db8:f::1', v4: '198.51.100.1' },
  anchorNat: { v4: '203.0.113.1' },
  anchorHome: { v6: '2001:db8:1::1', v4: '10.1.0.1' },
  mnCareOf: { v6: '2001:db8:f::2', v4: '198.51.100.2' },
  mnHome: { v6: '2001:db8:1::100', v4: '10.1.0.100' },
  natOutside: { v4: '203.0.113.2' },
  natInside: { v4: '10.0.0.1' },
  mnnCareOf: { v4: '10.0.0.2' },
  mnnHome: { v6: '2001:db8:1::200', v4: '10.1.0.200' },
} as const;

export const DSMIP_PORT = 4191;
/** The NAT maps the mobile node's UDP source port to this one. */
export const NAT_PORT = 40000;
const MOBILE_MTU = 1460; // room for the largest tunnel header (IPv6, 40 bytes)

export interface MobileNode {
  name: 'mn' | 'mnn';
  ns: string;
  dataPlane: DataPlane;
  home: { v6: string; v4: string };
  careOf: { v6?: string; v4: string };
  /** Binding id at the anchor and at the mobile node. */
  bindingId: number;
}

export interface TunnelLab {
  lab: Lab;
  ns: { cn: string; anchor: string; home: string; nat: string };
  anchor: DataPlane;
  mn: MobileNode;
  mnn: MobileNode;
  /** Puts a mobile node's binding, in this format, on both ends of its tunnel. */
  useFormat(node: MobileNode, format: TunnelFormatName): void;
  destroy(): void;
}

export function buildTunnelLab(prefix = 'ma'): TunnelLab {
  const lab = new Lab(prefix);
  try {
    const ns = { cn: lab.ns('cn'), anchor: lab.ns('anchor'), home: lab.ns('home'), nat: lab.ns('nat') };
    const mnNs = lab.ns('mn');
    const mnnNs = lab.ns('mnn');

    lab.link(ns.cn, 'cn0', ns.anchor, 'a-cn');
    lab.link(ns.anchor, 'a-home', ns.home, 'h0');
    lab.link(ns.anchor, 'a-mn', mnNs, 'm0');
    lab.link(ns.anchor, 'a-nat', ns.nat, 'n-out');
    lab.link(ns.nat, 'n-in', mnnNs, 'm0');

    lab.exec(ns.cn, correspondentSetup(addr.cn, addr.anchorCn));
    lab.exec(ns.anchor, [
      routerSysctls(),
      `ip addr add ${addr.anchorCn.v6}/64 dev a-cn nodad`, `ip addr add ${addr.anchorCn.v4}/24 dev a-cn`,
      `ip addr add ${addr.anchorVisited.v6}/64 dev a-mn nodad`, `ip addr add ${addr.anchorVisited.v4}/24 dev a-mn`,
      `ip addr add ${addr.anchorNat.v4}/24 dev a-nat`,
      `ip addr add ${addr.anchorHome.v6}/64 dev a-home nodad`, `ip addr add ${addr.anchorHome.v4}/24 dev a-home`,
    ].join(' && '));
    lab.exec(ns.nat, [
      sysctls({ 'net.ipv4.ip_forward': 1 }),
      `ip addr add ${addr.natOutside.v4}/24 dev n-out`, `ip addr add ${addr.natInside.v4}/24 dev n-in`,
      'ethtool -K n-out gro on >/dev/null', 'ethtool -K n-in gro on >/dev/null',
      'nft add table ip nat',
      "nft add chain ip nat post '{ type nat hook postrouting priority 100; }'",
      `nft add rule ip nat post oifname n-out udp sport ${DSMIP_PORT} masquerade to :${NAT_PORT}`,
      'nft add rule ip nat post oifname n-out masquerade',
    ].join(' && '));

    const anchor = lab.own(DataPlane.open({ instance: `${prefix}-anchor`, role: 'anchor', icmpSource4: addr.anchorCn.v4, icmpSource6: addr.anchorCn.v6 }));
    lab.within(ns.anchor, () => {
      for (const ifname of ['a-cn', 'a-mn', 'a-nat', 'a-home']) anchor.attach(ifname);
      anchor.attachTcEgress('a-home');
    });
    for (const a of [addr.anchorVisited.v6, addr.anchorVisited.v4, addr.anchorNat.v4]) anchor.addEndpoint(a, 0, ['decap', 'mh']);
    for (const a of [addr.anchorVisited.v4, addr.anchorNat.v4]) anchor.addEndpoint(a, DSMIP_PORT, ['decap', 'mh']);

    const mn = mobileNode(lab, 'mn', mnNs, 1, addr.mnHome, { v6: addr.mnCareOf.v6, v4: addr.mnCareOf.v4 }, [
      `ip addr add ${addr.mnCareOf.v6}/64 dev m0 nodad`, `ip addr add ${addr.mnCareOf.v4}/24 dev m0`,
    ]);
    const mnn = mobileNode(lab, 'mnn', mnnNs, 2, addr.mnnHome, { v4: addr.mnnCareOf.v4 }, [
      `ip addr add ${addr.mnnCareOf.v4}/24 dev m0`, `ip route add ${addr.anchorNat.v4}/32 via ${addr.natInside.v4} dev m0`,
    ]);

    const useFormat = (node: MobileNode, format: TunnelFormatName) => {
      const { anchorSide, mobileSide } = tunnelsFor(node, format);
      anchor.install({ id: node.bindingId, tunnel: anchorSide, homeAddresses: [node.home.v6, node.home.v4], prefixes: [] });
      node.dataPlane.install({ id: node.bindingId, tunnel: mobileSide, homeAddresses: [node.home.v6, node.home.v4], prefixes: [] });
      // The anchor's own packets to a home address leave by the home link, where TC egress tunnels them.
      lab.exec(ns.anchor, [
        `ip neigh replace ${node.home.v6} lladdr 02:00:00:00:00:01 dev a-home nud permanent`,
        `ip neigh replace ${node.home.v4} lladdr 02:00:00:00:00:01 dev a-home nud permanent`,
      ].join(' && '));
    };

    return {
      lab, ns, anchor, mn, mnn, useFormat,
      destroy: () => lab.destroy(),
    };
  } catch (err) {
    lab.destroy();
    throw err;
  }
}

function mobileNode(lab: Lab, name: 'mn' | 'mnn', ns: string, bindingId: number,
  home: { v6: string; v4: string }, careOf: { v6?: string; v4: string }, visitedSetup: string[]): MobileNode {
  // mip0 and mip0p share a MAC so frames the data plane hands back to the kernel are addressed to it
  lab.link(ns, 'mip0', ns, 'mip0p', ['02:00:00:00:00:fe', '02:00:00:00:00:fe']);
  lab.exec(ns, [
    sysctls({ 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0, 'net.ipv4.conf.all.forwarding': 1, 'net.ipv6.conf.all.forwarding': 1 }),
    ...visitedSetup,
    `ip link set mip0 arp off mtu ${MOBILE_MTU}`,
    `ip addr add ${home.v6}/128 dev mip0 nodad`, `ip addr add ${home.v4}/32 dev mip0`,
    `ip route add default dev mip0 src ${home.v4}`, `ip -6 route add default dev mip0 src ${home.v6}`,
  ].join(' && '));
  const dataPlane = lab.own(DataPlane.open({ instance: `${lab.prefix}-${name}`, role: 'mobile', icmpSource4: home.v4, icmpSource6: home.v6 }));
  lab.within(ns, () => {
    dataPlane.attach('m0');
    dataPlane.attach('mip0p');
  });
  if (careOf.v6) dataPlane.addEndpoint(careOf.v6, 0, ['decap', 'mh']);
  dataPlane.addEndpoint(careOf.v4, 0, ['decap']);
  dataPlane.addEndpoint(careOf.v4, DSMIP_PORT, ['decap', 'mh']);
  return { name, ns, dataPlane, home, careOf, bindingId };
}

/** Both ends of a mobile node's tunnel in a format (the anchor sees the NAT's address and port). */
function tunnelsFor(node: MobileNode, format: TunnelFormatName): { anchorSide: Tunnel; mobileSide: Tunnel } {
  const behindNat = node.name === 'mnn';
  if (format === 'ip6') {
    if (!node.careOf.v6) throw new Error(`${node.name} has no IPv6 care-of address`);
    return {
      anchorSide: { format, local: addr.anchorVisited.v6, remote: node.careOf.v6 },
      mobileSide: { format, local: node.careOf.v6, remote: addr.anchorVisited.v6 },
    };
  }
  const anchorV4 = behindNat ? addr.anchorNat.v4 : addr.anchorVisited.v4;
  const seenFrom = behindNat ? addr.natOutside.v4 : node.careOf.v4;
  if (format === 'ip4') {
    if (behindNat) throw new Error('IP-in-IP does not cross the NAT: use a UDP format');
    return {
      anchorSide: { format, local: anchorV4, remote: seenFrom },
      mobileSide: { format, local: node.careOf.v4, remote: anchorV4 },
    };
  }
  return {
    anchorSide: { format, local: anchorV4, remote: seenFrom, localPort: DSMIP_PORT, remotePort: behindNat ? NAT_PORT : DSMIP_PORT },
    mobileSide: { format, local: node.careOf.v4, remote: anchorV4, localPort: DSMIP_PORT, remotePort: DSMIP_PORT },
  };
}

export type { Binding };
