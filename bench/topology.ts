/**
 * Three namespaces in a line, with fixed addresses, MACs and permanent
 * neighbours (so every FIB lookup resolves and nothing waits for ND/ARP):
 *
 *   gen ─ bench-g ══ bench-in ─ anchor ─ bench-out ══ bench-s ─ sink
 *         2001:db8:a::2    ::1          2001:db8:b::1     ::2
 *         10.10.0.2        .1           10.20.0.1         .2
 *
 * Home addresses (2001:db8:1::N, 10.1.0.N) are routed from the anchor to the
 * sink; with a binding, the anchor tunnels them to the sink's address
 * instead (the sink plays the care-of address).
 */
import { Lab } from '../control/lab/netns.js';
import { ifIndex } from '../control/sys/libc.js';

export const addr = {
  gen: { v6: '2001:db8:a::2', v4: '10.10.0.2' },
  anchorIn: { v6: '2001:db8:a::1', v4: '10.10.0.1' },
  anchorOut: { v6: '2001:db8:b::1', v4: '10.20.0.1' },
  sink: { v6: '2001:db8:b::2', v4: '10.20.0.2' },
  /** An address of no binding, routed like the home addresses. */
  stranger: { v6: '2001:db8:1::ffff', v4: '10.1.0.255' },
} as const;

export const mac = {
  gen: '02:00:00:00:0a:02',
  anchorIn: '02:00:00:00:0a:01',
  anchorOut: '02:00:00:00:0b:01',
  sink: '02:00:00:00:0b:02',
} as const;

export const ifname = { gen: 'bench-g', anchorIn: 'bench-in', anchorOut: 'bench-out', sink: 'bench-s' } as const;

export const homeAddress = (n: number) => ({ v6: `2001:db8:1::${n}`, v4: `10.1.0.${n}` });

export interface Topology {
  lab: Lab;
  ns: { gen: string; anchor: string; sink: string };
  ifindex: { gen: number; anchorIn: number; anchorOut: number; sink: number };
}

export function buildTopology(prefix: string): Topology {
  const lab = new Lab(prefix);
  try {
    const ns = { gen: lab.ns('gen'), anchor: lab.ns('anchor'), sink: lab.ns('sink') };
    const { gen, anchorIn, anchorOut, sink } = ifname;
    lab.link(ns.gen, gen, ns.anchor, anchorIn, [mac.gen, mac.anchorIn]);
    lab.link(ns.anchor, anchorOut, ns.sink, sink, [mac.anchorOut, mac.sink]);
    lab.exec(ns.gen, `ip addr add ${addr.gen.v6}/64 dev ${gen} nodad && ip addr add ${addr.gen.v4}/24 dev ${gen}`);
    lab.exec(ns.anchor, [
      'sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0',
      `ip addr add ${addr.anchorIn.v6}/64 dev ${anchorIn} nodad`, `ip addr add ${addr.anchorIn.v4}/24 dev ${anchorIn}`,
      `ip addr add ${addr.anchorOut.v6}/64 dev ${anchorOut} nodad`, `ip addr add ${addr.anchorOut.v4}/24 dev ${anchorOut}`,
      `ip -6 route add 2001:db8:1::/64 via ${addr.sink.v6}`, `ip route add 10.1.0.0/24 via ${addr.sink.v4}`,
      `ip neigh replace ${addr.sink.v6} lladdr ${mac.sink} dev ${anchorOut} nud permanent`,
      `ip neigh replace ${addr.sink.v4} lladdr ${mac.sink} dev ${anchorOut} nud permanent`,
      `ip neigh replace ${addr.gen.v6} lladdr ${mac.gen} dev ${anchorIn} nud permanent`,
      `ip neigh replace ${addr.gen.v4} lladdr ${mac.gen} dev ${anchorIn} nud permanent`,
      // XDP_REDIRECT into a veth needs an XDP program or GRO on the peer, and
      // the kernel-forwarding run has no XDP program there. UDP is not
      // coalesced (no UDP GRO forwarding), so packets stay packets.
      `ethtool -K ${anchorIn} gro on >/dev/null`,
    ].join(' && '));
    lab.exec(ns.sink, `ip addr add ${addr.sink.v6}/64 dev ${sink} nodad && ip addr add ${addr.sink.v4}/24 dev ${sink}`);
    const ifindex = {
      gen: lab.within(ns.gen, () => ifIndex(gen)),
      anchorIn: lab.within(ns.anchor, () => ifIndex(anchorIn)),
      anchorOut: lab.within(ns.anchor, () => ifIndex(anchorOut)),
      sink: lab.within(ns.sink, () => ifIndex(sink)),
    };
    return { lab, ns, ifindex };
  } catch (err) {
    lab.destroy();
    throw err;
  }
}
