/**
 * The roaming lab: one mobile node that moves between visited networks and
 * its home link, with the home agent (our daemon and data plane) in the
 * anchor's namespace and a correspondent talking to the node's home
 * addresses throughout. `make demo` and test/e2e/roaming.test.ts run here.
 *
 *   cn ── anchor ──┬── a-v6 ───────────── v6     IPv6-only visited network    2001:db8:f::/64
 *                  ├── a-v4 ───────────── v4     IPv4, public addresses       198.51.100.0/24
 *                  ├── a-nat ── nat ───── nat    IPv4 behind a masquerade NAT 10.0.0.0/24 (outside 203.0.113.0/24)
 *                  └── a-home ── home ─── home0  the home link                2001:db8:1::/64, 10.1.0.0/24
 *                               (bridge, with a home host)
 *
 * The node's interfaces (v6, v4, nat, home0) are all in its namespace; a
 * move brings the old one down and the new one up with what that network
 * hands out (addresses, default route), as its DHCP or router
 * advertisements would. On the home link the network can hand out IPv6
 * only, IPv4 only, or both: the extended home link's IPv6-only and
 * IPv4-only home links as the mobile node sees them.
 */
import { DataPlane } from '../dataplane/dataplane.js';
import { parseHomeAgentConfig, type HomeAgentConfig } from '../ha/config.js';
import { parseMobileNodeConfig, type MobileNodeConfig } from '../mn/config.js';
import { correspondentSetup, Lab, routerSysctls, sysctls } from './netns.js';

export const roamingAddr = {
  cn: { v6: '2001:db8:c::2', v4: '192.0.2.2' },
  anchorCn: { v6: '2001:db8:c::1', v4: '192.0.2.1' },
  /** The home agent's addresses, on the home link. */
  ha: { v6: '2001:db8:1::1', v4: '10.1.0.1' },
  homeHost: { v6: '2001:db8:1::2', v4: '10.1.0.2' },
  mnHome: { v6: '2001:db8:1::100', v4: '10.1.0.100' },
  natOutside: '203.0.113.2',
} as const;

export const NAT_PORT = 40000;
const KEY = '00112233445566778899aabbccddeeff00112233';

/** Where the node can be, and what each network hands out. */
export const networks = {
  v6: { ifname: 'v6', label: 'IPv6-only visited network', v6: ['2001:db8:f::2/64', '2001:db8:f::1'] },
  v4: { ifname: 'v4', label: 'IPv4 visited network, public address', v4: ['198.51.100.2/24', '198.51.100.1'] },
  nat: { ifname: 'nat', label: 'IPv4 visited network behind a NAT', v4: ['10.0.0.2/24', '10.0.0.1'] },
  home4: { ifname: 'home0', label: 'home link, IPv4 only', v4: ['10.1.0.100/24', '10.1.0.1'] },
  home6: { ifname: 'home0', label: 'home link, IPv6 only', v6: ['2001:db8:1::100/64', '2001:db8:1::1'] },
  home6other: { ifname: 'home0', label: 'home link, IPv6 only, handing out another address', v6: ['2001:db8:1::abcd/64', '2001:db8:1::1'] },
  home: { ifname: 'home0', label: 'home link, dual stack', v6: ['2001:db8:1::100/64', '2001:db8:1::1'], v4: ['10.1.0.100/24', '10.1.0.1'] },
} as const satisfies Record<string, { ifname: string; label: string; v6?: readonly [string, string]; v4?: readonly [string, string] }>;
export type NetworkName = keyof typeof networks;

export interface RoamingLab {
  lab: Lab;
  ns: { cn: string; anchor: string; home: string; nat: string; mn: string };
  anchor: DataPlane;
  mobile: DataPlane;
  haConfig: HomeAgentConfig;
  mnConfig: MobileNodeConfig;
  /** Takes the node off its current network and onto this one (addresses and routes as that network hands them out). */
  moveTo(network: NetworkName): void;
  destroy(): void;
}

export function buildRoamingLab(prefix = 'roam'): RoamingLab {
  const lab = new Lab(prefix);
  try {
    const ns = { cn: lab.ns('cn'), anchor: lab.ns('anchor'), home: lab.ns('home'), nat: lab.ns('nat'), mn: lab.ns('mn') };
    lab.link(ns.cn, 'cn0', ns.anchor, 'a-cn');
    lab.link(ns.anchor, 'a-v6', ns.mn, 'v6');
    lab.link(ns.anchor, 'a-v4', ns.mn, 'v4');
    lab.link(ns.anchor, 'a-nat', ns.nat, 'n-out');
    lab.link(ns.nat, 'n-in', ns.mn, 'nat');
    lab.link(ns.anchor, 'a-home', ns.home, 'hb-ha');
    lab.link(ns.home, 'hb-mn', ns.mn, 'home0');

    const a = roamingAddr;
    lab.exec(ns.cn, correspondentSetup(a.cn, a.anchorCn));
    lab.exec(ns.anchor, [
      routerSysctls(),
      `ip addr add ${a.anchorCn.v6}/64 dev a-cn nodad`, `ip addr add ${a.anchorCn.v4}/24 dev a-cn`,
      'ip addr add 2001:db8:f::1/64 dev a-v6 nodad', 'ip addr add 198.51.100.1/24 dev a-v4', 'ip addr add 203.0.113.1/24 dev a-nat',
      `ip addr add ${a.ha.v6}/64 dev a-home nodad`, `ip addr add ${a.ha.v4}/24 dev a-home`,
    ].join(' && '));
    lab.exec(ns.home, [
      'ip link add br0 type bridge', 'ip link set hb-ha master br0', 'ip link set hb-mn master br0', 'ip link set br0 up',
      `ip addr add ${a.homeHost.v6}/64 dev br0 nodad`, `ip addr add ${a.homeHost.v4}/24 dev br0`,
      `ip route add default via ${a.ha.v4}`, `ip -6 route add default via ${a.ha.v6}`,
      'ethtool -K hb-ha gro on >/dev/null', 'ethtool -K hb-mn gro on >/dev/null',
    ].join(' && '));
    lab.exec(ns.nat, [
      sysctls({ 'net.ipv4.ip_forward': 1 }),
      `ip addr add ${a.natOutside}/24 dev n-out`, 'ip addr add 10.0.0.1/24 dev n-in', 'ip route add default via 203.0.113.1',
      'ethtool -K n-out gro on >/dev/null', 'ethtool -K n-in gro on >/dev/null',
      'nft add table ip nat',
      "nft add chain ip nat post '{ type nat hook postrouting priority 100; }'",
      `nft add rule ip nat post oifname n-out udp sport 4191 masquerade to :${NAT_PORT}`,
      'nft add rule ip nat post oifname n-out masquerade',
    ].join(' && '));
    lab.exec(ns.mn, [
      sysctls({ 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.default.rp_filter': 0, 'net.ipv6.conf.all.accept_ra': 0, 'net.ipv6.conf.default.accept_ra': 0 }),
      ...['v6', 'v4', 'nat', 'home0'].flatMap((i) => [`ethtool -K ${i} gro on >/dev/null`, `ip link set ${i} down`]),
    ].join(' && '));

    const anchor = lab.own(DataPlane.open({ instance: `${prefix}-anchor`, role: 'anchor', icmpSource4: a.anchorCn.v4, icmpSource6: a.anchorCn.v6 }));
    lab.within(ns.anchor, () => {
      for (const ifname of ['a-cn', 'a-v6', 'a-v4', 'a-nat', 'a-home']) anchor.attach(ifname);
    });
    const mobile = lab.own(DataPlane.open({ instance: `${prefix}-mn`, role: 'mobile', icmpSource4: a.mnHome.v4, icmpSource6: a.mnHome.v6 }));

    const haConfig = parseHomeAgentConfig({
      homeLink: { interface: 'a-home', prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] },
      homeAgent: { ipv6: a.ha.v6, ipv4: a.ha.v4 },
      policy: { natRefreshTime: 20 },
      mobileNodes: [{ nai: 'mn@example.net', key: KEY, spi: 4096, homeAddress: a.mnHome.v6, ipv4HomeAddress: a.mnHome.v4 }],
    });
    const mnConfig = parseMobileNodeConfig({
      nai: 'mn@example.net', key: KEY, spi: 4096, homeAddress: a.mnHome.v6, ipv4HomeAddress: a.mnHome.v4,
      homeLink: { prefixes: ['2001:db8:1::/64', '10.1.0.0/24'] }, homeAgent: { ipv6: a.ha.v6, ipv4: a.ha.v4 },
      interfaces: ['v6', 'v4', 'nat', 'home0'], lifetime: 600,
    });

    let current: NetworkName | undefined;
    const moveTo = (network: NetworkName) => {
      const next = networks[network];
      const commands: string[] = [];
      if (current) {
        const ifname = networks[current].ifname;
        commands.push(`ip addr flush dev ${ifname} scope global`);
        if (ifname !== next.ifname) commands.push(`ip link set ${ifname} down`);
      }
      commands.push(`ip link set ${next.ifname} up`);
      if ('v6' in next) commands.push(`ip addr add ${next.v6[0]} dev ${next.ifname} nodad`, `ip -6 route replace default via ${next.v6[1]} dev ${next.ifname}`);
      if ('v4' in next) commands.push(`ip addr add ${next.v4[0]} dev ${next.ifname}`, `ip route replace default via ${next.v4[1]} dev ${next.ifname}`);
      lab.exec(ns.mn, commands.join(' && '));
      current = network;
    };

    return {
      lab, ns, anchor, mobile, haConfig, mnConfig, moveTo,
      destroy: () => lab.destroy(),
    };
  } catch (err) {
    lab.destroy();
    throw err;
  }
}
