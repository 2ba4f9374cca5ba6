/**
 * A deterministic place to run the data plane's programs with
 * BPF_PROG_TEST_RUN: network namespaces whose interfaces, addresses, routes
 * and PERMANENT neighbour entries (fixed MACs) are all set here, so every
 * bpf_fib_lookup the programs make has one known answer.
 *
 *   <prefix>-anchor                               <prefix>-mn (mobile node / router)
 *   a-cn  2001:db8:c::1 192.0.2.1  ── cn0 (wire)    m0    2001:db8:f::2 198.51.100.2
 *   a-mn  2001:db8:f::1 198.51.100.1 ───────────────┘     mip0 (home addresses) ── mip0p
 *         203.0.113.0/24 via 198.51.100.254 (NAT)         m-lan 2001:db8:100:1::1 10.200.1.1 ── lan0 (wire)
 *
 * The anchor instance (role anchor) and the mobile instance (role mobile)
 * are not attached anywhere: tests run them on frames with ingressIfindex
 * naming an interface of their namespace, with this thread inside it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlane, PIN_ROOT, type Binding } from '../../control/dataplane/dataplane.js';
import { ifIndex } from '../../control/sys/libc.js';
import { Lab } from './netns.js';

export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

export const MAC = {
  aCn: '02:a0:00:00:0c:01', cn: '02:c0:00:00:0c:02',
  aMn: '02:a0:00:00:0f:01', mn: '02:b0:00:00:0f:02', mn2: '02:b0:00:00:0f:03', gw: '02:e0:00:00:0f:fe',
  mip: '02:b0:00:00:01:fe', mipPeer: '02:b0:00:00:01:ff', mLan: '02:b0:00:00:10:01', lanHost: '02:d0:00:00:10:05',
} as const;

export const ADDR = {
  cn: { v6: '2001:db8:c::2', v4: '192.0.2.2' },
  anchorCn: { v6: '2001:db8:c::1', v4: '192.0.2.1' },
  anchor: { v6: '2001:db8:f::1', v4: '198.51.100.1' }, // the anchor's tunnel endpoint
  careOf: { v6: '2001:db8:f::2', v4: '198.51.100.2' }, // mobile node 1, on the visited link
  careOf2: { v6: '2001:db8:f::3', v4: '198.51.100.3' }, // mobile node 2, on the visited link
  gateway: { v4: '198.51.100.254' },
  nat: { v4: '203.0.113.2' }, // a NAT beyond the gateway
  home1: { v6: '2001:db8:1::100', v4: '10.1.0.100' },
  home2: { v6: '2001:db8:1::200', v4: '10.1.0.200' },
  lanHost: { v6: '2001:db8:100:1::5', v4: '10.200.1.5' }, // behind the mobile router
} as const;

export const DSMIP_PORT = 4191;
export const NAT_PORT = 40000;

export interface Counters {
  drops: Record<string, number>;
  events: Record<string, number>;
  bindings: Record<number, Partial<Record<'encapPackets' | 'encapBytes' | 'decapPackets' | 'decapBytes', number>>>;
}

export interface RunResult {
  verdict: number;
  frame: Buffer;
  /** What the run changed: only counters that moved. */
  delta: Counters;
}

export interface DataPlaneLab {
  lab: Lab;
  ns: { anchor: string; mn: string; wire: string };
  anchor: DataPlane;
  mobile: DataPlane;
  /** Interface index of ifname in the namespace of dp. */
  ifindex(dp: DataPlane, ifname: string): number;
  /** Runs dp's XDP program on frame as if it came in on ifname. */
  xdp(dp: DataPlane, ifname: string, frame: Buffer, bindings?: readonly number[]): RunResult;
  /** Runs a TC program (egress by default) on frame, inside dp's namespace. */
  tc(dp: DataPlane, frame: Buffer, bindings?: readonly number[], prog?: 'tc' | 'tc-ingress', ifname?: string): RunResult;
  /** Runs fn inside dp's namespace. */
  within<T>(dp: DataPlane, fn: () => T): T;
  /** Runs a shell command in a namespace of the lab. */
  exec(ns: string, command: string): string;
  destroy(): void;
}

const sysctls = 'sysctl -qw net.ipv4.ip_forward=1 && sysctl -qw net.ipv6.conf.all.forwarding=1 && sysctl -qw net.ipv4.conf.all.rp_filter=0';

export function buildDataPlaneLab(prefix: string): DataPlaneLab {
  const lab = new Lab(prefix);
  const instances: DataPlane[] = [];
  try {
    const ns = { anchor: lab.ns('anchor'), mn: lab.ns('mn'), wire: lab.ns('wire') };
    lab.exec(ns.anchor, sysctls);
    lab.exec(ns.mn, sysctls);

    lab.link(ns.anchor, 'a-cn', ns.wire, 'cn0', [MAC.aCn, MAC.cn]);
    lab.link(ns.anchor, 'a-mn', ns.mn, 'm0', [MAC.aMn, MAC.mn]);
    lab.link(ns.mn, 'mip0', ns.mn, 'mip0p', [MAC.mip, MAC.mipPeer]);
    lab.link(ns.mn, 'm-lan', ns.wire, 'lan0', [MAC.mLan, MAC.lanHost]);

    const neigh = (addr: string, mac: string, dev: string) => `ip neigh replace ${addr} lladdr ${mac} dev ${dev} nud permanent`;
    lab.exec(ns.anchor, [
      `ip addr add ${ADDR.anchorCn.v6}/64 dev a-cn nodad`, `ip addr add ${ADDR.anchorCn.v4}/24 dev a-cn`,
      `ip addr add ${ADDR.anchor.v6}/64 dev a-mn nodad`, `ip addr add ${ADDR.anchor.v4}/24 dev a-mn`,
      `ip route add 203.0.113.0/24 via ${ADDR.gateway.v4} dev a-mn`,
      neigh(ADDR.cn.v6, MAC.cn, 'a-cn'), neigh(ADDR.cn.v4, MAC.cn, 'a-cn'),
      neigh(ADDR.careOf.v6, MAC.mn, 'a-mn'), neigh(ADDR.careOf.v4, MAC.mn, 'a-mn'),
      neigh(ADDR.careOf2.v6, MAC.mn2, 'a-mn'), neigh(ADDR.careOf2.v4, MAC.mn2, 'a-mn'),
      neigh(ADDR.gateway.v4, MAC.gw, 'a-mn'),
    ].join(' && '));
    lab.exec(ns.mn, [
      `ip addr add ${ADDR.careOf.v6}/64 dev m0 nodad`, `ip addr add ${ADDR.careOf.v4}/24 dev m0`,
      `ip addr add ${ADDR.home1.v6}/128 dev mip0 nodad`, `ip addr add ${ADDR.home1.v4}/32 dev mip0`,
      'ip addr add 2001:db8:100:1::1/64 dev m-lan nodad', 'ip addr add 10.200.1.1/24 dev m-lan',
      neigh(ADDR.anchor.v6, MAC.aMn, 'm0'), neigh(ADDR.anchor.v4, MAC.aMn, 'm0'),
      neigh(ADDR.lanHost.v6, MAC.lanHost, 'm-lan'), neigh(ADDR.lanHost.v4, MAC.lanHost, 'm-lan'),
    ].join(' && '));

    const open = (name: string, role: 'anchor' | 'mobile', icmp: { v4: string; v6: string }) => {
      const instance = `${prefix}-${name}`;
      rmSync(join(PIN_ROOT, instance), { recursive: true, force: true }); // a crashed earlier run's pins
      // ANCHOR_OBJECT runs the tests against another build of bpf/anchor.c (e.g. an older one)
      const object = process.env.ANCHOR_OBJECT ? { objectPath: process.env.ANCHOR_OBJECT } : {};
      const dp = DataPlane.open({ instance, role, icmpSource4: icmp.v4, icmpSource6: icmp.v6, ...object });
      instances.push(dp);
      return dp;
    };
    const anchor = open('anchor', 'anchor', ADDR.anchorCn);
    anchor.addEndpoint(ADDR.anchor.v6, 0, ['decap', 'mh']);
    anchor.addEndpoint(ADDR.anchor.v4, 0, ['decap', 'mh']);
    anchor.addEndpoint(ADDR.anchor.v4, DSMIP_PORT, ['decap', 'mh']);
    const mobile = open('mobile', 'mobile', ADDR.home1);
    mobile.addEndpoint(ADDR.careOf.v6, 0, ['decap', 'mh']);
    mobile.addEndpoint(ADDR.careOf.v4, 0, ['decap']);
    mobile.addEndpoint(ADDR.careOf.v4, DSMIP_PORT, ['decap', 'mh']);

    const nsOf = (dp: DataPlane) => (dp === anchor ? ns.anchor : dp === mobile ? ns.mn : (() => { throw new Error('not a lab instance'); })());
    const within = <T>(dp: DataPlane, fn: () => T): T => lab.within(nsOf(dp), fn);
    const ifindex = (dp: DataPlane, ifname: string) => within(dp, () => ifIndex(ifname));
    const measured = (dp: DataPlane, bindings: readonly number[], run: () => { verdict: number; frame: Buffer }): RunResult => {
      const before = counters(dp, bindings);
      const r = within(dp, run);
      return { verdict: r.verdict, frame: Buffer.from(r.frame), delta: diff(before, counters(dp, bindings)) };
    };

    return {
      lab, ns, anchor, mobile, ifindex, within,
      xdp: (dp, ifname, frame, bindings = []) =>
        measured(dp, bindings, () => dp.testRun('xdp', frame, { ingressIfindex: ifIndex(ifname) })),
      tc: (dp, frame, bindings = [], prog = 'tc', ifname) => measured(dp, bindings, () => dp.testRun(prog, frame, ifname ? { ifindex: ifIndex(ifname) } : {})),
      exec: (namespace, command) => lab.exec(namespace, command),
      destroy() {
        for (const dp of instances.splice(0)) {
          try { dp.destroy(); } catch { /* keep tearing down */ }
        }
        lab.destroy();
      },
    };
  } catch (err) {
    for (const dp of instances) dp.destroy();
    lab.destroy();
    throw err;
  }
}

/** Every counter of dp, and those of the given bindings. */
export function counters(dp: DataPlane, bindings: readonly number[] = []): Counters {
  const num = (r: Record<string, bigint>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
  return {
    drops: num(dp.drops()),
    events: num(dp.events()),
    bindings: Object.fromEntries(bindings.map((id) => [id, num(dp.bindingCounters(id) as unknown as Record<string, bigint>)])),
  };
}

/** after - before, keeping only what changed. */
export function diff(before: Counters, after: Counters): Counters {
  const d = (a: Record<string, number>, b: Record<string, number> = {}) =>
    Object.fromEntries(Object.entries(a).filter(([k, v]) => v !== (b[k] ?? 0)).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  const bindings: Counters['bindings'] = {};
  for (const [id, c] of Object.entries(after.bindings)) {
    const changed = d(c as Record<string, number>, before.bindings[Number(id)] as Record<string, number>);
    if (Object.keys(changed).length) bindings[Number(id)] = changed;
  }
  return { drops: d(after.drops, before.drops), events: d(after.events, before.events), bindings };
}

/** The expected delta of a run, with empty parts filled in. */
export function changed(d: Partial<Counters>): Counters {
  return { drops: {}, events: {}, bindings: {}, ...d };
}

/* ---- bindings used across the tests ---- */

/** Binding 1's tunnel, at the anchor, in each format (udp forms cross the NAT). */
export function anchorTunnel(format: 'ip6' | 'ip4' | 'udp4' | 'udp4-tlv', mtu?: number): Binding['tunnel'] {
  const m = mtu ? { mtu } : {};
  switch (format) {
    case 'ip6': return { format, local: ADDR.anchor.v6, remote: ADDR.careOf.v6, ...m };
    case 'ip4': return { format, local: ADDR.anchor.v4, remote: ADDR.careOf.v4, ...m };
    default: return { format, local: ADDR.anchor.v4, remote: ADDR.nat.v4, localPort: DSMIP_PORT, remotePort: NAT_PORT, ...m };
  }
}

/** Binding 1's tunnel at the mobile node (no NAT on this side: it talks to the anchor directly). */
export function mobileTunnel(format: 'ip6' | 'ip4' | 'udp4' | 'udp4-tlv'): Binding['tunnel'] {
  switch (format) {
    case 'ip6': return { format, local: ADDR.careOf.v6, remote: ADDR.anchor.v6 };
    case 'ip4': return { format, local: ADDR.careOf.v4, remote: ADDR.anchor.v4 };
    default: return { format, local: ADDR.careOf.v4, remote: ADDR.anchor.v4, localPort: DSMIP_PORT, remotePort: DSMIP_PORT };
  }
}

export const hex = (b: Buffer): string => b.toString('hex');

/** One of the frames scapy built for a test, by name (a misspelt name fails loudly). */
export function named(frames: Record<string, Buffer>, name: string): Buffer {
  const b = frames[name];
  if (!b) throw new Error(`no frame ${name}`);
  return b;
}
