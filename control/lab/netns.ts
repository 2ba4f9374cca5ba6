/**
 * Hosts for the lab and the tests: network namespaces joined by veth pairs.
 * Everything a Lab creates is removed by destroy(), which callers run in a
 * finally block, so a failure leaves nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inNetns } from '../sys/libc.js';

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `sysctl -w` for each pair, as one shell command. */
export const sysctls = (pairs: Record<string, string | number>): string =>
  Object.entries(pairs).map(([k, v]) => `sysctl -qw ${k}=${v}`).join(' && ');

type Dual = { v6: string; v4: string };

/** The correspondent's side of both labs: its addresses on cn0 and default routes through the anchor. */
export function correspondentSetup(cn: Dual, anchor: Dual): string {
  return [
    `ip addr add ${cn.v6}/64 dev cn0 nodad`, `ip addr add ${cn.v4}/24 dev cn0`,
    `ip route add default via ${anchor.v4}`, `ip -6 route add default via ${anchor.v6}`,
    'ethtool -K cn0 gro on >/dev/null', // XDP_REDIRECT into a veth needs GRO (or XDP) on the peer
  ].join(' && ');
}

/** The anchor forwards (and lets decapsulated home-address sources through). */
export const routerSysctls = (): string => sysctls({ 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1, 'net.ipv4.conf.all.rp_filter': 0 });

export class Lab {
  readonly namespaces: string[] = [];
  private readonly owned: { destroy(): void }[] = [];

  constructor(readonly prefix: string) {}

  /** Creates a namespace named prefix-name, with lo up. Returns its full name. */
  ns(name: string): string {
    const full = `${this.prefix}-${name}`;
    if (existsSync(`/run/netns/${full}`)) sh('ip', ['netns', 'del', full]);
    sh('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    this.exec(full, 'ip link set lo up');
    return full;
  }

  /** Runs a shell command inside namespace ns; returns its standard output. */
  exec(ns: string, command: string): string {
    return sh('ip', ['netns', 'exec', ns, 'sh', '-c', command]);
  }

  /**
   * Joins two namespaces with a veth pair (ifA in nsA, ifB in nsB), both up;
   * fixed MACs if given. Checksum offload is off, so that like a real wire
   * the link carries finished checksums: a veth would otherwise hand XDP
   * packets whose checksum the sender left for "the hardware" to fill in.
   */
  link(nsA: string, ifA: string, nsB: string, ifB: string, macs?: [string, string]): void {
    sh('ip', ['link', 'add', ifA, 'netns', nsA, ...(macs ? ['address', macs[0]] : []),
      'type', 'veth', 'peer', ifB, 'netns', nsB, ...(macs ? ['address', macs[1]] : [])]);
    this.exec(nsA, `ethtool -K ${ifA} tx off >/dev/null && ip link set ${ifA} up`);
    this.exec(nsB, `ethtool -K ${ifB} tx off >/dev/null && ip link set ${ifB} up`);
  }

  /** Runs fn with this thread inside namespace ns (the host's bpffs stays visible). */
  within<T>(ns: string, fn: () => T): T {
    return inNetns(`/run/netns/${ns}`, fn);
  }

  /** Something that lives in the lab (a data plane instance, say): destroyed with it, first. */
  own<T extends { destroy(): void }>(thing: T): T {
    this.owned.push(thing);
    return thing;
  }

  destroy(): void {
    for (const thing of this.owned.splice(0).reverse()) {
      try { thing.destroy(); } catch { /* keep tearing down */ }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    }
  }
}
